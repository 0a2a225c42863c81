using System.Buffers.Binary;
using System.Text;

namespace Ebpf.Btf;

/// <summary>
/// A parsed BTF blob: the header, types 1..N (id 0 is void) and the string table. A split BTF (a kernel
/// module's BTF, for example) sits on a <see cref="Base"/>: its type ids continue after the base's last id
/// and its string offsets continue after the base's string table.
/// Parsing checks the structure (header, section bounds, every record fits, string offsets in range) so
/// malformed input only ever raises <see cref="BpfException"/>; the kernel's semantic checks are in
/// <see cref="BtfValidator"/>.
/// </summary>
public sealed partial class BtfSpec
{
    /// <summary>The kernel's BTF_MAX_TYPE: no BTF may hold more types than this.</summary>
    internal const uint MaxTypes = 0x000fffff;

    /// <summary>The kernel's BTF_MAX_NAME_OFFSET: the string section is at most this long (+1).</summary>
    internal const uint MaxNameOffset = 0x00ffffff;

    private readonly BtfType[] _types;
    private readonly byte[] _strings;

    internal BtfSpec(BtfHeader header, BtfSpec? baseBtf, BtfType[] types, byte[] strings)
    {
        Header = header;
        Base = baseBtf;
        _types = types;
        _strings = strings;
        FirstTypeId = baseBtf is null ? 1 : baseBtf.MaxTypeId + 1;
        StringBase = baseBtf is null ? 0 : baseBtf.TotalStringLength;
        for (int i = 0; i < types.Length; i++)
            types[i].Id = FirstTypeId + (uint)i;
    }

    internal BtfHeader Header { get; }

    /// <summary>The length of the raw blob this BTF was parsed from (null when built in code).</summary>
    public int? SourceLength { get; internal set; }

    /// <summary>
    /// Names (type: component -1, else member/value/param index) whose offset is non-zero but points at an
    /// empty string: the model reads them as anonymous, but the kernel rejects a non-zero offset there.
    /// </summary>
    internal IReadOnlySet<(uint Id, int Component)> EmptyNamesAtNonZeroOffset { get; init; } = new HashSet<(uint, int)>();

    /// <summary>The base BTF of a split BTF, or null.</summary>
    public BtfSpec? Base { get; }

    /// <summary>The first type id this BTF defines (1, or the base's last id + 1).</summary>
    public uint FirstTypeId { get; }

    /// <summary>The last valid type id (including base types); equals <see cref="FirstTypeId"/> - 1 when empty.</summary>
    public uint MaxTypeId => FirstTypeId + (uint)_types.Length - 1;

    /// <summary>The types this BTF defines (without void, without base types), in id order.</summary>
    public IReadOnlyList<BtfType> Types => _types;

    /// <summary>Base types followed by this BTF's types, in id order (without void).</summary>
    public IEnumerable<BtfType> AllTypes => Base is null ? _types : Base.AllTypes.Concat(_types);

    /// <summary>This BTF's own string table bytes (starting with NUL for a base BTF).</summary>
    public ReadOnlySpan<byte> StringTable => _strings;

    /// <summary>The string offset where this BTF's own strings start (the base's total string length).</summary>
    public uint StringBase { get; }

    /// <summary>One past the last valid string offset (base strings included).</summary>
    public uint TotalStringLength => StringBase + (uint)_strings.Length;

    /// <summary>
    /// Parses raw BTF (header, types, strings); with <paramref name="baseBtf"/>, as split BTF on top of it.
    /// Malformed input throws a <see cref="BpfException"/> naming the place.
    /// </summary>
    public static BtfSpec Parse(ReadOnlySpan<byte> raw, BtfSpec? baseBtf = null) => BtfReader.Read(raw, baseBtf);

    /// <summary>Parses raw BTF; see <see cref="Parse(ReadOnlySpan{byte}, BtfSpec?)"/>.</summary>
    public static BtfSpec Parse(ReadOnlyMemory<byte> raw, BtfSpec? baseBtf = null) => BtfReader.Read(raw.Span, baseBtf);

    /// <summary>Reads a raw BTF file (e.g. /sys/kernel/btf/nf_tables on top of vmlinux).</summary>
    public static BtfSpec LoadFile(string path, BtfSpec? baseBtf = null)
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
        try
        {
            return Parse(bytes, baseBtf);
        }
        catch (BpfException e)
        {
            throw e.Wrap(path);
        }
    }

    /// <summary>The running kernel's BTF (/sys/kernel/btf/vmlinux).</summary>
    public static BtfSpec LoadVmlinux(string path = "/sys/kernel/btf/vmlinux") => LoadFile(path);

    /// <summary>The BTF of a loaded kernel module, split on top of <paramref name="vmlinux"/>.</summary>
    public static BtfSpec LoadKernelModule(string module, BtfSpec vmlinux) => LoadFile(Path.Combine("/sys/kernel/btf", module), vmlinux);

    /// <summary>The string at <paramref name="offset"/> (base strings first, then this BTF's).</summary>
    public string GetString(uint offset) =>
        TryGetString(offset, out var s)
            ? s
            : throw new BpfException(Errno.EINVAL, $"string offset {offset} is out of range (string section ends at {TotalStringLength})");

    /// <summary>The string at <paramref name="offset"/>; false when the offset is out of range.</summary>
    public bool TryGetString(uint offset, out string value)
    {
        if (offset < StringBase)
            return Base!.TryGetString(offset, out value);
        uint local = offset - StringBase;
        if (local >= (uint)_strings.Length)
        {
            value = "";
            return false;
        }
        value = DecodeString(_strings, local);
        return true;
    }

    internal static string DecodeString(ReadOnlySpan<byte> table, uint offset)
    {
        var rest = table[(int)offset..];
        int end = rest.IndexOf((byte)0);
        if (end < 0)
            end = rest.Length;
        return end == 0 ? "" : Encoding.UTF8.GetString(rest[..end]);
    }

    /// <summary>The type with <paramref name="id"/> (0 = void), looking in the base for base ids.</summary>
    public BtfType GetType(uint id) =>
        TryGetType(id, out var t)
            ? t
            : throw new BpfException(Errno.EINVAL, $"type id {id} is out of range (last id {MaxTypeId})");

    /// <summary>The type with <paramref name="id"/> (see <see cref="GetType(uint)"/>).</summary>
    public BtfType this[uint id] => GetType(id);

    /// <summary>The type with <paramref name="id"/>; false when the id is out of range.</summary>
    public bool TryGetType(uint id, out BtfType type)
    {
        if (id == 0)
        {
            type = BtfVoid.Instance;
            return true;
        }
        if (id < FirstTypeId)
            return Base!.TryGetType(id, out type);
        uint local = id - FirstTypeId;
        if (local < (uint)_types.Length)
        {
            type = _types[local];
            return true;
        }
        type = BtfVoid.Instance;
        return false;
    }

    /// <summary>The type with <paramref name="id"/>, which must be a <typeparamref name="T"/>.</summary>
    public T GetType<T>(uint id) where T : BtfType =>
        GetType(id) as T ?? throw new BpfException(Errno.EINVAL,
            $"{GetType(id)}: expected {typeof(T).Name.Replace("Btf", "").ToUpperInvariant()}");

    /// <summary>
    /// A copy with every own type passed through <paramref name="map"/> (same ids, so references stay valid):
    /// what a loader uses to fill DATASEC sizes and variable offsets from the ELF, or to sanitize kinds an
    /// older kernel lacks, before BPF_BTF_LOAD. The result is encoded and parsed back, so it is exactly what
    /// the kernel will see.
    /// </summary>
    public BtfSpec Rewrite(Func<BtfType, BtfType> map)
    {
        var mapped = new BtfType[_types.Length];
        for (int i = 0; i < mapped.Length; i++)
            mapped[i] = map(_types[i]) ?? throw new ArgumentException($"map returned null for {_types[i]}", nameof(map));
        // Keep the string table so offsets held by .BTF.ext records still resolve in the rewritten BTF.
        return Parse(BtfWriter.Write(mapped, Base, this), Base);
    }

    /// <summary>Encodes this BTF (split on top of <see cref="Base"/> when it has one) as raw BTF bytes.</summary>
    public byte[] ToBytes() => BtfWriter.Write(_types, Base);

    private Dictionary<string, uint>? _stringIndex;

    /// <summary>Finds the offset of an existing string (in the base first), for writers of split BTF.</summary>
    public bool TryFindString(string value, out uint offset)
    {
        if (Base is not null && Base.TryFindString(value, out offset))
            return true;
        if (_stringIndex is null)
        {
            var index = new Dictionary<string, uint>(StringComparer.Ordinal);
            int pos = 0;
            while (pos < _strings.Length)
            {
                int end = Array.IndexOf(_strings, (byte)0, pos);
                if (end < 0)
                    end = _strings.Length;
                index.TryAdd(Encoding.UTF8.GetString(_strings, pos, end - pos), StringBase + (uint)pos);
                pos = end + 1;
            }
            Interlocked.CompareExchange(ref _stringIndex, index, null);
        }
        return _stringIndex.TryGetValue(value, out offset);
    }
}
