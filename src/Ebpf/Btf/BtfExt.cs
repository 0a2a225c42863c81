using System.Buffers.Binary;

namespace Ebpf.Btf;

/// <summary>
/// A parsed .BTF.ext section: func_info, line_info and CO-RE relocation records grouped by ELF section name.
/// Strings (section names, file names, source lines, access strings) come from the companion <see cref="Btf"/>.
/// </summary>
internal sealed class BtfExt
{
    public const int MinFuncInfoSize = 8;
    public const int MinLineInfoSize = 16;
    public const int MinCoreReloSize = 16;
    private const int MinHeaderSize = 24;

    private BtfExt(BtfExtHeader header, uint funcSize, uint lineSize, uint coreSize,
        IReadOnlyList<BtfExtSection<BtfFuncInfo>> funcs, IReadOnlyList<BtfExtSection<BtfLineInfo>> lines,
        IReadOnlyList<BtfExtSection<BtfCoreRelo>> relos)
    {
        Header = header;
        FuncInfoRecordSize = funcSize;
        LineInfoRecordSize = lineSize;
        CoreReloRecordSize = coreSize;
        FuncInfos = funcs;
        LineInfos = lines;
        CoreRelos = relos;
    }

    public BtfExtHeader Header { get; }

    /// <summary>The func_info rec_size from the file (0 when the subsection is absent).</summary>
    public uint FuncInfoRecordSize { get; }
    public uint LineInfoRecordSize { get; }
    public uint CoreReloRecordSize { get; }

    public IReadOnlyList<BtfExtSection<BtfFuncInfo>> FuncInfos { get; }
    public IReadOnlyList<BtfExtSection<BtfLineInfo>> LineInfos { get; }
    public IReadOnlyList<BtfExtSection<BtfCoreRelo>> CoreRelos { get; }

    public IReadOnlyList<BtfFuncInfo> GetFuncInfos(string section) => Find(FuncInfos, section);
    public IReadOnlyList<BtfLineInfo> GetLineInfos(string section) => Find(LineInfos, section);
    public IReadOnlyList<BtfCoreRelo> GetCoreRelos(string section) => Find(CoreRelos, section);

    private static IReadOnlyList<T> Find<T>(IReadOnlyList<BtfExtSection<T>> list, string section) =>
        list.FirstOrDefault(s => s.SectionName == section)?.Records ?? [];

    public static BtfExt Parse(ReadOnlyMemory<byte> data, BtfSpec btf) => Parse(data.Span, btf);

    public static BtfExt Parse(ReadOnlySpan<byte> data, BtfSpec btf)
    {
        if (data.Length < 8)
            throw Invalid($".BTF.ext is {data.Length} bytes: header not found");
        ushort magic = BinaryPrimitives.ReadUInt16LittleEndian(data);
        if (magic == 0x9feb)
            throw new BpfException(Errno.ENOTSUPP, ".BTF.ext is big-endian; only little-endian is supported");
        if (magic != BtfHeader.BtfMagic)
            throw Invalid($".BTF.ext has invalid magic 0x{magic:x4}");
        if (data[2] != 1)
            throw new BpfException(Errno.ENOTSUPP, $".BTF.ext has unsupported version {data[2]}");
        if (data[3] != 0)
            throw new BpfException(Errno.ENOTSUPP, $".BTF.ext has unsupported flags 0x{data[3]:x}");
        uint hdrLen = U32(data, 4);
        if (hdrLen < MinHeaderSize || hdrLen > (uint)data.Length)
            throw Invalid($".BTF.ext hdr_len {hdrLen} is invalid (data is {data.Length} bytes, header needs at least {MinHeaderSize})");
        bool hasCore = hdrLen >= 32;
        var header = new BtfExtHeader(magic, data[2], data[3], hdrLen, U32(data, 8), U32(data, 12), U32(data, 16), U32(data, 20),
            hasCore ? U32(data, 24) : 0, hasCore ? U32(data, 28) : 0);
        var body = data[(int)hdrLen..];

        var strings = new StringCache(btf);
        var funcs = ReadSubsection(body, header.FuncInfoOffset, header.FuncInfoLength, "func_info", MinFuncInfoSize, strings,
            (r, _, _) => new BtfFuncInfo(U32(r, 0), U32(r, 4)), out uint funcSize);
        var lines = ReadSubsection(body, header.LineInfoOffset, header.LineInfoLength, "line_info", MinLineInfoSize, strings,
            (r, cache, where) =>
            {
                uint file = U32(r, 4), line = U32(r, 8);
                return new BtfLineInfo(U32(r, 0), file, line, U32(r, 12),
                    cache.Get(file, where, "file_name_off"), cache.Get(line, where, "line_off"));
            }, out uint lineSize);
        var relos = ReadSubsection(body, header.CoreReloOffset, header.CoreReloLength, "core_relo", MinCoreReloSize, strings,
            (r, cache, where) =>
            {
                uint access = U32(r, 8);
                return new BtfCoreRelo(U32(r, 0), U32(r, 4), access, (BtfCoreReloKind)U32(r, 12),
                    cache.Get(access, where, "access_str_off"));
            }, out uint coreSize);
        return new BtfExt(header, funcSize, lineSize, coreSize, funcs, lines, relos);
    }

    /// <summary>Where a record sits, for error messages; formatted only when a record is bad.</summary>
    private readonly record struct RecordPlace(string What, string Section, int Index)
    {
        public override string ToString() => $".BTF.ext {What} '{Section}' record {Index}";
    }

    /// <summary>
    /// Decodes each string offset once: line_info records of one function share their file name, and many records
    /// share a source line, so per-record decoding would allocate the same strings over and over.
    /// </summary>
    private sealed class StringCache(BtfSpec btf)
    {
        private readonly Dictionary<uint, string> _decoded = [];

        public string Get(uint offset, RecordPlace where, string field)
        {
            if (_decoded.TryGetValue(offset, out var s))
                return s;
            if (!btf.TryGetString(offset, out s))
                throw Invalid($"{where} {field} {offset} is not a valid string offset");
            _decoded[offset] = s;
            return s;
        }

        public string Get(uint offset, string where)
        {
            if (_decoded.TryGetValue(offset, out var s))
                return s;
            if (!btf.TryGetString(offset, out s))
                throw Invalid($"{where} {offset} is not a valid string offset");
            _decoded[offset] = s;
            return s;
        }
    }

    private delegate T RecordReader<T>(ReadOnlySpan<byte> record, StringCache strings, RecordPlace where);

    private static IReadOnlyList<BtfExtSection<T>> ReadSubsection<T>(ReadOnlySpan<byte> body, uint off, uint len,
        string what, int minRecord, StringCache strings, RecordReader<T> read, out uint recordSize)
    {
        recordSize = 0;
        if (len == 0)
            return [];
        if ((ulong)off + len > (ulong)body.Length)
            throw Invalid($".BTF.ext {what} (off {off}, len {len}) overruns the {body.Length} bytes after the header");
        if (off % 4 != 0)
            throw Invalid($".BTF.ext {what} offset {off} is not 4-byte aligned");
        var sub = body.Slice((int)off, (int)len);
        if (sub.Length < 4)
            throw Invalid($".BTF.ext {what} is too short for its record size");
        recordSize = U32(sub, 0);
        if (recordSize < minRecord || recordSize % 4 != 0)
            throw Invalid($".BTF.ext {what} section has invalid record size {recordSize}");
        var result = new List<BtfExtSection<T>>();
        int pos = 4;
        while (pos < sub.Length)
        {
            if (sub.Length - pos < 8)
                throw Invalid($".BTF.ext {what}: section info header at offset {pos} is truncated");
            uint nameOff = U32(sub, pos);
            uint count = U32(sub, pos + 4);
            string name = strings.Get(nameOff, $".BTF.ext {what} sec_name_off");
            if (count == 0)
                throw Invalid($".BTF.ext {what} section '{name}' has incorrect num_records 0");
            pos += 8;
            if ((ulong)count * recordSize > (ulong)(sub.Length - pos))
                throw Invalid($".BTF.ext {what} section '{name}': {count} records of {recordSize} bytes overrun the subsection");
            var records = new T[count];
            for (int i = 0; i < count; i++)
            {
                records[i] = read(sub.Slice(pos, (int)recordSize), strings, new RecordPlace(what, name, i));
                pos += (int)recordSize;
            }
            result.Add(new BtfExtSection<T>(name, nameOff, records));
        }
        return result;
    }

    private static uint U32(ReadOnlySpan<byte> s, int at) => BinaryPrimitives.ReadUInt32LittleEndian(s[at..]);

    private static BpfException Invalid(string message) => new(Errno.EINVAL, message);
}
