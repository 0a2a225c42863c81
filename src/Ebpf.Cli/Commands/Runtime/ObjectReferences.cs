namespace Ebpf.Cli.Commands.Runtime;

/// <summary>How a command names an object: `id N`, `pinned PATH`, `name NAME` (maps), `tag TAG` (programs).</summary>
internal sealed record ObjectRef(string Kind, string Value)
{
    public static ObjectRef Parse(WordReader words, bool allowName)
    {
        string kind = words.Next("id, pinned" + (allowName ? " or name" : ""));
        switch (kind)
        {
            case "id":
                WordReader.ParseUInt(words.Peek ?? "", "id");
                return new ObjectRef("id", words.Next("id"));
            case "pinned":
                return new ObjectRef("pinned", words.Next("path"));
            case "name" when allowName:
            case "tag":
                return new ObjectRef(kind, words.Next(kind));
            default:
                throw new CliUsageException($"expected 'id', 'pinned'{(allowName ? ", 'name'" : "")}, got '{kind}'");
        }
    }

    public static bool StartsReference(string? word) => word is "id" or "pinned" or "name" or "tag";
}

/// <summary>Raw byte words after `key`/`value` (resolved against the map's sizes at execution).</summary>
internal sealed record ByteWords(IReadOnlyList<string> Words)
{
    /// <summary>
    /// bpftool's parse_bytes: `hex` switches to base 16 for the rest; otherwise each word is a C
    /// integer (0x.., 0.., decimal) ≤ 255. Exactly <paramref name="size"/> bytes are required.
    /// </summary>
    public byte[] Resolve(int size, string what)
    {
        var words = Words;
        bool hex = words.Count > 0 && words[0] == "hex";
        if (hex)
            words = words.Skip(1).ToArray();
        var result = new List<byte>();
        foreach (var w in words)
        {
            ulong v;
            bool ok = hex
                ? ulong.TryParse(w.StartsWith("0x", StringComparison.OrdinalIgnoreCase) ? w[2..] : w, System.Globalization.NumberStyles.AllowHexSpecifier, null, out v)
                : WordReader.TryParseC(w, out v);
            if (!ok || v > 255)
                throw new CliUsageException($"error parsing byte: {w}");
            result.Add((byte)v);
        }
        if (result.Count != size)
            throw new CliUsageException($"{what} expected {size} bytes got {result.Count}");
        return result.ToArray();
    }
}
