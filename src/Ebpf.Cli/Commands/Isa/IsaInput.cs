using Ebpf.Elf;
using Ebpf.Isa;

namespace Ebpf.Cli.Commands.Isa;

/// <summary>One program to disassemble: an ELF code section (with its symbols) or a whole .bin/.data program.</summary>
internal sealed record IsaProgram(string? Section, Instruction[] Instructions, SectionSymbols? Symbols);

/// <summary>Reads the inputs the ISA verbs accept: ELF objects, raw little-endian .bin files, and conformance .data files.</summary>
internal static class IsaInput
{
    public static byte[] ReadBytes(string path)
    {
        try
        {
            return File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new BpfException(e is FileNotFoundException or DirectoryNotFoundException ? Errno.ENOENT : Errno.EIO,
                $"{path}: {e.Message}", e);
        }
    }

    public static bool IsElf(ReadOnlySpan<byte> bytes) => bytes.Length >= 4 && bytes[0] == 0x7f && bytes[1] == (byte)'E' && bytes[2] == (byte)'L' && bytes[3] == (byte)'F';

    public static bool IsDataFile(string path) => path.EndsWith(".data", StringComparison.OrdinalIgnoreCase);

    /// <summary>The programs in <paramref name="path"/>; <paramref name="section"/> selects one ELF code section.</summary>
    public static List<IsaProgram> Load(string path, string? section)
    {
        byte[] bytes = ReadBytes(path);
        if (IsElf(bytes))
        {
            var elf = ElfFile.Parse(bytes, path);
            // Like objdump, empty code sections (a bare .text) are not listed unless asked for by name.
            var sections = elf.Sections.Where(s => s.IsExecutable && !s.IsNoBits && s.Size > 0).ToList();
            if (section is not null)
            {
                var named = elf.FindSection(section)
                    ?? throw new BpfException(Errno.ENOENT, $"{path}: no section named '{section}'");
                if (!named.IsExecutable || named.IsNoBits)
                    throw new BpfException(Errno.EINVAL, $"{path}: section '{section}' does not hold code");
                sections = [named];
            }
            return sections
                .Select(s => new IsaProgram(s.Name, InstructionStream.Read(s.Data.Span, $"{path}: section {s.Name}"), SectionSymbols.FromElf(elf, s)))
                .ToList();
        }
        if (section is not null)
            throw new CliUsageException($"--section applies to ELF objects; {path} is not one");
        if (IsDataFile(path))
            return [new IsaProgram(null, ConformanceDataFile.Parse(System.Text.Encoding.UTF8.GetString(bytes), path).Instructions, null)];
        return [new IsaProgram(null, InstructionStream.Read(bytes, path), null)];
    }
}
