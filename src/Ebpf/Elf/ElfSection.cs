namespace Ebpf.Elf;

/// <summary>ELF section types that matter for BPF objects.</summary>
public static class ElfSectionType
{
    public const uint Null = 0;
    public const uint ProgBits = 1;
    public const uint SymTab = 2;
    public const uint StrTab = 3;
    public const uint Rela = 4;
    public const uint NoBits = 8;
    public const uint Rel = 9;
    public const uint LlvmAddrsig = 0x6fff4c03;
}

/// <summary>ELF section flags (sh_flags).</summary>
[Flags]
public enum ElfSectionFlags : ulong
{
    None = 0,
    Write = 0x1,
    Alloc = 0x2,
    ExecInstr = 0x4,
    Merge = 0x10,
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

    public int Index { get; }
    public string Name { get; }
    public uint Type { get; }
    public ElfSectionFlags Flags { get; }
    public ulong Address { get; }
    public ulong Offset { get; }
    /// <summary>sh_size; for SHT_NOBITS this is the zero-filled size, while <see cref="Data"/> is empty.</summary>
    public ulong Size { get; }
    public uint Link { get; }
    public uint Info { get; }
    public ulong AddressAlign { get; }
    public ulong EntrySize { get; }
    public ReadOnlyMemory<byte> Data { get; }

    public bool IsExecutable => (Flags & ElfSectionFlags.ExecInstr) != 0;
    public bool IsNoBits => Type == ElfSectionType.NoBits;

    public override string ToString() => $"[{Index}] {Name} type={Type} size={Size}";
}
