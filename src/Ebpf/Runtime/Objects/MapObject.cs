using Ebpf.Abi;
using Ebpf.Collections;

namespace Ebpf.Runtime.Objects;

/// <summary>
/// A map inside the runtime. Two counters, as the kernel keeps them (kernel-semantics.md §1.3):
/// <see cref="KernelObject.ReferenceCount"/> counts every holder; <see cref="UserReferenceCount"/>
/// counts only user space holders (handles and pins). When the user count drops to zero
/// <see cref="UserReferencesReleased"/> runs — for a prog array that clears every slot, breaking
/// prog → map → prog cycles — while the map itself may live on for the programs that use it.
/// </summary>
public sealed class MapObject : KernelObject, Maps.IMapHolderTarget
{
    private long _userRefs;
    private readonly Lock _lock = new();
    private List<Action<MapObject>>? _userReleaseHooks;

    internal MapObject(BpfRuntime runtime, MapDefinition definition, BtfObject? btf, IDisposable? storage)
        : base(runtime, ObjectKind.Map)
    {
        Definition = definition;
        Btf = btf;
        Storage = storage;
        if (storage is Maps.BpfMapBase b)
            b.RegistryObject = this;
        if (storage is Maps.ProgArrayMap progArray)
        {
            ProgramSlots = new ProgramArraySlots(this, progArray);
            progArray.EntryReleased += ProgramArraySlots.ReleaseEntry;
            progArray.Resolver = runtime.ResolveProgramForSlot;
            progArray.Admit = ProgramArraySlots.Admit;
        }
    }

    private ulong _handle;

    /// <summary>The definition the map was created from (type, sizes, flags, name, BTF type ids).</summary>
    public MapDefinition Definition { get; }

    /// <summary>The map storage (Runtime/Maps); null only for lifecycle-only maps (no storage factory).</summary>
    public Maps.BpfMapBase? Maps => Storage as Maps.BpfMapBase;

    /// <summary>
    /// What an lddw of this map puts in a register (the kernel's struct bpf_map *): a
    /// <see cref="Ebpf.Runtime.Maps.MapHandleTable"/> handle helpers turn back into the map with <see cref="FromNativeHandle"/>.
    /// Valid while the map lives; ended when it is freed.
    /// </summary>
    public nint NativeHandle
    {
        get
        {
            lock (_lock)
            {
                if (_handle == 0)
                    _handle = Ebpf.Runtime.Maps.MapHandleTable.Add(this);
                return (nint)_handle;
            }
        }
    }

    /// <summary>The map behind a register value produced by <see cref="NativeHandle"/>, or null when it is not a live one.</summary>
    public static MapObject? FromNativeHandle(ulong handle) => Ebpf.Runtime.Maps.MapHandleTable.Find(handle) as MapObject;

    /// <summary>The map type (BPF_MAP_TYPE_*).</summary>
    public MapType Type => Definition.Type;
    /// <summary>The map's name (at most 15 characters).</summary>
    public string Name => Definition.Name;
    /// <summary>The BTF the map's key and value types come from; null for a map created without BTF.</summary>
    public BtfObject? Btf { get; }

    /// <summary>The map's storage (Runtime/Maps); disposed when the map is freed.</summary>
    public IDisposable? Storage { get; internal set; }

    /// <summary>The typed view of a BPF_MAP_TYPE_PROG_ARRAY's storage (each slot holds a program reference); null for other types.</summary>
    public ProgramArraySlots? ProgramSlots { get; }

    /// <summary>BPF_MAP_FREEZE done: user space can no longer write.</summary>
    public bool IsFrozen { get; private set; }

    /// <summary>References held by user space (fds and pins: the kernel's usercnt); at zero, a PROG_ARRAY is
    /// cleared even while programs still hold the map.</summary>
    public long UserReferenceCount => Interlocked.Read(ref _userRefs);

    /// <summary>Runs when the user reference count reaches zero (the kernel's map_release_uref).</summary>
    public event Action<MapObject> UserReferencesReleased
    {
        add { lock (_lock) (_userReleaseHooks ??= new()).Add(value); }
        remove { lock (_lock) _userReleaseHooks?.Remove(value); }
    }

    /// <summary>BPF_MAP_FREEZE: ENOTSUPP for a value with special fields (bpf_spin_lock, bpf_timer), EBUSY if already frozen.</summary>
    public void Freeze()
    {
        if (Definition.SpinLockOffset >= 0 || Definition.TimerOffset >= 0)
            throw new BpfException(Errno.ENOTSUPP, $"map {Id} ('{Name}'): cannot freeze a map whose value has special fields (bpf_spin_lock, bpf_timer)");
        lock (_lock)
        {
            if (IsFrozen)
                throw new BpfException(Errno.EBUSY, $"map {Id} ('{Name}') is already frozen");
            IsFrozen = true;
            Maps?.MarkFrozen(); // host writes through the storage must see it too (EPERM)
        }
    }

    /// <summary>A user reference: refcnt and usercnt (handles, pins, GET_FD_BY_ID).</summary>
    internal void AcquireUser()
    {
        Acquire();
        Interlocked.Increment(ref _userRefs);
    }

    internal bool TryAcquireUser()
    {
        if (!TryAcquire())
            return false;
        Interlocked.Increment(ref _userRefs);
        return true;
    }

    internal void ReleaseUser()
    {
        if (Interlocked.Decrement(ref _userRefs) == 0)
        {
            (Maps as Maps.ProgArrayMap)?.ReleaseUserReferences();
            Action<MapObject>[] hooks;
            lock (_lock) hooks = _userReleaseHooks?.ToArray() ?? [];
            foreach (var hook in hooks)
                hook(this);
        }
        Release();
    }

    // A map-in-map slot holds the map (refcnt only, not usercnt): the id stays visible while it does.
    void Maps.IMapHolderTarget.AcquireForHolder() => Acquire();
    void Maps.IMapHolderTarget.ReleaseForHolder() => Release();

    /// <summary>Creation: the creator's reference is a user reference (the fd BPF_MAP_CREATE returns).</summary>
    internal void MarkCreatorIsUser() => Interlocked.Increment(ref _userRefs);

    /// <summary>bpf_map_info; map_flags without BPF_F_RDONLY/WRONLY (bpf_map_flags_retain_permanent: they belong to fds).</summary>
    public MapInfo GetInfo() => new()
    {
        Id = Id, Type = Type, Name = Name, KeySize = Definition.KeySize, ValueSize = Definition.ValueSize,
        MaxEntries = Maps?.MaxEntries ?? Definition.MaxEntries, Flags = Definition.Flags & ~(MapFlags.Rdonly | MapFlags.Wronly),
        MapExtra = Definition.MapExtra, BtfId = Btf?.Id ?? 0, Frozen = IsFrozen,
        BtfKeyTypeId = Btf is null ? 0 : Definition.BtfKeyTypeId, BtfValueTypeId = Btf is null ? 0 : Definition.BtfValueTypeId,
    };

    /// <summary>Clears a PROG_ARRAY's slots, disposes the storage, releases the BTF and retires the native handle.</summary>
    protected override void OnFree()
    {
        ProgramSlots?.Clear();
        Storage?.Dispose();
        Btf?.Release();
        lock (_lock)
        {
            Ebpf.Runtime.Maps.MapHandleTable.Remove(_handle);
            _handle = 0;
        }
    }
}
