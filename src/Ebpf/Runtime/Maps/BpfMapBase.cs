using Ebpf.Collections;
using Ebpf.Abi;
using Ebpf.Runtime.Memory;

namespace Ebpf.Runtime.Maps;

/// <summary>What a map-in-map slot takes a reference on besides the storage (the object with the id).</summary>
internal interface IMapHolderTarget
{
    void AcquireForHolder();
    void ReleaseForHolder();
}

/// <summary>Callback of bpf_for_each_map_elem: return 0 to continue, 1 to stop.</summary>
internal unsafe delegate long MapElementCallback(BpfMapBase map, byte* key, byte* value);

/// <summary>
/// A live map: the kernel's <c>struct bpf_map</c>. Three faces:
/// <list type="bullet">
/// <item>the host API (the bpf(2) map commands): <see cref="Lookup"/>, <see cref="Update"/>,
/// <see cref="Delete"/>, <see cref="GetNextKey"/>, <see cref="LookupAndDelete"/>, the batch
/// commands and <see cref="Freeze"/>, with the kernel's errno in <see cref="BpfException"/>
/// (or as a return value from the <c>*Elem</c> variants);</item>
/// <item>the program API used by helpers: <see cref="ProgramLookup"/> returns a stable native
/// pointer, the others return the helper's return value (0 or a negative errno);</item>
/// <item>the object: attributes/info, reference counts (refcnt and usercnt) for a registry,
/// <see cref="NativeHandle"/> (a map pointer a register can hold), and freeing.</item>
/// </list>
/// Every operation runs inside an <see cref="EpochManager"/> critical section; program-side calls
/// expect the engine to be inside one already (they enter a nested one only where noted).
/// </summary>
public abstract unsafe class BpfMapBase : IDisposable
{
    private long _refs = 1;
    private long _userRefs = 1;
    private int _frozen;
    private int _freed;
    private int _creatorClosed;
    private ulong _handle;
    private readonly object _handleLock = new();

    private protected BpfMapBase(MapDefinition attributes, uint effectiveMaxEntries)
    {
        Attributes = attributes;
        MaxEntries = effectiveMaxEntries;
    }

    /// <summary>The BPF_MAP_CREATE attributes the map was created with.</summary>
    public MapDefinition Attributes { get; }
    /// <summary>map_type.</summary>
    public MapType Type => Attributes.Type;
    /// <summary>key_size in bytes.</summary>
    public uint KeySize => Attributes.KeySize;
    /// <summary>value_size in bytes (one CPU's slot for per-CPU maps).</summary>
    public uint ValueSize => Attributes.ValueSize;
    /// <summary>max_entries as the kernel reports it (LRU per-CPU maps round it to a multiple of the CPU count).</summary>
    public uint MaxEntries { get; }
    /// <summary>map_flags.</summary>
    public MapFlags Flags => Attributes.Flags;
    /// <summary>The map's name (at most 15 characters, as the kernel keeps it).</summary>
    public string Name => Attributes.Name;
    /// <summary>Global id, assigned by the object registry (0 until then).</summary>
    public uint Id { get; internal set; }

    /// <summary>True for maps whose host values hold one rounded slot per possible CPU.</summary>
    public virtual bool IsPerCpu => false;

    /// <summary>Size of a value buffer in the host API: value_size, or round_up(value_size, 8) × possible CPUs for per-CPU maps.</summary>
    public int HostValueSize => IsPerCpu ? NativeBlock.RoundUp8((int)ValueSize) * BpfCpu.PossibleCount : (int)ValueSize;

    /// <summary>Size of the opaque in_batch/out_batch token of the batch commands.</summary>
    public virtual int BatchTokenSize => (int)KeySize;

    /// <summary>False with BPF_F_WRONLY_PROG: the verifier must reject program reads of values.</summary>
    public bool ProgramCanRead => (Flags & MapFlags.WronlyProg) == 0;

    /// <summary>False with BPF_F_RDONLY_PROG: the verifier must reject program writes (stores and update/delete helpers).</summary>
    public bool ProgramCanWrite => (Flags & MapFlags.RdonlyProg) == 0;

    /// <summary>Whether BPF_MAP_FREEZE was applied: user space can no longer write it.</summary>
    public bool IsFrozen => Volatile.Read(ref _frozen) != 0;
    internal bool IsFreed => Volatile.Read(ref _freed) != 0;
    private protected bool HasSpinLock => Attributes.SpinLockOffset >= 0;

    /// <summary>The map's description as BPF_OBJ_GET_INFO_BY_FD reports it.</summary>
    public MapInfo Info => new()
    {
        Id = Id, Type = Type, Name = Name, KeySize = KeySize, ValueSize = ValueSize, MaxEntries = MaxEntries, Flags = Flags,
        MapExtra = Attributes.MapExtra, Frozen = IsFrozen, BtfKeyTypeId = Attributes.BtfKeyTypeId, BtfValueTypeId = Attributes.BtfValueTypeId,
    };

    // ---------------------------------------------------------------- references

    /// <summary>
    /// The value identifying this map in a register (the map pointer of a map-in-map lookup): a
    /// <see cref="MapHandleTable"/> handle, created on first use (so a constructor that fails leaves no entry
    /// behind) and ended when the map is freed.
    /// </summary>
    internal nint NativeHandle
    {
        get
        {
            ulong handle = Volatile.Read(ref _handle);
            if (handle != 0)
                return (nint)handle;
            lock (_handleLock)
            {
                ThrowIfFreed();
                if (_handle == 0)
                    Volatile.Write(ref _handle, MapHandleTable.Add(this));
                return (nint)_handle;
            }
        }
    }

    /// <summary>The map behind a <see cref="NativeHandle"/>, or null when the value is not a live map's handle.</summary>
    internal static BpfMapBase? FromNativeHandle(nint handle) => MapHandleTable.Find((ulong)handle) as BpfMapBase;

    /// <summary>
    /// The registry object this storage belongs to (the runtime's MapObject, which owns the id), or null
    /// for standalone maps. A map-in-map slot holds a reference on it too, so an inner map keeps its id
    /// while an outer map holds it, as the kernel's slot holds the bpf_map itself.
    /// </summary>
    internal IMapHolderTarget? RegistryObject { get; set; }

    internal long RefCount => Interlocked.Read(ref _refs);
    internal long UserRefCount => Interlocked.Read(ref _userRefs);

    /// <summary>Raised once when the last reference is dropped, before the memory is freed (registry: remove the id).</summary>
    internal event Action<BpfMapBase>? Releasing;

    /// <summary>Takes a reference (a program's used_maps, a map-in-map slot). Fails on a freed map.</summary>
    internal void AddRef()
    {
        long v;
        do
        {
            v = Interlocked.Read(ref _refs);
            if (v <= 0) throw new BpfException(Errno.ENOENT, $"map '{Name}' (id {Id}) is being freed");
        } while (Interlocked.CompareExchange(ref _refs, v + 1, v) != v);
    }

    /// <summary>Drops a reference; the last one frees the map.</summary>
    internal void Release()
    {
        long v = Interlocked.Decrement(ref _refs);
        if (v == 0) Free();
        else if (v < 0) throw new InvalidOperationException($"map '{Name}': reference count below zero");
    }

    /// <summary>Takes a user reference (a handle or a pin): both counters, like bpf_map_inc_with_uref.</summary>
    internal void AddUserRef()
    {
        AddRef();
        Interlocked.Increment(ref _userRefs);
    }

    /// <summary>Drops a user reference; at zero the map's "release uref" hook runs (prog arrays clear every slot).</summary>
    internal void ReleaseUserRef()
    {
        if (Interlocked.Decrement(ref _userRefs) == 0) OnUserRefsReleased();
        Release();
    }

    /// <summary>The kernel's map_release_uref hook.</summary>
    private protected virtual void OnUserRefsReleased() { }

    /// <summary>
    /// Closes the creator's handle: drops the user reference taken at creation (once; later calls do
    /// nothing). The map is freed now unless something else (a program, a map-in-map slot, a pin)
    /// still holds a reference — exactly like closing the fd returned by BPF_MAP_CREATE.
    /// </summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _creatorClosed, 1) == 0 && !IsFreed) ReleaseUserRef();
        GC.SuppressFinalize(this);
    }

    private void Free()
    {
        if (Interlocked.Exchange(ref _freed, 1) != 0) return;
        Releasing?.Invoke(this);
        // Programs may be mid-flight on another thread in standalone use: defer through the epoch.
        FreeNative();
        lock (_handleLock)
            MapHandleTable.Remove(Interlocked.Exchange(ref _handle, 0));
    }

    /// <summary>Frees native memory (through <see cref="EpochManager"/> where a reader might still hold it).</summary>
    private protected abstract void FreeNative();

    private protected void ThrowIfFreed()
    {
        if (IsFreed) throw new BpfException(Errno.EBADF, $"map '{Name}' (id {Id}) has been freed");
    }

    // ---------------------------------------------------------------- freeze

    /// <summary>BPF_MAP_FREEZE: the host API may no longer write (EPERM); programs still may (unless BPF_F_RDONLY_PROG).</summary>
    public void Freeze()
    {
        ThrowIfFreed();
        if (HasSpinLock)
            throw new BpfException(Errno.ENOTSUPP, $"map '{Name}': cannot freeze a map whose value has special fields (bpf_spin_lock)");
        if ((Flags & MapFlags.Rdonly) != 0)
            throw new BpfException(Errno.EPERM, $"map '{Name}': freeze needs write access (map created BPF_F_RDONLY)");
        if (Interlocked.CompareExchange(ref _frozen, 1, 0) != 0)
            throw new BpfException(Errno.EBUSY, $"map '{Name}' is already frozen");
    }

    /// <summary>The owning runtime object froze the map (it has checked the preconditions itself): host writes now fail with EPERM.</summary>
    internal void MarkFrozen() => Volatile.Write(ref _frozen, 1);

    // ---------------------------------------------------------------- host API (errno-returning)

    private Errno CheckRead() =>
        (Flags & MapFlags.Wronly) != 0 ? Errno.EPERM : Errno.None;

    private Errno CheckWrite() =>
        (Flags & MapFlags.Rdonly) != 0 || IsFrozen ? Errno.EPERM : Errno.None;

    private Errno CheckKey(ReadOnlySpan<byte> key, bool allowNull) =>
        key.Length == (int)KeySize || (allowNull && key.IsEmpty) ? Errno.None : Errno.EINVAL;

    private Errno CheckLookupFlags(MapUpdateFlags flags)
    {
        if ((flags & ~MapUpdateFlags.Lock) != 0) return Errno.EINVAL;
        if ((flags & MapUpdateFlags.Lock) != 0 && !HasSpinLock) return Errno.EINVAL;
        return Errno.None;
    }

    /// <summary>BPF_MAP_LOOKUP_ELEM. Flags: 0 or BPF_F_LOCK.</summary>
    public Errno LookupElem(ReadOnlySpan<byte> key, Span<byte> value, MapUpdateFlags flags = MapUpdateFlags.Any)
    {
        ThrowIfFreed();
        Errno e;
        if ((e = CheckRead()) != 0 || (e = CheckLookupFlags(flags)) != 0 || (e = CheckKey(key, false)) != 0) return e;
        if (value.Length != HostValueSize) return Errno.EINVAL;
        using var _ = EpochManager.Guard();
        return LookupCore(key, value, flags);
    }

    /// <summary>BPF_MAP_UPDATE_ELEM. Flags: BPF_ANY / BPF_NOEXIST / BPF_EXIST, optionally | BPF_F_LOCK.</summary>
    public Errno UpdateElem(ReadOnlySpan<byte> key, ReadOnlySpan<byte> value, MapUpdateFlags flags = MapUpdateFlags.Any)
    {
        ThrowIfFreed();
        Errno e;
        if ((e = CheckWrite()) != 0 || (e = CheckKey(key, false)) != 0) return e;
        if (((ulong)flags & ~(ulong)MapUpdateFlags.Lock) > (ulong)MapUpdateFlags.Exist) return Errno.EINVAL;
        if ((flags & MapUpdateFlags.Lock) != 0 && !HasSpinLock) return Errno.EINVAL;
        if (value.Length != HostValueSize) return Errno.EINVAL;
        using var _ = EpochManager.Guard();
        return UpdateCore(key, value, flags);
    }

    /// <summary>BPF_MAP_DELETE_ELEM.</summary>
    public Errno DeleteElem(ReadOnlySpan<byte> key)
    {
        ThrowIfFreed();
        Errno e;
        if ((e = CheckWrite()) != 0 || (e = CheckKey(key, false)) != 0) return e;
        using var _ = EpochManager.Guard();
        return DeleteCore(key);
    }

    /// <summary>BPF_MAP_GET_NEXT_KEY. An empty <paramref name="key"/> is NULL (first key); ENOENT after the last.</summary>
    public Errno GetNextKeyElem(ReadOnlySpan<byte> key, Span<byte> nextKey)
    {
        ThrowIfFreed();
        Errno e;
        if ((e = CheckRead()) != 0 || (e = CheckKey(key, true)) != 0) return e;
        if (nextKey.Length != (int)KeySize) return Errno.EINVAL;
        using var _ = EpochManager.Guard();
        return GetNextKeyCore(key, nextKey);
    }

    /// <summary>BPF_MAP_LOOKUP_AND_DELETE_ELEM (hash maps, queue/stack pop).</summary>
    public Errno LookupAndDeleteElem(ReadOnlySpan<byte> key, Span<byte> value, MapUpdateFlags flags = MapUpdateFlags.Any)
    {
        ThrowIfFreed();
        Errno e;
        if ((e = CheckRead()) != 0 || (e = CheckWrite()) != 0 || (e = CheckKey(key, false)) != 0) return e;
        if (value.Length != HostValueSize) return Errno.EINVAL;
        using var _ = EpochManager.Guard();
        return LookupAndDeleteCore(key, value, flags);
    }

    // ---------------------------------------------------------------- host API (throwing)

    /// <summary>
    /// Copies the value of <paramref name="key"/> into <paramref name="value"/>; throws a <see cref="BpfException"/>
    /// with the errno on failure (ENOENT when missing).
    /// </summary>
    public void Lookup(ReadOnlySpan<byte> key, Span<byte> value, MapUpdateFlags flags = MapUpdateFlags.Any) =>
        Check(LookupElem(key, value, flags), "lookup");

    /// <summary>Lookup that returns false for a missing key (ENOENT) and throws on anything else.</summary>
    public bool TryLookup(ReadOnlySpan<byte> key, Span<byte> value, MapUpdateFlags flags = MapUpdateFlags.Any)
    {
        var e = LookupElem(key, value, flags);
        if (e == Errno.ENOENT) return false;
        Check(e, "lookup");
        return true;
    }

    /// <summary>
    /// Stores <paramref name="value"/> at <paramref name="key"/> under <paramref name="flags"/>; throws a <see
    /// cref="BpfException"/> with the errno on failure.
    /// </summary>
    public void Update(ReadOnlySpan<byte> key, ReadOnlySpan<byte> value, MapUpdateFlags flags = MapUpdateFlags.Any) =>
        Check(UpdateElem(key, value, flags), "update");

    /// <summary>
    /// Deletes <paramref name="key"/>; throws a <see cref="BpfException"/> with the errno on failure (ENOENT when
    /// missing).
    /// </summary>
    public void Delete(ReadOnlySpan<byte> key) => Check(DeleteElem(key), "delete");

    /// <summary>Writes the key after <paramref name="key"/> (empty = first); false at the end.</summary>
    public bool GetNextKey(ReadOnlySpan<byte> key, Span<byte> nextKey)
    {
        var e = GetNextKeyElem(key, nextKey);
        if (e == Errno.ENOENT) return false;
        Check(e, "get_next_key");
        return true;
    }

    /// <summary>
    /// Copies the value of <paramref name="key"/> out and removes it (queue/stack: pops, with an empty key); throws
    /// on failure.
    /// </summary>
    public void LookupAndDelete(ReadOnlySpan<byte> key, Span<byte> value, MapUpdateFlags flags = MapUpdateFlags.Any) =>
        Check(LookupAndDeleteElem(key, value, flags), "lookup_and_delete");

    /// <summary>All keys in iteration order (get_next_key from NULL).</summary>
    public List<byte[]> Keys()
    {
        var keys = new List<byte[]>();
        var cur = Array.Empty<byte>();
        var next = new byte[KeySize];
        while (GetNextKey(cur, next))
        {
            keys.Add(next.ToArray());
            cur = keys[^1];
            if (keys.Count > (long)MaxEntries * 4 + 16) break; // concurrent churn: never loop forever
        }
        return keys;
    }

    private protected void Check(Errno e, string what)
    {
        if (e != Errno.None)
            throw new BpfException(e, $"map '{Name}' (type {Type}, id {Id}): {what} failed");
    }

    // ---------------------------------------------------------------- batch commands

    private Errno CheckBatchFlags(MapUpdateFlags elemFlags, ulong flags)
    {
        if (flags != 0) return Errno.EINVAL;
        return CheckLookupFlags(elemFlags);
    }

    /// <summary>BPF_MAP_LOOKUP_BATCH. <paramref name="inBatch"/> empty = from the start. ENOENT when the end was reached (Count still valid).</summary>
    public MapBatchResult LookupBatch(ReadOnlySpan<byte> inBatch, Span<byte> outBatch, Span<byte> keys, Span<byte> values,
        uint count, MapUpdateFlags elemFlags = MapUpdateFlags.Any, ulong flags = 0) =>
        BatchLookupChecked(inBatch, outBatch, keys, values, count, elemFlags, flags, delete: false);

    /// <summary>BPF_MAP_LOOKUP_AND_DELETE_BATCH (hash maps only; others ENOTSUPP).</summary>
    public MapBatchResult LookupAndDeleteBatch(ReadOnlySpan<byte> inBatch, Span<byte> outBatch, Span<byte> keys, Span<byte> values,
        uint count, MapUpdateFlags elemFlags = MapUpdateFlags.Any, ulong flags = 0) =>
        BatchLookupChecked(inBatch, outBatch, keys, values, count, elemFlags, flags, delete: true);

    private MapBatchResult BatchLookupChecked(ReadOnlySpan<byte> inBatch, Span<byte> outBatch, Span<byte> keys, Span<byte> values,
        uint count, MapUpdateFlags elemFlags, ulong flags, bool delete)
    {
        ThrowIfFreed();
        Errno e;
        if ((e = CheckRead()) != 0 || (delete && (e = CheckWrite()) != 0) || (e = CheckBatchFlags(elemFlags, flags)) != 0)
            return new(0, e);
        if (!inBatch.IsEmpty && inBatch.Length != BatchTokenSize || outBatch.Length != BatchTokenSize
            || (ulong)keys.Length < (ulong)count * KeySize || (ulong)values.Length < (ulong)count * (ulong)HostValueSize)
            return new(0, Errno.EINVAL);
        if (count == 0) return new(0, Errno.None);
        using var _ = EpochManager.Guard();
        return BatchLookupCore(inBatch, outBatch, keys, values, count, elemFlags, delete);
    }

    /// <summary>BPF_MAP_UPDATE_BATCH: stops at the first failing element; Count = elements updated.</summary>
    public MapBatchResult UpdateBatch(ReadOnlySpan<byte> keys, ReadOnlySpan<byte> values, uint count,
        MapUpdateFlags elemFlags = MapUpdateFlags.Any, ulong flags = 0)
    {
        ThrowIfFreed();
        Errno e;
        if ((e = CheckWrite()) != 0) return new(0, e);
        if (flags != 0 || ((ulong)elemFlags & ~(ulong)MapUpdateFlags.Lock) > (ulong)MapUpdateFlags.Exist
            || (elemFlags & MapUpdateFlags.Lock) != 0 && !HasSpinLock) return new(0, Errno.EINVAL);
        int ks = (int)KeySize, vs = HostValueSize;
        if ((ulong)keys.Length < (ulong)count * (ulong)ks || (ulong)values.Length < (ulong)count * (ulong)vs) return new(0, Errno.EINVAL);
        using var _ = EpochManager.Guard();
        for (uint i = 0; i < count; i++)
        {
            e = UpdateCore(keys.Slice((int)i * ks, ks), values.Slice((int)i * vs, vs), elemFlags);
            if (e != 0) return new(i, e);
        }
        return new(count, Errno.None);
    }

    /// <summary>BPF_MAP_DELETE_BATCH: stops at the first failing element; Count = elements deleted.</summary>
    public MapBatchResult DeleteBatch(ReadOnlySpan<byte> keys, uint count, MapUpdateFlags elemFlags = MapUpdateFlags.Any, ulong flags = 0)
    {
        ThrowIfFreed();
        Errno e;
        if ((e = CheckWrite()) != 0) return new(0, e);
        if (flags != 0 || (elemFlags & ~MapUpdateFlags.Lock) != 0) return new(0, Errno.EINVAL);
        int ks = (int)KeySize;
        if ((ulong)keys.Length < (ulong)count * (ulong)ks) return new(0, Errno.EINVAL);
        using var _ = EpochManager.Guard();
        for (uint i = 0; i < count; i++)
        {
            e = DeleteCore(keys.Slice((int)i * ks, ks));
            if (e != 0) return new(i, e);
        }
        return new(count, Errno.None);
    }

    /// <summary>
    /// generic_map_lookup_batch: walks get_next_key from the in_batch key; out_batch = the last key
    /// copied. Maps without get_next_key (or with bucket tokens) override.
    /// </summary>
    private protected virtual MapBatchResult BatchLookupCore(ReadOnlySpan<byte> inBatch, Span<byte> outBatch, Span<byte> keys,
        Span<byte> values, uint count, MapUpdateFlags elemFlags, bool delete)
    {
        if (delete) return new(0, Errno.ENOTSUPP);
        int ks = (int)KeySize, vs = HostValueSize;
        byte[] prev = new byte[ks], next = new byte[ks];
        inBatch.CopyTo(prev);
        bool hasPrev = !inBatch.IsEmpty;
        uint cp = 0;
        Errno err = Errno.None;
        int retries = 3;
        while (cp < count)
        {
            err = GetNextKeyCore(hasPrev ? prev : ReadOnlySpan<byte>.Empty, next);
            if (err != 0) break;
            err = LookupCore(next, values.Slice((int)cp * vs, vs), elemFlags);
            if (err == Errno.ENOENT)
            {
                if (retries-- > 0) continue;
                err = Errno.EINTR;
                break;
            }
            if (err != 0) break;
            next.CopyTo(keys.Slice((int)cp * ks, ks));
            (prev, next) = (next, prev);
            hasPrev = true;
            retries = 3;
            cp++;
        }
        if (cp > 0) prev.AsSpan(0, ks).CopyTo(outBatch);
        return new(cp, err);
    }

    // ---------------------------------------------------------------- per-type host operations

    private protected virtual Errno LookupCore(ReadOnlySpan<byte> key, Span<byte> value, MapUpdateFlags flags) => Errno.ENOTSUPP;
    private protected virtual Errno UpdateCore(ReadOnlySpan<byte> key, ReadOnlySpan<byte> value, MapUpdateFlags flags) => Errno.ENOTSUPP;
    private protected virtual Errno DeleteCore(ReadOnlySpan<byte> key) => Errno.ENOTSUPP;
    private protected virtual Errno GetNextKeyCore(ReadOnlySpan<byte> key, Span<byte> nextKey) => Errno.ENOTSUPP;
    private protected virtual Errno LookupAndDeleteCore(ReadOnlySpan<byte> key, Span<byte> value, MapUpdateFlags flags) => Errno.ENOTSUPP;

    // ---------------------------------------------------------------- program API (helpers)

    /// <summary>bpf_map_lookup_elem: a pointer to the value (per-CPU maps: <paramref name="cpu"/>'s copy), or null.
    /// Valid while the caller stays in its epoch critical section (and for arrays, for the map's lifetime).</summary>
    internal virtual byte* ProgramLookup(byte* key, int cpu) => null;

    /// <summary>bpf_map_update_elem: 0 or a negative errno.</summary>
    internal virtual long ProgramUpdate(byte* key, byte* value, ulong flags, int cpu) => -(long)Errno.EINVAL;

    /// <summary>bpf_map_delete_elem: 0 or a negative errno.</summary>
    internal virtual long ProgramDelete(byte* key, int cpu) => -(long)Errno.EINVAL;

    // Direct call targets for compiled, verified code whose R1 is this map (MapCallSpecializer): the map
    // helpers' unchecked paths with the handle already resolved. Non-virtual, so the JIT calls them directly.

    /// <summary>bpf_map_lookup_elem from compiled code.</summary>
    internal ulong CompiledLookup(ulong key) => (ulong)ProgramLookup((byte*)key, BpfCpu.Current);

    /// <summary>bpf_map_update_elem from compiled code.</summary>
    internal ulong CompiledUpdate(ulong key, ulong value, ulong flags) =>
        key == 0 || value == 0 ? unchecked((ulong)-(long)Errno.EFAULT) : (ulong)ProgramUpdate((byte*)key, (byte*)value, flags, BpfCpu.Current);

    /// <summary>bpf_map_delete_elem from compiled code.</summary>
    internal ulong CompiledDelete(ulong key) =>
        key == 0 ? unchecked((ulong)-(long)Errno.EFAULT) : (ulong)ProgramDelete((byte*)key, BpfCpu.Current);

    /// <summary>bpf_map_push_elem (queue, stack, bloom filter).</summary>
    internal virtual long ProgramPush(byte* value, ulong flags) => -(long)Errno.EINVAL;

    /// <summary>bpf_map_pop_elem: the value buffer is zeroed when empty (-ENOENT).</summary>
    internal virtual long ProgramPop(byte* value) => -(long)Errno.EINVAL;

    /// <summary>bpf_map_peek_elem (queue, stack; bloom filter: membership test).</summary>
    internal virtual long ProgramPeek(byte* value) => -(long)Errno.EINVAL;

    /// <summary>bpf_map_lookup_percpu_elem: <paramref name="cpu"/>'s copy, null if cpu ≥ possible CPUs or the key is missing.</summary>
    internal virtual byte* ProgramLookupPercpu(byte* key, uint cpu) => null;

    /// <summary>bpf_for_each_map_elem: number of elements visited (including the one that returned 1), or a negative errno.</summary>
    internal long ForEachElement(MapElementCallback callback, ulong flags, int cpu)
    {
        if (flags != 0 || (uint)cpu >= (uint)BpfCpu.PossibleCount) return -(long)Errno.EINVAL;
        EpochManager.Enter();
        try { return ForEachCore(callback, cpu); }
        finally { EpochManager.Exit(); }
    }

    private protected virtual long ForEachCore(MapElementCallback callback, int cpu) => -(long)Errno.EINVAL;

    /// <summary>Whether bpf_for_each_map_elem accepts this map (array, percpu_array, hash family).</summary>
    public virtual bool SupportsForEach => false;
}
