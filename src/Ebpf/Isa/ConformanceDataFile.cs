using System.Globalization;

namespace Ebpf.Isa;

/// <summary>
/// One bpf_conformance test (<c>*.data</c>): a program (<c>-- asm</c> assembled with <see cref="Assembler"/>,
/// or <c>-- raw</c> little-endian u64 slots, which win when both are present, as in bpf_conformance),
/// the input memory (<c>-- mem</c>, hex bytes), the expected r0 (<c>-- result</c>) or the expected error
/// (<c>-- error</c>). The sections <c>-- c</c> and <c>-- no register offset</c> are documentation and are skipped.
/// Malformed files throw <see cref="BpfException"/> (EINVAL) naming the file and line.
/// </summary>
public sealed record ConformanceDataFile(
    string Path,
    Instruction[] Instructions,
    byte[] Memory,
    ulong? ExpectedResult,
    string? ExpectedError,
    string? Assembly)
{
    /// <summary>The file name without directory and extension (the test's name in bpf_conformance output).</summary>
    public string Name => System.IO.Path.GetFileNameWithoutExtension(Path);

    /// <summary>Reads and parses the bpf_conformance test at <paramref name="path"/>.</summary>
    public static ConformanceDataFile Load(string path)
    {
        string text;
        try
        {
            text = File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new BpfException(Errno.ENOENT, $"{path}: cannot read conformance test: {e.Message}", e);
        }
        return Parse(text, path);
    }

    private enum Section { None, Asm, Raw, Mem, Result, Error, Ignored }

    /// <summary>
    /// Parses bpf_conformance test text (<c>-- asm</c>, <c>-- mem</c>, <c>-- result</c>, <c>-- error</c> sections);
    /// <paramref name="path"/> names it in errors.
    /// </summary>
    public static ConformanceDataFile Parse(string text, string path)
    {
        ArgumentNullException.ThrowIfNull(text);
        string[] lines = text.Split('\n');
        // The asm text keeps its line positions (other lines blanked) so assembler errors name file lines.
        var asm = new string[lines.Length];
        bool hasAsm = false;
        var raw = new List<Instruction>();
        bool hasRaw = false;
        var memory = new List<byte>();
        string? result = null;
        int resultLine = 0;
        string? error = null;
        var section = Section.None;
        var seen = new HashSet<Section>();

        for (int i = 0; i < lines.Length; i++)
        {
            string line = lines[i].TrimEnd('\r');
            string trimmed = line.Trim();
            asm[i] = "";
            int lineNumber = i + 1;
            if (trimmed.StartsWith("--", StringComparison.Ordinal))
            {
                string name = trimmed[2..].Trim();
                section = name switch
                {
                    "asm" => Section.Asm,
                    "raw" => Section.Raw,
                    "mem" => Section.Mem,
                    "result" => Section.Result,
                    "error" => Section.Error,
                    "c" or "no register offset" => Section.Ignored,
                    _ => throw new BpfException(Errno.EINVAL, $"{path}:{lineNumber}: unknown section '-- {name}'"),
                };
                if (section != Section.Ignored && !seen.Add(section))
                    throw new BpfException(Errno.EINVAL, $"{path}:{lineNumber}: section '-- {name}' appears twice");
                hasAsm |= section == Section.Asm;
                hasRaw |= section == Section.Raw;
                continue;
            }
            switch (section)
            {
                case Section.Asm:
                    asm[i] = line;
                    break;
                case Section.Raw:
                    foreach (string word in Words(trimmed))
                        raw.Add(Instruction.FromRaw(ParseU64(word, path, lineNumber, "raw instruction")));
                    break;
                case Section.Mem:
                    foreach (string word in Words(trimmed))
                    {
                        // bpf_conformance reads these with std::hex, which also takes a 0x prefix.
                        string digits = word.StartsWith("0x", StringComparison.OrdinalIgnoreCase) ? word[2..] : word;
                        if (digits.Length is < 1 or > 2 || !byte.TryParse(digits, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out byte b))
                            throw new BpfException(Errno.EINVAL, $"{path}:{lineNumber}: bad hex byte '{word}' in -- mem");
                        memory.Add(b);
                    }
                    break;
                case Section.Result:
                    if (trimmed.Length == 0 || trimmed.StartsWith('#'))
                        break;
                    if (result is not null)
                        throw new BpfException(Errno.EINVAL, $"{path}:{lineNumber}: more than one value in -- result");
                    result = trimmed;
                    resultLine = lineNumber;
                    break;
                case Section.Error:
                    if (trimmed.Length > 0 && !trimmed.StartsWith('#'))
                        error = error is null ? trimmed : error + "\n" + trimmed;
                    break;
            }
        }

        Instruction[] instructions;
        if (hasRaw)
            instructions = raw.ToArray();
        else if (hasAsm)
            instructions = Assembler.Assemble(string.Join('\n', asm), path);
        else
            throw new BpfException(Errno.EINVAL, $"{path}: no program (neither -- asm nor -- raw section)");
        if (instructions.Length == 0)
            throw new BpfException(Errno.EINVAL, $"{path}: the program is empty");
        if (result is null && error is null)
            throw new BpfException(Errno.EINVAL, $"{path}: no expectation (neither -- result nor -- error section)");

        ulong? expected = result is null ? null : ParseU64(result, path, resultLine, "result");
        string? assembly = hasAsm ? string.Join('\n', asm.Where(l => l.Trim().Length > 0)) : null;
        return new ConformanceDataFile(path, instructions, memory.ToArray(), expected, error, assembly);
    }

    private static string[] Words(string line)
    {
        int hash = line.IndexOf('#');
        if (hash >= 0)
            line = line[..hash];
        return line.Split([' ', '\t', ','], StringSplitOptions.RemoveEmptyEntries);
    }

    private static ulong ParseU64(string text, string path, int line, string what)
    {
        string t = text.Trim();
        bool negative = t.StartsWith('-');
        if (negative)
            t = t[1..];
        bool ok = t.StartsWith("0x", StringComparison.OrdinalIgnoreCase)
            ? ulong.TryParse(t.AsSpan(2), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out ulong v)
            : ulong.TryParse(t, NumberStyles.None, CultureInfo.InvariantCulture, out v);
        if (!ok || (t.StartsWith("0x", StringComparison.OrdinalIgnoreCase) && t.Length == 2))
            throw new BpfException(Errno.EINVAL, $"{path}:{line}: bad {what} '{text.Trim()}'");
        return negative ? unchecked(0UL - v) : v;
    }
}
