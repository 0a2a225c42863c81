using Ebpf.Collections;
using System.Buffers.Binary;
using Ebpf.Abi;

namespace Ebpf.Runtime.Maps;

/// <summary>
/// BPF_MAP_TYPE_DEVMAP and BPF_MAP_TYPE_DEVMAP_HASH (kernel/bpf/devmap.c). Values are
/// <c>struct bpf_devmap_val</c>: 4 bytes (ifindex) or 8 (ifindex + bpf_prog.fd in, .id out).
/// <list type="bullet">
/// <item>Create: key_size 4, value_size 4 or 8, max_entries &gt; 0, flags ⊆ NUMA_NODE|RDONLY|WRONLY (EINVAL);
/// the kernel then adds BPF_F_RDONLY_PROG (a program-side lookup returns the value read-only).</item>
/// <item>Update: flags &gt; BPF_EXIST → EINVAL; devmap: index ≥ max_entries → E2BIG, BPF_NOEXIST → EEXIST
/// (slots always exist), ifindex 0 clears the slot (with a program fd → EINVAL); devmap_hash: an existing
/// key with BPF_NOEXIST → EEXIST, more than max_entries keys → E2BIG. An unknown ifindex, or a program
/// that is not XDP with expected_attach_type BPF_XDP_DEVMAP or does not match the map's owner → EINVAL.</item>
/// <item>Lookup returns {ifindex, prog id} (ENOENT when empty); delete: devmap out of range → EINVAL,
/// empty → 0; devmap_hash missing → ENOENT. get_next_key: devmap as arrays; devmap_hash in bucket order
/// (key &amp; (n_buckets − 1), newest first within a bucket), an unknown key restarts at the first.</item>
/// </list>
/// Devices are whatever <see cref="DeviceResolver"/> returns for an ifindex (the runtime's NetDevices).
/// </summary>
internal sealed unsafe class DevMap : BpfMapBase, IRedirectMap, IProgramHoldingMap
{
    public const ulong BroadcastFlag = 8, ExcludeIngressFlag = 16;

    private readonly object _writeLock = new();
    private readonly RedirectEntry?[]? _slots;           // devmap
    private readonly List<RedirectEntry>[]? _buckets;     // devmap_hash (n_buckets = roundup_pow_of_two(max_entries))
    private int _items;

    internal DevMap(MapDefinition a) : base(a with { Flags = a.Flags | MapFlags.RdonlyProg }, a.MaxEntries)
    {
        if (a.Type == MapType.Devmap)
            _slots = new RedirectEntry?[a.MaxEntries];
        else
        {
            _buckets = new List<RedirectEntry>[BucketCount(a.MaxEntries)];
            for (int i = 0; i < _buckets.Length; i++) _buckets[i] = new();
        }
    }

    internal static uint BucketCount(uint maxEntries) => System.Numerics.BitOperations.RoundUpToPowerOf2(maxEntries);

    /// <summary>ifindex → device (null: no such device → EINVAL).</summary>
    public Func<uint, object?>? DeviceResolver { get; set; }

    /// <summary>bpf_prog.fd of a value → program, taking a reference the map then owns (null → EINVAL).</summary>
    public Func<uint, ProgArrayEntry?>? ProgramResolver { get; set; }

    /// <summary>Raised whenever a slot's program reference is dropped.</summary>
    public event Action<ProgArrayEntry>? ProgramReleased;

    public MapProgramOwner ProgramOwner { get; } = new(compareAttachType: false);

    public ulong RedirectFlagMask => BroadcastFlag | ExcludeIngressFlag;

    /// <summary>Entries currently stored.</summary>
    public int Count => Volatile.Read(ref _items);

    public RedirectEntry? RedirectLookup(uint key)
    {
        if (_slots is not null)
            return key < (uint)_slots.Length ? Volatile.Read(ref _slots[key]) : null;
        var bucket = _buckets![key & (uint)(_buckets.Length - 1)];
        lock (bucket)
            foreach (var e in bucket)
                if (e.Key == key) return e;
        return null;
    }

    public IReadOnlyList<RedirectEntry> RedirectTargets()
    {
        var all = new List<RedirectEntry>();
        if (_slots is not null)
        {
            for (int i = 0; i < _slots.Length; i++)
                if (Volatile.Read(ref _slots[i]) is { } e) all.Add(e);
        }
        else
            foreach (var bucket in _buckets!)
                lock (bucket) all.AddRange(bucket);
        return all;
    }

    private void Drop(RedirectEntry e)
    {
        e.RetireValue();
        if (e.Program is { } p) ProgramReleased?.Invoke(p);
    }

    /// <summary>__dev_map_alloc_node: resolves the device and the optional devmap program (every failure → EINVAL).</summary>
    private Errno Build(uint key, ReadOnlySpan<byte> value, out RedirectEntry? entry)
    {
        entry = null;
        uint ifindex = BinaryPrimitives.ReadUInt32LittleEndian(value);
        int progFd = value.Length >= 8 ? BinaryPrimitives.ReadInt32LittleEndian(value[4..]) : 0;
        var device = DeviceResolver?.Invoke(ifindex);
        if (device is null) return Errno.EINVAL;
        var refused = ProgramOwner.ResolveEntryProgram(progFd, AttachType.XdpDevmap, ProgramResolver, ProgramReleased, Errno.EINVAL, out var prog);
        if (refused != Errno.None) return refused;
        entry = new RedirectEntry(key, ifindex, device, prog, (int)ValueSize);
        return Errno.None;
    }

    private protected override Errno UpdateCore(ReadOnlySpan<byte> key, ReadOnlySpan<byte> value, MapUpdateFlags flags)
    {
        if ((ulong)flags > (ulong)MapUpdateFlags.Exist) return Errno.EINVAL;
        uint k = BinaryPrimitives.ReadUInt32LittleEndian(key);
        lock (_writeLock)
        {
            if (_slots is not null)
            {
                if (k >= (uint)_slots.Length) return Errno.E2BIG;
                if (flags == MapUpdateFlags.NoExist) return Errno.EEXIST;
                RedirectEntry? entry = null;
                if (BinaryPrimitives.ReadUInt32LittleEndian(value) == 0)
                {
                    // "can not specify fd if ifindex is 0"; otherwise ifindex 0 empties the slot.
                    if (value.Length >= 8 && BinaryPrimitives.ReadInt32LittleEndian(value[4..]) > 0) return Errno.EINVAL;
                }
                else
                {
                    var e = Build(k, value, out entry);
                    if (e != Errno.None) return e;
                }
                var old = Interlocked.Exchange(ref _slots[k], entry);
                if (old is not null) Drop(old);
                _items += (entry is null ? 0 : 1) - (old is null ? 0 : 1);
                return Errno.None;
            }
            var bucket = _buckets![k & (uint)(_buckets.Length - 1)];
            var existing = RedirectLookup(k);
            if (existing is not null && (flags & MapUpdateFlags.NoExist) != 0) return Errno.EEXIST;
            var err = Build(k, value, out var created);
            if (err != Errno.None) return err;
            if (existing is null && _items >= MaxEntries)
            {
                Drop(created!);
                return Errno.E2BIG;
            }
            lock (bucket)
            {
                if (existing is not null) bucket.Remove(existing);
                bucket.Insert(0, created!); // hlist_add_head_rcu
            }
            if (existing is not null) Drop(existing);
            else _items++;
            return Errno.None;
        }
    }

    private protected override Errno LookupCore(ReadOnlySpan<byte> key, Span<byte> value, MapUpdateFlags flags) =>
        RedirectMaps.LookupInto(this, key, value);

    private protected override Errno DeleteCore(ReadOnlySpan<byte> key)
    {
        uint k = BinaryPrimitives.ReadUInt32LittleEndian(key);
        lock (_writeLock)
        {
            if (_slots is not null)
            {
                if (k >= (uint)_slots.Length) return Errno.EINVAL;
                var old = Interlocked.Exchange(ref _slots[k], null);
                if (old is not null)
                {
                    Drop(old);
                    _items--;
                }
                return Errno.None; // dev_map_delete_elem: an empty slot is not an error
            }
            var existing = RedirectLookup(k);
            if (existing is null) return Errno.ENOENT;
            var bucket = _buckets![k & (uint)(_buckets.Length - 1)];
            lock (bucket) bucket.Remove(existing);
            Drop(existing);
            _items--;
            return Errno.None;
        }
    }

    private protected override Errno GetNextKeyCore(ReadOnlySpan<byte> key, Span<byte> nextKey)
    {
        if (_slots is not null)
            return FdArrayKeys.Next(key, nextKey, (uint)_slots.Length);
        uint start = 0;
        if (!key.IsEmpty)
        {
            uint k = BinaryPrimitives.ReadUInt32LittleEndian(key);
            uint b = k & (uint)(_buckets!.Length - 1);
            var bucket = _buckets[b];
            lock (bucket)
            {
                int at = bucket.FindIndex(e => e.Key == k);
                if (at >= 0)
                {
                    if (at + 1 < bucket.Count)
                    {
                        BinaryPrimitives.WriteUInt32LittleEndian(nextKey, bucket[at + 1].Key);
                        return Errno.None;
                    }
                    start = b + 1;
                }
            }
        }
        for (uint i = start; i < (uint)_buckets!.Length; i++)
        {
            var bucket = _buckets[i];
            lock (bucket)
            {
                if (bucket.Count > 0)
                {
                    BinaryPrimitives.WriteUInt32LittleEndian(nextKey, bucket[0].Key);
                    return Errno.None;
                }
            }
        }
        return Errno.ENOENT;
    }

    /// <summary>A BPF-side lookup: the read-only bpf_devmap_val, or NULL.</summary>
    internal override byte* ProgramLookup(byte* key, int cpu) => RedirectLookup(*(uint*)key) is { } e ? e.Value : null;

    private protected override void FreeNative()
    {
        lock (_writeLock)
        {
            foreach (var e in RedirectTargets()) Drop(e);
            if (_slots is not null) Array.Clear(_slots);
            else foreach (var b in _buckets!) lock (b) b.Clear();
            _items = 0;
        }
    }
}
