using System.Globalization;

namespace Ebpf.Cli.Commands.Runtime;

/// <summary>
/// bpftool-style positional words (`id 5`, `pinned /sys/fs/bpf/x`, `key hex 01 02`), read left to
/// right by hand, as bpftool's NEXT_ARG/REQ_ARGS do. Errors are usage errors naming the word.
/// </summary>
internal sealed class WordReader(IReadOnlyList<string> words)
{
    private int _index;

    public bool AtEnd => _index >= words.Count;
    public string? Peek => AtEnd ? null : words[_index];

    public string Next(string what)
    {
        if (AtEnd)
            throw new CliUsageException($"expected {what}");
        return words[_index++];
    }

    public bool TryTake(string keyword)
    {
        if (!AtEnd && words[_index] == keyword)
        {
            _index++;
            return true;
        }
        return false;
    }

    public void Expect(string keyword)
    {
        string got = Next($"'{keyword}'");
        if (got != keyword)
            throw new CliUsageException($"expected '{keyword}', got '{got}'");
    }

    public void EnsureEnd()
    {
        if (!AtEnd)
            throw new CliUsageException($"unexpected argument '{words[_index]}'");
    }

    /// <summary>Words up to (not including) the next of <paramref name="stopWords"/> or the end.</summary>
    public IReadOnlyList<string> TakeUntil(params string[] stopWords)
    {
        var taken = new List<string>();
        while (!AtEnd && Array.IndexOf(stopWords, words[_index]) < 0)
            taken.Add(words[_index++]);
        return taken;
    }

    public uint NextUInt(string what) => ParseUInt(Next(what), what);

    /// <summary>strtoul(…, 0) as bpftool uses it: 0x… hex, 0… octal, else decimal.</summary>
    public static uint ParseUInt(string text, string what)
    {
        if (TryParseC(text, out ulong v) && v <= uint.MaxValue)
            return (uint)v;
        throw new CliUsageException($"can't parse {what} '{text}'");
    }

    public static bool TryParseC(string text, out ulong value)
    {
        value = 0;
        if (text.Length == 0)
            return false;
        if (text.StartsWith("0x", StringComparison.OrdinalIgnoreCase))
            return text.Length > 2 && ulong.TryParse(text.AsSpan(2), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out value);
        if (text.Length > 1 && text[0] == '0')
        {
            foreach (char c in text[1..])
            {
                if (c is < '0' or > '7') return false;
                value = value * 8 + (ulong)(c - '0');
            }
            return true;
        }
        return ulong.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out value);
    }
}
