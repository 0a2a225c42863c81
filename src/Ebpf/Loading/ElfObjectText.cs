using Ebpf.Elf;
using Ebpf.Isa;
using System.Runtime.InteropServices;

namespace Ebpf.Loading;

/// <summary>Small ELF helpers shared by the object readers.</summary>
internal static class ElfObjectText
{
    /// <summary>A section's bytes as instructions; the size must be a whole number of 8-byte slots.</summary>
    public static Instruction[] Instructions(ElfFile elf, ElfSection section)
    {
        var data = section.Data.Span;
        if (data.Length % Instruction.Size != 0)
            throw new BpfException(Errno.EINVAL,
                $"{elf.Source}: section '{section.Name}': size {data.Length} is not a multiple of the 8-byte instruction size");
        return MemoryMarshal.Cast<byte, Instruction>(data).ToArray();
    }

    /// <summary>A NUL-terminated string stored in a section (license), bounded by the section.</summary>
    public static string CString(ReadOnlySpan<byte> data)
    {
        int end = data.IndexOf((byte)0);
        return System.Text.Encoding.UTF8.GetString(end < 0 ? data : data[..end]);
    }

    public static bool IsDataSection(ElfSection s)
    {
        if (s.Type == ElfSectionType.NoBits)
            return IsNamed(s.Name, ".bss");
        if (s.Type != ElfSectionType.ProgBits || s.IsExecutable)
            return false;
        return IsNamed(s.Name, ".data") || IsNamed(s.Name, ".rodata");
    }

    public static bool IsLegacyMapsSection(ElfSection s) =>
        s.Type == ElfSectionType.ProgBits && !s.IsExecutable && (s.Name == "maps" || s.Name.StartsWith("maps/", StringComparison.Ordinal));

    /// <summary>"name" itself or "name." followed by a suffix, as libbpf matches .data/.rodata/.bss.</summary>
    public static bool IsNamed(string name, string prefix) =>
        name == prefix || name.StartsWith(prefix + ".", StringComparison.Ordinal);
}
