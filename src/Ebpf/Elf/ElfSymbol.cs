namespace Ebpf.Elf;

/// <summary>A symbol's binding (STB_*, the high nibble of st_info).</summary>
public enum ElfSymbolBinding : byte
{
    /// <summary>STB_LOCAL: visible only in its object (static functions and data).</summary>
    Local = 0,
    /// <summary>STB_GLOBAL: visible to other objects.</summary>
    Global = 1,
    /// <summary>STB_WEAK: global, but may be absent or overridden (weak externs).</summary>
    Weak = 2,
}

/// <summary>A symbol's type (STT_*, the low nibble of st_info).</summary>
public enum ElfSymbolType : byte
{
    /// <summary>STT_NOTYPE: unspecified (labels, externs).</summary>
    NoType = 0,
    /// <summary>STT_OBJECT: a variable or map definition.</summary>
    Object = 1,
    /// <summary>STT_FUNC: a function (a program or subprogram).</summary>
    Func = 2,
    /// <summary>STT_SECTION: the section itself (relocation target of static data).</summary>
    Section = 3,
    /// <summary>STT_FILE: the source file name.</summary>
    File = 4,
}

/// <summary>One entry of .symtab.</summary>
public sealed record ElfSymbol(
    int Index,
    string Name,
    ulong Value,
    ulong Size,
    ElfSymbolBinding Binding,
    ElfSymbolType Type,
    byte Visibility,
    ushort SectionIndex)
{
    /// <summary>SHN_UNDEF: the symbol is not defined in this object (an extern).</summary>
    public const ushort SectionUndefined = 0;
    /// <summary>SHN_ABS: an absolute value, not in any section.</summary>
    public const ushort SectionAbsolute = 0xfff1;
    /// <summary>SHN_COMMON: an unallocated common block.</summary>
    public const ushort SectionCommon = 0xfff2;
    /// <summary>SHN_XINDEX: the real index is in SHT_SYMTAB_SHNDX.</summary>
    public const ushort SectionExtended = 0xffff;

    /// <summary>STV_HIDDEN: libbpf treats hidden globals like statics (no slot of their own).</summary>
    public bool IsHidden => (Visibility & 0x3) == 2;
    /// <summary>Whether the symbol is an extern (defined in no section).</summary>
    public bool IsUndefined => SectionIndex == SectionUndefined;
    /// <summary>False when st_name pointed outside the string table; <see cref="Name"/> is then empty.</summary>
    public bool NameIsValid { get; init; } = true;
}

/// <summary>One REL or RELA entry, with the section it patches.</summary>
public readonly record struct ElfRelocation(ulong Offset, uint SymbolIndex, uint Type, long Addend, bool HasAddend);
