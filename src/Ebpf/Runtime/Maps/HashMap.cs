using Ebpf.Collections;
using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Ebpf.Abi;
using Ebpf.Runtime.Memory;

namespace Ebpf.Runtime.Maps;

/// <summary>
/// BPF_MAP_TYPE_HASH, PERCPU_HASH, LRU_HASH and LRU_PERCPU_HASH.
/// <para>Buckets: roundup_pow_of_two(max_entries) chains of native elements (<see cref="HashElem"/>),
/// hashed with <see cref="KeyHash"/> and a per-map random seed (0 with BPF_F_ZERO_SEED).
/// Readers (lookups, iteration) take no lock: they walk the chains with acquire reads inside an
/// epoch critical section. Writers take a per-bucket spin lock (striped).</para>
/// <para>Guarantees: an update of an existing key in a (non-per-CPU) hash publishes a new element
/// and retires the old one, as the kernel does, so a reader sees either the whole old value or the
/// whole new value, never a mix (values of 1, 2, 4 or 8 bytes in a plain hash are instead replaced
/// with one atomic store, equally untearable, and need no allocation); per-CPU maps and BPF_F_LOCK updates copy in place (the kernel does
/// too). Pointers returned to programs stay valid until the program's epoch ends, even if the key is
/// deleted meanwhile. The element count never exceeds max_entries: full → E2BIG for HASH/PERCPU_HASH;
/// LRU maps evict (second-chance approximation of LRU, common list or per-CPU lists with
/// BPF_F_NO_COMMON_LRU) and never fail with E2BIG.</para>
/// </summary>
internal sealed unsafe class HashMap : BpfMapBase
{
    private readonly nint[] _buckets;
    private readonly int[] _locks;
    private readonly uint _bucketMask;
    private readonly int _lockMask;
    private readonly ulong _seed;
    private readonly int _keySize;
    private readonly int _valueSize;
    private readonly int _stride;
    private readonly int _valueOffset;
    private readonly int _elemSize;
    private readonly bool _percpu;
    private readonly int _lockOff;
    private readonly LruList[]? _lru;
    private readonly bool _lruPerCpu;
    private readonly bool _inPlaceSmall;
    private int _count;

    internal HashMap(MapDefinition a, uint effectiveMax) : base(a, effectiveMax)
    {
        uint n = BitOperationsEx.RoundUpPow2(effectiveMax);
        _buckets = new nint[n];
        _bucketMask = n - 1;
        int locks = (int)Math.Min(n, 4096u);
        _locks = new int[locks];
        _lockMask = locks - 1;
        _seed = (a.Flags & MapFlags.ZeroSeed) != 0 ? 0 : KeyHash.RandomSeed();
        _keySize = (int)a.KeySize;
        _valueSize = (int)a.ValueSize;
        _stride = NativeBlock.RoundUp8(_valueSize);
        _percpu = a.Type is MapType.PercpuHash or MapType.LruPercpuHash;
        _valueOffset = HashElem.HeaderSize + NativeBlock.RoundUp8(_keySize);
        _elemSize = _valueOffset + (_percpu ? _stride * BpfCpu.PossibleCount : _stride);
        _lockOff = a.SpinLockOffset;
        _inPlaceSmall = a.Type is MapType.Hash or MapType.HashOfMaps && _lockOff < 0 && _valueSize is 1 or 2 or 4 or 8;
        if (a.Type is MapType.LruHash or MapType.LruPercpuHash)
        {
            _lruPerCpu = (a.Flags & MapFlags.NoCommonLru) != 0;
            if (_lruPerCpu)
            {
                int cpus = BpfCpu.PossibleCount;
                _lru = new LruList[cpus];
                for (int i = 0; i < cpus; i++) _lru[i] = new LruList(i, (int)(effectiveMax / (uint)cpus));
            }
            else _lru = [new LruList(0, (int)effectiveMax)];
        }
    }

    public override bool IsPerCpu => _percpu;
    public override bool SupportsForEach => true;
    public override int BatchTokenSize => 4;

    /// <summary>Elements currently linked (never above <see cref="BpfMapBase.MaxEntries"/>).</summary>
    public int Count => Volatile.Read(ref _count);

    public bool IsLru => _lru is not null;

    // ---------------------------------------------------------------- core

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private uint HashOf(byte* key) => KeyHash.Hash(key, _keySize, _seed);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private bool KeyEquals(nint e, byte* key)
    {
        byte* k = HashElem.Key(e);
        return _keySize switch
        {
            4 => *(uint*)k == Unsafe.ReadUnaligned<uint>(key),
            8 => *(ulong*)k == Unsafe.ReadUnaligned<ulong>(key),
            _ => new ReadOnlySpan<byte>(k, _keySize).SequenceEqual(new ReadOnlySpan<byte>(key, _keySize)),
        };
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private nint Find(byte* key, uint hash)
    {
        nint e = Volatile.Read(ref _buckets[hash & _bucketMask]);
        while (e != 0)
        {
            if (HashElem.Hash(e) == hash && KeyEquals(e, key)) return e;
            e = Volatile.Read(ref HashElem.Next(e));
        }
        return 0;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private byte* Value(nint e) => (byte*)e + _valueOffset;

    private void LockBucket(uint bucket)
    {
        ref int l = ref _locks[(int)bucket & _lockMask];
        if (Interlocked.CompareExchange(ref l, 1, 0) == 0) return;
        var spin = new SpinWait();
        while (Volatile.Read(ref l) != 0 || Interlocked.CompareExchange(ref l, 1, 0) != 0)
            spin.SpinOnce(sleep1Threshold: -1);
    }

    private void UnlockBucket(uint bucket) => Volatile.Write(ref _locks[(int)bucket & _lockMask], 0);

    /// <summary>Finds the element and its predecessor (0 = the bucket head) under the bucket lock.</summary>
    private nint FindLocked(uint bucket, byte* key, uint hash, out nint prev)
    {
        prev = 0;
        nint e = _buckets[bucket];
        while (e != 0)
        {
            if (HashElem.Hash(e) == hash && KeyEquals(e, key)) return e;
            prev = e;
            e = HashElem.Next(e);
        }
        prev = 0;
        return 0;
    }

    private void SetLink(uint bucket, nint prev, nint value)
    {
        if (prev == 0) Volatile.Write(ref _buckets[bucket], value);
        else Volatile.Write(ref HashElem.Next(prev), value);
    }

    private nint NewElem(byte* key, uint hash)
    {
        nint e = (nint)(_percpu || _lockOff >= 0 ? NativeMemory.AllocZeroed((nuint)_elemSize) : NativeMemory.Alloc((nuint)_elemSize));
        HashElem.Next(e) = 0;
        HashElem.Hash(e) = hash;
        HashElem.Linked(e) = 0;
        HashElem.InLru(e) = 0;
        HashElem.Ref(e) = 0;
        Buffer.MemoryCopy(key, HashElem.Key(e), _keySize, _keySize);
        return e;
    }

    /// <summary>Writes a value into an element: host = all CPUs from a per-CPU buffer; program = one CPU.</summary>
    private void WriteValue(nint e, byte* src, bool host, int cpu, MapUpdateFlags flags)
    {
        byte* dst = Value(e);
        if (!_percpu) { ValueCopy.In(dst, src, _valueSize, _lockOff, flags); return; }
        if (host)
        {
            int n = _stride * BpfCpu.PossibleCount;
            Buffer.MemoryCopy(src, dst, n, n);
        }
        else ValueCopy.Copy(dst + cpu * _stride, src, _valueSize);
    }

    private LruList LruFor(int cpu) => _lruPerCpu ? _lru![(uint)cpu % (uint)_lru!.Length] : _lru![0];

    /// <summary>Takes an LRU slot, evicting a victim if the list is full. Null on ENOMEM.</summary>
    private LruList? ReserveLru(int cpu)
    {
        var list = LruFor(cpu);
        nint victim = list.Reserve();
        if (victim == -1) return null;
        if (victim != 0) EvictVictim(victim);
        return list;
    }

    private void EvictVictim(nint victim)
    {
        uint b = HashElem.Hash(victim) & _bucketMask;
        LockBucket(b);
        bool unlinked = false;
        if (HashElem.Linked(victim) != 0)
        {
            nint prev = 0, e = _buckets[b];
            while (e != 0 && e != victim) { prev = e; e = HashElem.Next(e); }
            if (e == victim)
            {
                SetLink(b, prev, HashElem.Next(victim));
                HashElem.Linked(victim) = 0;
                Interlocked.Decrement(ref _count);
                unlinked = true;
            }
        }
        UnlockBucket(b);
        if (unlinked) EpochManager.Retire((void*)victim);
    }

    private bool TryTakeCount()
    {
        int c;
        do
        {
            c = Volatile.Read(ref _count);
            if ((uint)c >= MaxEntries) return false;
        } while (Interlocked.CompareExchange(ref _count, c + 1, c) != c);
        return true;
    }

    /// <summary>The update algorithm shared by the host API and the helper. Caller is inside an epoch.</summary>
    private Errno UpdateInternal(byte* key, byte* value, MapUpdateFlags flags, bool host, int cpu)
    {
        var op = flags & ~MapUpdateFlags.Lock;
        uint hash = HashOf(key);
        uint b = hash & _bucketMask;

        if ((flags & MapUpdateFlags.Lock) != 0 && !_percpu)
        {
            // BPF_F_LOCK on an existing element: copy in place under the value's spin lock.
            nint cur = Find(key, hash);
            if (cur != 0)
            {
                if (op == MapUpdateFlags.NoExist) return Errno.EEXIST;
                ValueCopy.In(Value(cur), value, _valueSize, _lockOff, flags);
                return Errno.None;
            }
            if (op == MapUpdateFlags.Exist) return Errno.ENOENT;
        }

        if (_inPlaceSmall && op != MapUpdateFlags.NoExist)
        {
            // 1/2/4/8-byte values of a plain hash: one aligned store replaces the value atomically,
            // which readers cannot tell from the kernel's element replacement, without an allocation.
            nint cur = Find(key, hash);
            if (cur != 0)
            {
                byte* dst = Value(cur);
                switch (_valueSize)
                {
                    case 8: Volatile.Write(ref *(ulong*)dst, Unsafe.ReadUnaligned<ulong>(value)); break;
                    case 4: Volatile.Write(ref *(uint*)dst, Unsafe.ReadUnaligned<uint>(value)); break;
                    case 2: Volatile.Write(ref *(ushort*)dst, Unsafe.ReadUnaligned<ushort>(value)); break;
                    default: Volatile.Write(ref *dst, *value); break;
                }
                return Errno.None;
            }
            if (op == MapUpdateFlags.Exist) return Errno.ENOENT;
        }

        LruList? reserved = null;
        if (_lru is not null)
        {
            // Like the kernel (prealloc_lru_pop), take a node before the bucket lock, even if the key exists.
            reserved = ReserveLru(cpu);
            if (reserved is null) return Errno.ENOMEM;
        }

        nint fresh = 0;
        bool needFresh = !_percpu;
        if (needFresh) { fresh = NewElem(key, hash); WriteValue(fresh, value, host, cpu, flags & ~MapUpdateFlags.Lock); }

        LockBucket(b);
        nint old = FindLocked(b, key, hash, out nint prev);
        Errno err = Errno.None;
        if (old != 0 && op == MapUpdateFlags.NoExist) err = Errno.EEXIST;
        else if (old == 0 && op == MapUpdateFlags.Exist) err = Errno.ENOENT;
        if (err != 0)
        {
            UnlockBucket(b);
            reserved?.Unreserve();
            if (fresh != 0) NativeMemory.Free((void*)fresh);
            return err;
        }

        if (_percpu && old != 0)
        {
            // Per-CPU values are updated in place (pcpu_copy_value).
            WriteValue(old, value, host, cpu, flags);
            if (_lru is not null) HashElem.Ref(old) = 1;
            UnlockBucket(b);
            reserved?.Unreserve();
            return Errno.None;
        }

        if (fresh == 0)
        {
            fresh = NewElem(key, hash);
            WriteValue(fresh, value, host, cpu, flags);
        }

        if (old == 0 && _lru is null && !TryTakeCount())
        {
            UnlockBucket(b);
            NativeMemory.Free((void*)fresh);
            return Errno.E2BIG;
        }
        if (old == 0 && _lru is not null) Interlocked.Increment(ref _count);

        HashElem.Linked(fresh) = 1;
        if (reserved is not null) reserved.Insert(fresh);
        if (old != 0)
        {
            HashElem.Next(fresh) = HashElem.Next(old);
            SetLink(b, prev, fresh);
            HashElem.Linked(old) = 0;
            if (_lru is not null) _lru[HashElem.LruList(old)].Remove(old);
        }
        else
        {
            HashElem.Next(fresh) = _buckets[b];
            Volatile.Write(ref _buckets[b], fresh);
        }
        UnlockBucket(b);
        if (old != 0) EpochManager.Retire((void*)old);
        return Errno.None;
    }

    private Errno DeleteInternal(byte* key, byte* valueOut, bool hostValue, MapUpdateFlags flags)
    {
        uint hash = HashOf(key);
        uint b = hash & _bucketMask;
        LockBucket(b);
        nint e = FindLocked(b, key, hash, out nint prev);
        if (e == 0)
        {
            UnlockBucket(b);
            return Errno.ENOENT;
        }
        if (valueOut != null) ReadValue(e, valueOut, hostValue, flags);
        SetLink(b, prev, HashElem.Next(e));
        HashElem.Linked(e) = 0;
        Interlocked.Decrement(ref _count);
        if (_lru is not null) _lru[HashElem.LruList(e)].Remove(e);
        UnlockBucket(b);
        EpochManager.Retire((void*)e);
        return Errno.None;
    }

    private void ReadValue(nint e, byte* dst, bool host, MapUpdateFlags flags)
    {
        byte* src = Value(e);
        if (!_percpu) { ValueCopy.Out(dst, src, _valueSize, _lockOff, flags); return; }
        int n = _stride * BpfCpu.PossibleCount;
        Buffer.MemoryCopy(src, dst, n, n);
    }

    private protected override void FreeNative()
    {
        for (int i = 0; i < _buckets.Length; i++)
        {
            nint e = Interlocked.Exchange(ref _buckets[i], 0);
            while (e != 0)
            {
                nint next = HashElem.Next(e);
                EpochManager.Retire((void*)e);
                e = next;
            }
        }
        _count = 0;
    }

    // ---------------------------------------------------------------- host API

    private protected override Errno LookupCore(ReadOnlySpan<byte> key, Span<byte> value, MapUpdateFlags flags)
    {
        fixed (byte* k = key)
        fixed (byte* v = value)
        {
            nint e = Find(k, HashOf(k));
            if (e == 0) return Errno.ENOENT;
            ReadValue(e, v, true, flags);
        }
        return Errno.None;
    }

    private protected override Errno UpdateCore(ReadOnlySpan<byte> key, ReadOnlySpan<byte> value, MapUpdateFlags flags)
    {
        fixed (byte* k = key)
        fixed (byte* v = value)
            return UpdateInternal(k, v, flags, host: true, BpfCpu.Current);
    }

    private protected override Errno DeleteCore(ReadOnlySpan<byte> key)
    {
        fixed (byte* k = key) return DeleteInternal(k, null, false, 0);
    }

    private protected override Errno LookupAndDeleteCore(ReadOnlySpan<byte> key, Span<byte> value, MapUpdateFlags flags)
    {
        if ((flags & ~MapUpdateFlags.Lock) != 0) return Errno.EINVAL;
        fixed (byte* k = key)
        fixed (byte* v = value)
            return DeleteInternal(k, v, true, flags);
    }

    private protected override Errno GetNextKeyCore(ReadOnlySpan<byte> key, Span<byte> nextKey)
    {
        uint startBucket = 0;
        if (!key.IsEmpty)
        {
            fixed (byte* k = key)
            {
                uint hash = HashOf(k);
                nint e = Find(k, hash);
                if (e != 0)
                {
                    nint n = Volatile.Read(ref HashElem.Next(e));
                    if (n != 0)
                    {
                        new ReadOnlySpan<byte>(HashElem.Key(n), _keySize).CopyTo(nextKey);
                        return Errno.None;
                    }
                    startBucket = (hash & _bucketMask) + 1;
                }
                // A missing key restarts from the first element (htab_map_get_next_key → find_first_elem).
            }
        }
        for (uint i = startBucket; i < (uint)_buckets.Length; i++)
        {
            nint e = Volatile.Read(ref _buckets[i]);
            if (e != 0)
            {
                new ReadOnlySpan<byte>(HashElem.Key(e), _keySize).CopyTo(nextKey);
                return Errno.None;
            }
        }
        return Errno.ENOENT;
    }

    /// <summary>htab batch: the token is a u32 bucket index; a bucket is copied whole or not at all (ENOSPC if the first does not fit).</summary>
    private protected override MapBatchResult BatchLookupCore(ReadOnlySpan<byte> inBatch, Span<byte> outBatch, Span<byte> keys,
        Span<byte> values, uint count, MapUpdateFlags elemFlags, bool delete)
    {
        uint batch = inBatch.IsEmpty ? 0 : BinaryPrimitives.ReadUInt32LittleEndian(inBatch);
        if (!inBatch.IsEmpty && batch >= (uint)_buckets.Length) return new(0, Errno.ENOENT);
        int vs = HostValueSize;
        uint total = 0;
        Errno err = Errno.None;
        var retired = new List<nint>();
        while (true)
        {
            if (batch >= (uint)_buckets.Length) { err = Errno.ENOENT; break; }
            LockBucket(batch);
            uint cnt = 0;
            for (nint e = _buckets[batch]; e != 0; e = HashElem.Next(e)) cnt++;
            if (cnt > count - total)
            {
                UnlockBucket(batch);
                if (total == 0) err = Errno.ENOSPC;
                break;
            }
            fixed (byte* kb = keys)
            fixed (byte* vb = values)
            {
                for (nint e = _buckets[batch]; e != 0; e = HashElem.Next(e))
                {
                    Buffer.MemoryCopy(HashElem.Key(e), kb + total * _keySize, _keySize, _keySize);
                    ReadValue(e, vb + (nuint)total * (nuint)vs, true, elemFlags);
                    total++;
                }
            }
            if (delete)
            {
                for (nint e = _buckets[batch]; e != 0; e = HashElem.Next(e))
                {
                    HashElem.Linked(e) = 0;
                    Interlocked.Decrement(ref _count);
                    if (_lru is not null) _lru[HashElem.LruList(e)].Remove(e);
                    retired.Add(e);
                }
                Volatile.Write(ref _buckets[batch], 0);
            }
            UnlockBucket(batch);
            batch++;
        }
        foreach (var e in retired) EpochManager.Retire((void*)e);
        BinaryPrimitives.WriteUInt32LittleEndian(outBatch, batch);
        return new(total, err);
    }

    // ---------------------------------------------------------------- program API

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal override byte* ProgramLookup(byte* key, int cpu)
    {
        nint e = Find(key, HashOf(key));
        if (e == 0) return null;
        if (_lru is not null && HashElem.Ref(e) == 0) HashElem.Ref(e) = 1;
        byte* v = Value(e);
        if (!_percpu) return v;
        return (uint)cpu < (uint)BpfCpu.PossibleCount ? v + cpu * _stride : null;
    }

    /// <summary>bpf_map_lookup_elem from compiled code on a shared (not per-CPU) hash: no CPU to look up.</summary>
    internal ulong CompiledLookupShared(ulong key) => (ulong)ProgramLookup((byte*)key, 0);

    internal override byte* ProgramLookupPercpu(byte* key, uint cpu)
    {
        if (!_percpu || cpu >= (uint)BpfCpu.PossibleCount) return null;
        nint e = Find(key, HashOf(key));
        if (e == 0) return null;
        if (_lru is not null && HashElem.Ref(e) == 0) HashElem.Ref(e) = 1;
        return Value(e) + cpu * _stride;
    }

    internal override long ProgramUpdate(byte* key, byte* value, ulong flags, int cpu)
    {
        if ((flags & ~(ulong)MapUpdateFlags.Lock) > (ulong)MapUpdateFlags.Exist) return -(long)Errno.EINVAL;
        if ((flags & (ulong)MapUpdateFlags.Lock) != 0 && _lockOff < 0) return -(long)Errno.EINVAL;
        if ((uint)cpu >= (uint)BpfCpu.PossibleCount) return -(long)Errno.EINVAL;
        return -(long)UpdateInternal(key, value, (MapUpdateFlags)flags, host: false, cpu);
    }

    internal override long ProgramDelete(byte* key, int cpu) => -(long)DeleteInternal(key, null, false, 0);

    private protected override long ForEachCore(MapElementCallback callback, int cpu)
    {
        long n = 0;
        for (int i = 0; i < _buckets.Length; i++)
        {
            for (nint e = Volatile.Read(ref _buckets[i]); e != 0; e = Volatile.Read(ref HashElem.Next(e)))
            {
                byte* v = Value(e);
                if (_percpu) v += cpu * _stride;
                n++;
                if (callback(this, HashElem.Key(e), v) != 0) return n;
            }
        }
        return n;
    }
}

internal static class BitOperationsEx
{
    public static uint RoundUpPow2(uint v) => v <= 1 ? 1 : System.Numerics.BitOperations.RoundUpToPowerOf2(v);
}
