namespace Ebpf.Elf;

public enum ElfSymbolBinding : byte
{
    Local = 0,
    Global = 1,
    Weak = 2,
}

public enum ElfSymbolType : byte
{
    NoType = 0,
    Object = 1,
    Func = 2,
    Section = 3,
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
    public const ushort SectionUndefined = 0;
    public const ushort SectionAbsolute = 0xfff1;
    public const ushort SectionCommon = 0xfff2;
    public const ushort SectionExtended = 0xffff;

    /// <summary>STV_HIDDEN: libbpf treats hidden globals like statics (no slot of their own).</summary>
    public bool IsHidden => (Visibility & 0x3) == 2;
    public bool IsUndefined => SectionIndex == SectionUndefined;
    /// <summary>False when st_name pointed outside the string table; <see cref="Name"/> is then empty.</summary>
    public bool NameIsValid { get; init; } = true;
}

/// <summary>One REL or RELA entry, with the section it patches.</summary>
public readonly record struct ElfRelocation(ulong Offset, uint SymbolIndex, uint Type, long Addend, bool HasAddend);
