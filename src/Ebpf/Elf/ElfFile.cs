using System.Buffers.Binary;
using System.Text;

namespace Ebpf.Elf;

/// <summary>
/// A read-only ELF64 little-endian relocatable object, as clang emits for <c>-target bpf</c>.
/// Every offset and size is checked against the file once, here, so consumers can index section data freely.
/// Malformed input raises <see cref="BpfException"/> (EINVAL) naming the header field or section; the reader never
/// allocates more than a small multiple of the file size.
/// </summary>
public sealed class ElfFile
{
    /// <summary>e_machine of BPF objects (EM_BPF).</summary>
    public const ushort MachineBpf = 247;
    private const int HeaderSize = 64;
    private const int SectionHeaderSize = 64;
    private const int SymbolSize = 24;
    private const ushort SectionIndexExtended = 0xffff;

    private readonly ReadOnlyMemory<byte> _image;
    private readonly ElfSection[] _sections;
    private readonly Dictionary<string, ElfSection> _sectionsByName = new(StringComparer.Ordinal);
    private ElfSymbol[]? _symbols;

    private ElfFile(ReadOnlyMemory<byte> image, string source)
    {
        _image = image;
        Source = source;
        var span = image.Span;
        if (span.Length < HeaderSize)
            throw Format($"file is {span.Length} bytes, shorter than the 64-byte ELF64 header");
        if (span[0] != 0x7f || span[1] != (byte)'E' || span[2] != (byte)'L' || span[3] != (byte)'F')
            throw new BpfException(Errno.ENOEXEC, $"{source}: not an ELF file (bad magic)");
        if (span[4] != 2)
            throw new BpfException(Errno.ENOTSUPP, $"{source}: ELF class {span[4]} is not supported (only ELFCLASS64)");
        if (span[5] == 2)
            throw new BpfException(Errno.ENOTSUPP, $"{source}: big-endian ELF objects are not supported");
        if (span[5] != 1)
            throw Format($"invalid EI_DATA {span[5]}");

        Type = BinaryPrimitives.ReadUInt16LittleEndian(span[16..]);
        Machine = BinaryPrimitives.ReadUInt16LittleEndian(span[18..]);
        if (Machine != MachineBpf && Machine != 0)
            throw new BpfException(Errno.ENOTSUPP, $"{source}: e_machine {Machine} is not BPF (247) or 0");
        ulong shoff = BinaryPrimitives.ReadUInt64LittleEndian(span[40..]);
        ushort shentsize = BinaryPrimitives.ReadUInt16LittleEndian(span[58..]);
        uint shnum = BinaryPrimitives.ReadUInt16LittleEndian(span[60..]);
        uint shstrndx = BinaryPrimitives.ReadUInt16LittleEndian(span[62..]);

        if (shoff == 0)
        {
            _sections = [];
            return;
        }
        if (shentsize != SectionHeaderSize)
            throw Format($"e_shentsize is {shentsize}, expected 64");
        if (shoff > (ulong)span.Length || (ulong)span.Length - shoff < SectionHeaderSize)
            throw Format($"section header table offset 0x{shoff:x} is outside the file");

        // Extended numbering: the real count and string-table index live in section 0.
        var first = span.Slice((int)shoff, SectionHeaderSize);
        if (shnum == 0)
        {
            ulong extended = BinaryPrimitives.ReadUInt64LittleEndian(first[32..]);
            shnum = extended > uint.MaxValue ? uint.MaxValue : (uint)extended;
        }
        if (shstrndx == SectionIndexExtended)
            shstrndx = BinaryPrimitives.ReadUInt32LittleEndian(first[40..]);

        ulong available = ((ulong)span.Length - shoff) / SectionHeaderSize;
        if (shnum > available)
            throw Format($"{shnum} section headers at 0x{shoff:x} do not fit in the file ({available} would)");
        if (shnum > 0 && shstrndx >= shnum)
            throw Format($"e_shstrndx {shstrndx} is out of range ({shnum} sections)");

        var headers = new RawSectionHeader[shnum];
        for (int i = 0; i < shnum; i++)
            headers[i] = ReadSectionHeader(span.Slice((int)(shoff + (ulong)i * SectionHeaderSize), SectionHeaderSize), i);

        ReadOnlyMemory<byte> names = shnum > 0 ? SectionBytes(headers[shstrndx]) : ReadOnlyMemory<byte>.Empty;
        _sections = new ElfSection[shnum];
        for (int i = 0; i < shnum; i++)
        {
            var h = headers[i];
            // A corrupt name is tolerated as libelf does: the section is only unusable by name.
            string name = i == 0 && h.Name == 0 ? "" : TryReadString(names.Span, h.Name) ?? "";
            var data = h.Type == ElfSectionType.NoBits ? ReadOnlyMemory<byte>.Empty : SectionBytes(h);
            _sections[i] = new ElfSection(i, name, h.Type, (ElfSectionFlags)h.Flags, h.Address, h.Offset, h.Size,
                h.Link, h.Info, h.AddressAlign, h.EntrySize, data);
            _sectionsByName.TryAdd(name, _sections[i]);
        }
    }

    /// <summary>Where the bytes came from (a path or a caller-given name), used in messages.</summary>
    public string Source { get; }
    /// <summary>e_type (ET_REL for clang-built objects).</summary>
    public ushort Type { get; }
    /// <summary>e_machine; <see cref="MachineBpf"/> for BPF objects.</summary>
    public ushort Machine { get; }
    /// <summary>All section headers, in file order (index 0 is the null section).</summary>
    public IReadOnlyList<ElfSection> Sections => _sections;
    /// <summary>The whole file's bytes; section data are slices of it.</summary>
    public ReadOnlyMemory<byte> Image => _image;

    /// <summary>Reads and parses the 64-bit little-endian ELF file at <paramref name="path"/>.</summary>
    public static ElfFile Open(string path)
    {
        byte[] bytes;
        try
        {
            bytes = File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new BpfException(e is FileNotFoundException or DirectoryNotFoundException ? Errno.ENOENT : Errno.EIO,
                $"{path}: {e.Message}", e);
        }
        return new ElfFile(bytes, path);
    }

    /// <summary>Parses an ELF image already in memory; <paramref name="source"/> names it in errors.</summary>
    public static ElfFile Parse(ReadOnlyMemory<byte> image, string source = "<memory>") => new(image, source);

    /// <summary>The section named <paramref name="name"/>, or null.</summary>
    public ElfSection? FindSection(string name) => _sectionsByName.GetValueOrDefault(name);

    /// <summary>The section at header index <paramref name="index"/>; EINVAL when out of range.</summary>
    public ElfSection GetSection(int index)
    {
        if ((uint)index >= (uint)_sections.Length)
            throw Format($"section index {index} is out of range ({_sections.Length} sections)");
        return _sections[index];
    }

    /// <summary>The symbol table (empty when the object has none). Entry 0 is the null symbol.</summary>
    public IReadOnlyList<ElfSymbol> Symbols => _symbols ??= ReadSymbols();

    /// <summary>The .symtab section, or null when the object has none.</summary>
    public ElfSection? SymbolTableSection => _sections.FirstOrDefault(s => s.Type == ElfSectionType.SymTab);

    /// <summary>The REL/RELA sections whose sh_info names <paramref name="targetSectionIndex"/>.</summary>
    public IEnumerable<ElfSection> RelocationSectionsFor(int targetSectionIndex) =>
        _sections.Where(s => (s.Type == ElfSectionType.Rel || s.Type == ElfSectionType.Rela) && s.Info == targetSectionIndex);

    /// <summary>Decodes one REL or RELA section; every symbol index is checked against the symbol table.</summary>
    public IReadOnlyList<ElfRelocation> ReadRelocations(ElfSection section)
    {
        bool rela = section.Type == ElfSectionType.Rela;
        if (!rela && section.Type != ElfSectionType.Rel)
            throw Format($"section {section.Index} ({section.Name}) is not a relocation section");
        int entrySize = rela ? 24 : 16;
        var data = section.Data.Span;
        if (data.Length % entrySize != 0)
            throw Format($"relocation section {section.Name}: size {data.Length} is not a multiple of {entrySize}");
        int symbolCount = Symbols.Count;
        var result = new ElfRelocation[data.Length / entrySize];
        for (int i = 0; i < result.Length; i++)
        {
            var entry = data.Slice(i * entrySize, entrySize);
            ulong offset = BinaryPrimitives.ReadUInt64LittleEndian(entry);
            ulong info = BinaryPrimitives.ReadUInt64LittleEndian(entry[8..]);
            long addend = rela ? BinaryPrimitives.ReadInt64LittleEndian(entry[16..]) : 0;
            uint symbol = (uint)(info >> 32);
            if (symbol >= symbolCount)
                throw Format($"relocation section {section.Name}: entry {i} references symbol {symbol}, but there are {symbolCount}");
            result[i] = new ElfRelocation(offset, symbol, (uint)info, addend, rela);
        }
        return result;
    }

    /// <summary>A NUL-terminated string from a string-table section.</summary>
    public string ReadString(ElfSection stringTable, uint offset, string what) =>
        ReadString(stringTable.Data.Span, offset, what);

    private ElfSymbol[] ReadSymbols()
    {
        var symtab = SymbolTableSection;
        if (symtab is null)
            return [];
        var data = symtab.Data.Span;
        if (data.Length % SymbolSize != 0)
            throw Format($"symbol table {symtab.Name}: size {data.Length} is not a multiple of {SymbolSize}");
        if (symtab.Link >= _sections.Length)
            throw Format($"symbol table {symtab.Name}: string table index {symtab.Link} is out of range");
        var strings = _sections[symtab.Link].Data.Span;
        var result = new ElfSymbol[data.Length / SymbolSize];
        for (int i = 0; i < result.Length; i++)
        {
            var entry = data.Slice(i * SymbolSize, SymbolSize);
            uint nameOffset = BinaryPrimitives.ReadUInt32LittleEndian(entry);
            byte info = entry[4];
            byte other = entry[5];
            ushort shndx = BinaryPrimitives.ReadUInt16LittleEndian(entry[6..]);
            ulong value = BinaryPrimitives.ReadUInt64LittleEndian(entry[8..]);
            ulong size = BinaryPrimitives.ReadUInt64LittleEndian(entry[16..]);
            // Names are resolved leniently (as libelf does); consumers that need a name check NameIsValid.
            string? name = nameOffset == 0 ? "" : TryReadString(strings, nameOffset);
            result[i] = new ElfSymbol(i, name ?? "", value, size, (ElfSymbolBinding)(info >> 4), (ElfSymbolType)(info & 0xf), other, shndx)
            {
                NameIsValid = name is not null,
            };
        }
        return result;
    }

    private ReadOnlyMemory<byte> SectionBytes(RawSectionHeader h)
    {
        if (h.Type == ElfSectionType.NoBits || h.Type == ElfSectionType.Null)
            return ReadOnlyMemory<byte>.Empty;
        ulong length = (ulong)_image.Length;
        if (h.Offset > length || h.Size > length - h.Offset)
            throw Format($"section {h.Index}: data at 0x{h.Offset:x}+0x{h.Size:x} is outside the file (0x{length:x} bytes)");
        return _image.Slice((int)h.Offset, (int)h.Size);
    }

    private static string? TryReadString(ReadOnlySpan<byte> table, uint offset)
    {
        if (offset >= (uint)table.Length)
            return null;
        var rest = table[(int)offset..];
        int end = rest.IndexOf((byte)0);
        return end < 0 ? null : Encoding.UTF8.GetString(rest[..end]);
    }

    private string ReadString(ReadOnlySpan<byte> table, uint offset, string what)
    {
        if (offset >= (uint)table.Length)
            throw Format($"{what}: string offset {offset} is outside the string table ({table.Length} bytes)");
        var rest = table[(int)offset..];
        int end = rest.IndexOf((byte)0);
        if (end < 0)
            throw Format($"{what}: string at offset {offset} is not NUL-terminated");
        return Encoding.UTF8.GetString(rest[..end]);
    }

    private static RawSectionHeader ReadSectionHeader(ReadOnlySpan<byte> h, int index) => new(
        index,
        BinaryPrimitives.ReadUInt32LittleEndian(h),
        BinaryPrimitives.ReadUInt32LittleEndian(h[4..]),
        BinaryPrimitives.ReadUInt64LittleEndian(h[8..]),
        BinaryPrimitives.ReadUInt64LittleEndian(h[16..]),
        BinaryPrimitives.ReadUInt64LittleEndian(h[24..]),
        BinaryPrimitives.ReadUInt64LittleEndian(h[32..]),
        BinaryPrimitives.ReadUInt32LittleEndian(h[40..]),
        BinaryPrimitives.ReadUInt32LittleEndian(h[44..]),
        BinaryPrimitives.ReadUInt64LittleEndian(h[48..]),
        BinaryPrimitives.ReadUInt64LittleEndian(h[56..]));

    private BpfException Format(string detail) => new(Errno.EINVAL, $"{Source}: malformed ELF: {detail}");

    private readonly record struct RawSectionHeader(int Index, uint Name, uint Type, ulong Flags, ulong Address,
        ulong Offset, ulong Size, uint Link, uint Info, ulong AddressAlign, ulong EntrySize);
}
