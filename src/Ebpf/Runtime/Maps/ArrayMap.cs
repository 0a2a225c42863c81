using Ebpf.Collections;
using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using Ebpf.Abi;
using Ebpf.Runtime.Memory;

namespace Ebpf.Runtime.Maps;

/// <summary>
/// BPF_MAP_TYPE_ARRAY and BPF_MAP_TYPE_PERCPU_ARRAY: max_entries preallocated, zeroed values at
/// stable addresses for the map's lifetime (stride round_up(value_size, 8); per-CPU: one stride
/// per possible CPU per element). Elements always exist: delete → EINVAL, NOEXIST → EEXIST.
/// BPF_F_MMAPABLE arrays are page aligned and expose <see cref="Memory"/>.
/// Guarantee: an update of a value of 4 or 8 bytes is one store (readers never see it torn);
/// larger values are copied in place without a lock, as in the kernel (use BPF_F_LOCK for atomicity).
/// </summary>
internal sealed unsafe class ArrayMap : BpfMapBase
{
    private readonly byte* _data;
    private readonly int _stride;     // round_up(value_size, 8)
    private readonly int _elemSize;   // stride, × CPUs for per-CPU
    private readonly bool _percpu;
    private readonly bool _pages;
    private readonly int _lockOff;
    private readonly uint _max;

    internal ArrayMap(MapDefinition a) : base(a, a.MaxEntries)
    {
        _percpu = a.Type == MapType.PercpuArray;
        _stride = NativeBlock.RoundUp8((int)a.ValueSize);
        _elemSize = _percpu ? _stride * BpfCpu.PossibleCount : _stride;
        _lockOff = a.SpinLockOffset;
        _max = a.MaxEntries;
        nuint total = (nuint)_elemSize * a.MaxEntries;
        _pages = (a.Flags & MapFlags.Mmapable) != 0;
        _data = _pages ? NativeBlock.AllocPages(total) : NativeBlock.AllocZeroed(total);
        MemoryLength = _pages ? NativeBlock.RoundUp(total, NativeBlock.PageSize) : total;
    }

    public override bool IsPerCpu => _percpu;
    public override bool SupportsForEach => true;

    /// <summary>The value area (BPF_F_MMAPABLE: what mmap of the map fd shows; element i at i × stride).</summary>
    public byte* Memory => (Flags & MapFlags.Mmapable) != 0 ? _data : throw new BpfException(Errno.EINVAL, $"map '{Name}': mmap needs BPF_F_MMAPABLE");

    public nuint MemoryLength { get; }

    /// <summary>
    /// Address of element 0's value (any array): what a JIT inlines lookups against
    /// (<c>index &lt; max_entries ? ValueBase + index × Stride : 0</c>, the kernel's map_gen_lookup) and
    /// what BPF_PSEUDO_MAP_VALUE / global data (.data, .rodata, .bss) relocations resolve to.
    /// Stable for the map's lifetime.
    /// </summary>
    public byte* ValueBase => _data;

    /// <summary>Distance between consecutive elements' values.</summary>
    public int Stride => _elemSize;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private byte* Elem(uint index) => _data + (nuint)index * (nuint)_elemSize;

    private protected override void FreeNative()
    {
        nint p = (nint)_data;
        if (_pages) EpochManager.Retire(() => NativeBlock.FreePages((byte*)p));
        else EpochManager.Retire((void*)p);
    }

    // ---------------- host

    private protected override Errno LookupCore(ReadOnlySpan<byte> key, Span<byte> value, MapUpdateFlags flags)
    {
        uint idx = BinaryPrimitives.ReadUInt32LittleEndian(key);
        if (idx >= _max) return Errno.ENOENT;
        fixed (byte* dst = value)
        {
            byte* src = Elem(idx);
            if (!_percpu) { ValueCopy.Out(dst, src, (int)ValueSize, _lockOff, flags); return Errno.None; }
            for (int c = 0; c < BpfCpu.PossibleCount; c++)
                Buffer.MemoryCopy(src + c * _stride, dst + c * _stride, _stride, _stride);
        }
        return Errno.None;
    }

    private protected override Errno UpdateCore(ReadOnlySpan<byte> key, ReadOnlySpan<byte> value, MapUpdateFlags flags)
    {
        uint idx = BinaryPrimitives.ReadUInt32LittleEndian(key);
        if (idx >= _max) return Errno.E2BIG;
        if ((flags & ~MapUpdateFlags.Lock) == MapUpdateFlags.NoExist) return Errno.EEXIST;
        fixed (byte* src = value)
        {
            byte* dst = Elem(idx);
            if (!_percpu) { ValueCopy.In(dst, src, (int)ValueSize, _lockOff, flags); return Errno.None; }
            for (int c = 0; c < BpfCpu.PossibleCount; c++)
                Buffer.MemoryCopy(src + c * _stride, dst + c * _stride, _stride, _stride);
        }
        return Errno.None;
    }

    private protected override Errno DeleteCore(ReadOnlySpan<byte> key) => Errno.EINVAL;

    private protected override Errno GetNextKeyCore(ReadOnlySpan<byte> key, Span<byte> nextKey)
    {
        uint next;
        if (key.IsEmpty) next = 0;
        else
        {
            uint idx = BinaryPrimitives.ReadUInt32LittleEndian(key);
            if (idx >= _max) next = 0;
            else if (idx == _max - 1) return Errno.ENOENT;
            else next = idx + 1;
        }
        BinaryPrimitives.WriteUInt32LittleEndian(nextKey, next);
        return Errno.None;
    }

    // ---------------- program

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal override byte* ProgramLookup(byte* key, int cpu)
    {
        uint idx = *(uint*)key;
        if (idx >= _max) return null;
        byte* p = Elem(idx);
        if (!_percpu) return p;
        return (uint)cpu < (uint)BpfCpu.PossibleCount ? p + cpu * _stride : null;
    }

    /// <summary>bpf_map_lookup_elem from compiled code on a plain array: bounds check and address, no CPU.</summary>
    internal ulong CompiledLookupShared(ulong key) => (ulong)ProgramLookup((byte*)key, 0);

    /// <summary>bpf_map_update_elem from compiled code on a plain array: the copy needs no CPU either.</summary>
    internal ulong CompiledUpdateShared(ulong key, ulong value, ulong flags) =>
        key == 0 || value == 0 ? unchecked((ulong)-(long)Errno.EFAULT) : (ulong)ProgramUpdate((byte*)key, (byte*)value, flags, 0);

    internal override byte* ProgramLookupPercpu(byte* key, uint cpu)
    {
        if (!_percpu) return null;
        uint idx = *(uint*)key;
        if (idx >= _max || cpu >= (uint)BpfCpu.PossibleCount) return null;
        return Elem(idx) + cpu * _stride;
    }

    internal override long ProgramUpdate(byte* key, byte* value, ulong flags, int cpu)
    {
        if ((flags & ~(ulong)MapUpdateFlags.Lock) > (ulong)MapUpdateFlags.Exist) return -(long)Errno.EINVAL;
        if ((flags & (ulong)MapUpdateFlags.Lock) != 0 && _lockOff < 0) return -(long)Errno.EINVAL;
        uint idx = *(uint*)key;
        if (idx >= _max) return -(long)Errno.E2BIG;
        if ((flags & ~(ulong)MapUpdateFlags.Lock) == (ulong)MapUpdateFlags.NoExist) return -(long)Errno.EEXIST;
        byte* dst = Elem(idx);
        if (_percpu)
        {
            if ((uint)cpu >= (uint)BpfCpu.PossibleCount) return -(long)Errno.EINVAL;
            dst += cpu * _stride;
        }
        ValueCopy.In(dst, value, (int)ValueSize, _lockOff, (MapUpdateFlags)flags);
        return 0;
    }

    internal override long ProgramDelete(byte* key, int cpu) => -(long)Errno.EINVAL;

    private protected override long ForEachCore(MapElementCallback callback, int cpu)
    {
        uint k = 0;
        long n = 0;
        for (uint i = 0; i < _max; i++)
        {
            k = i;
            byte* v = Elem(i);
            if (_percpu) v += cpu * _stride;
            n++;
            if (callback(this, (byte*)&k, v) != 0) break;
        }
        return n;
    }
}
