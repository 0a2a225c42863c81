namespace Ebpf.Elf;

/// <summary>ELF section types that matter for BPF objects.</summary>
public static class ElfSectionType
{
    /// <summary>SHT_NULL: the unused entry 0.</summary>
    public const uint Null = 0;
    /// <summary>SHT_PROGBITS: code or initialized data.</summary>
    public const uint ProgBits = 1;
    /// <summary>SHT_SYMTAB: the symbol table.</summary>
    public const uint SymTab = 2;
    /// <summary>SHT_STRTAB: a string table.</summary>
    public const uint StrTab = 3;
    /// <summary>SHT_RELA: relocations with addends.</summary>
    public const uint Rela = 4;
    /// <summary>SHT_NOBITS: zero-filled data with no file bytes (.bss).</summary>
    public const uint NoBits = 8;
    /// <summary>SHT_REL: relocations without addends (what clang emits for BPF).</summary>
    public const uint Rel = 9;
    /// <summary>SHT_LLVM_ADDRSIG: LLVM's address-significance table (ignored).</summary>
    public const uint LlvmAddrsig = 0x6fff4c03;
}

/// <summary>ELF section flags (sh_flags).</summary>
[Flags]
public enum ElfSectionFlags : ulong
{
    /// <summary>No flags.</summary>
    None = 0,
    /// <summary>SHF_WRITE: writable at run time.</summary>
    Write = 0x1,
    /// <summary>SHF_ALLOC: occupies memory at run time.</summary>
    Alloc = 0x2,
    /// <summary>SHF_EXECINSTR: contains instructions (a program section).</summary>
    ExecInstr = 0x4,
    /// <summary>SHF_MERGE: mergeable entries.</summary>
    Merge = 0x10,
    /// <summary>SHF_STRINGS: null-terminated strings.</summary>
    Strings = 0x20,
}

/// <summary>One section header plus a view of its bytes (empty for SHT_NOBITS).</summary>
public sealed class ElfSection
{
    internal ElfSection(int index, string name, uint type, ElfSectionFlags flags, ulong address, ulong offset,
        ulong size, uint link, uint info, ulong addressAlign, ulong entrySize, ReadOnlyMemory<byte> data)
    {
        Index = index;
        Name = name;
        Type = type;
        Flags = flags;
        Address = address;
        Offset = offset;
        Size = size;
        Link = link;
        Info = info;
        AddressAlign = addressAlign;
        EntrySize = entrySize;
        Data = data;
    }

    /// <summary>The section's header index (what symbols refer to).</summary>
    public int Index { get; }
    /// <summary>The name from .shstrtab.</summary>
    public string Name { get; }
    /// <summary>sh_type, one of <see cref="ElfSectionType"/>'s values.</summary>
    public uint Type { get; }
    /// <summary>sh_flags.</summary>
    public ElfSectionFlags Flags { get; }
    /// <summary>sh_addr (0 in relocatable objects).</summary>
    public ulong Address { get; }
    /// <summary>sh_offset: where the data starts in the file.</summary>
    public ulong Offset { get; }
    /// <summary>sh_size; for SHT_NOBITS this is the zero-filled size, while <see cref="Data"/> is empty.</summary>
    public ulong Size { get; }
    /// <summary>
    /// sh_link: the associated section (a symbol table's string table, a relocation section's symbol table).
    /// </summary>
    public uint Link { get; }
    /// <summary>sh_info: for relocation sections, the index of the section they patch.</summary>
    public uint Info { get; }
    /// <summary>sh_addralign.</summary>
    public ulong AddressAlign { get; }
    /// <summary>sh_entsize: the size of one entry of a table section.</summary>
    public ulong EntrySize { get; }
    /// <summary>The section's bytes (empty for SHT_NOBITS).</summary>
    public ReadOnlyMemory<byte> Data { get; }

    /// <summary>Whether the section holds instructions (SHF_EXECINSTR).</summary>
    public bool IsExecutable => (Flags & ElfSectionFlags.ExecInstr) != 0;
    /// <summary>Whether the section is zero-filled with no bytes in the file (.bss).</summary>
    public bool IsNoBits => Type == ElfSectionType.NoBits;

    /// <summary>Index, name, type and size, for diagnostics.</summary>
    public override string ToString() => $"[{Index}] {Name} type={Type} size={Size}";
}
