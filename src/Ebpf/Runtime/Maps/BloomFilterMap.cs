using Ebpf.Collections;
using Ebpf.Abi;
using Ebpf.Runtime.Memory;

namespace Ebpf.Runtime.Maps;

/// <summary>
/// BPF_MAP_TYPE_BLOOM_FILTER: map_extra (low 4 bits) hash functions, 5 when 0; a bit array of
/// roundup_pow_of_two(max_entries × hashes / ln 2) bits (at least 64). push (flags must be
/// BPF_ANY, else EINVAL) sets the value's bits; peek returns 0 when all are set (maybe present)
/// and -ENOENT otherwise (definitely absent): false positives are possible, false negatives are not.
/// Host API: update(key=∅) = push, lookup = peek; delete and get_next_key → EOPNOTSUPP.
/// </summary>
internal sealed unsafe class BloomFilterMap : BpfMapBase
{
    private readonly ulong[] _bits;
    private readonly ulong _mask;
    private readonly int _hashes;
    private readonly ulong _seed;
    private readonly int _vs;

    internal BloomFilterMap(MapDefinition a) : base(a, a.MaxEntries)
    {
        _hashes = (int)(a.MapExtra & 0xF);
        if (_hashes == 0) _hashes = 5;
        double want = (double)a.MaxEntries * _hashes / Math.Log(2);
        ulong nbits = (ulong)Math.Min(Math.Ceiling(want), 1ul << 32);
        nbits = Math.Max(64, System.Numerics.BitOperations.RoundUpToPowerOf2(nbits));
        _bits = new ulong[nbits / 64];
        _mask = nbits - 1;
        _seed = (a.Flags & MapFlags.ZeroSeed) != 0 ? 0 : KeyHash.RandomSeed();
        _vs = (int)a.ValueSize;
    }

    public int HashCount => _hashes;
    public ulong BitCount => _mask + 1;

    private ulong BitIndex(byte* value, int i) => KeyHash.Hash(value, _vs, _seed + (ulong)i) & _mask;

    internal override long ProgramPush(byte* value, ulong flags)
    {
        if (flags != 0) return -(long)Errno.EINVAL;
        for (int i = 0; i < _hashes; i++)
        {
            ulong b = BitIndex(value, i);
            Interlocked.Or(ref _bits[b >> 6], 1ul << (int)(b & 63));
        }
        return 0;
    }

    internal override long ProgramPeek(byte* value)
    {
        for (int i = 0; i < _hashes; i++)
        {
            ulong b = BitIndex(value, i);
            if ((Volatile.Read(ref _bits[b >> 6]) & (1ul << (int)(b & 63))) == 0) return -(long)Errno.ENOENT;
        }
        return 0;
    }

    internal override long ProgramPop(byte* value) => -(long)Errno.EOPNOTSUPP;
    internal override long ProgramUpdate(byte* key, byte* value, ulong flags, int cpu) => ProgramPush(value, flags);

    private protected override Errno UpdateCore(ReadOnlySpan<byte> key, ReadOnlySpan<byte> value, MapUpdateFlags flags)
    {
        fixed (byte* v = value) return (Errno)(-ProgramPush(v, (ulong)flags));
    }

    private protected override Errno LookupCore(ReadOnlySpan<byte> key, Span<byte> value, MapUpdateFlags flags)
    {
        if (flags != 0) return Errno.EINVAL;
        fixed (byte* v = value) return (Errno)(-ProgramPeek(v));
    }

    private protected override Errno DeleteCore(ReadOnlySpan<byte> key) => Errno.EOPNOTSUPP;
    private protected override Errno GetNextKeyCore(ReadOnlySpan<byte> key, Span<byte> nextKey) => Errno.EOPNOTSUPP;
    private protected override Errno LookupAndDeleteCore(ReadOnlySpan<byte> key, Span<byte> value, MapUpdateFlags flags) => Errno.EOPNOTSUPP;

    /// <summary>Host push.</summary>
    public void Push(ReadOnlySpan<byte> value) => Update(default, value);

    /// <summary>Host membership test: false = definitely absent, true = maybe present.</summary>
    public bool MayContain(ReadOnlySpan<byte> value)
    {
        var e = LookupElem(default, value.ToArray());
        if (e == Errno.ENOENT) return false;
        Check(e, "peek");
        return true;
    }

    private protected override void FreeNative() { }
}
