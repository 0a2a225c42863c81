using Ebpf.Abi;
using Ebpf.Elf;

namespace Ebpf.Loading;

/// <summary>
/// Global data: each non-empty .data, .rodata, .bss (or .data.*, .rodata.*, .bss.*) section becomes a single-element
/// array map whose value is the section, named as libbpf names internal maps.
/// </summary>
internal static class DataMapReader
{
    /// <summary>Largest .bss we zero-fill eagerly; a NOBITS size is not backed by the file, so it must be bounded.</summary>
    public const ulong MaxDataSectionSize = 64 << 20;
    private const int ObjectNameLength = 16; // BPF_OBJ_NAME_LEN

    public static MapSpec Read(ElfFile elf, ElfSection section, string objectName)
    {
        if (section.Size > MaxDataSectionSize)
            throw new BpfException(Errno.E2BIG,
                $"{elf.Source}: data section '{section.Name}': {section.Size} bytes exceed the {MaxDataSectionSize}-byte limit");
        bool rodata = ElfObjectText.IsNamed(section.Name, ".rodata");
        bool bss = section.Type == ElfSectionType.NoBits;
        return new MapSpec
        {
            Name = InternalMapName(objectName, section.Name),
            Type = MapType.Array,
            KeySize = 4,
            ValueSize = (uint)section.Size,
            MaxEntries = 1,
            // libbpf: read-only for the program when .rodata; mmap-able whenever the kernel allows it.
            Flags = (rodata ? MapFlags.RdonlyProg : MapFlags.None) | MapFlags.Mmapable,
            InitialValue = bss ? new byte[section.Size] : section.Data.ToArray(),
            Freeze = rodata,
            Origin = MapOrigin.GlobalData,
            SectionName = section.Name,
        };
    }

    /// <summary>
    /// libbpf's internal_map_name: a prefix of the object name plus the section name, 15 characters at most; the
    /// suffix keeps at least 7 characters; names with a second '.' (".rodata.str1.1", ".data.custom") get no prefix;
    /// characters the kernel rejects become '_'.
    /// </summary>
    public static string InternalMapName(string objectName, string sectionName)
    {
        int suffixLength = Math.Min(Math.Max(7, sectionName.Length), ObjectNameLength - 1);
        int prefixLength = sectionName.IndexOf('.', 1) >= 0
            ? 0
            : Math.Min(ObjectNameLength - suffixLength - 1, objectName.Length);
        string name = objectName[..prefixLength] + sectionName[..Math.Min(suffixLength, sectionName.Length)];
        var chars = name.ToCharArray();
        for (int i = 0; i < chars.Length; i++)
        {
            if (!char.IsAsciiLetterOrDigit(chars[i]) && chars[i] != '_' && chars[i] != '.')
                chars[i] = '_';
        }
        return new string(chars);
    }
}
