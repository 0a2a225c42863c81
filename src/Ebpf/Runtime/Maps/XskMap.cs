using Ebpf.Collections;
using System.Buffers.Binary;
using Ebpf.Abi;

namespace Ebpf.Runtime.Maps;

/// <summary>
/// BPF_MAP_TYPE_XSKMAP (net/xdp/xskmap.c): slots of AF_XDP sockets. The runtime has no sockets of
/// its own: the value of a host update is the id of a socket the host registered
/// (NetDevices.AddXskSocket), resolved by <see cref="SocketResolver"/> (unknown → EBADF).
/// <list type="bullet">
/// <item>Create: key_size 4, value_size 4, max_entries &gt; 0, flags ⊆ NUMA_NODE|RDONLY|WRONLY (EINVAL).</item>
/// <item>Update: flags &gt; BPF_EXIST → EINVAL; index ≥ max_entries → E2BIG; a different socket already
/// there with BPF_NOEXIST → EEXIST; an empty slot with BPF_EXIST → ENOENT.</item>
/// <item>Lookup from the host → EOPNOTSUPP (sockets have no user-visible value); delete: out of range →
/// EINVAL, else 0. A program-side lookup returns a non-NULL pointer for a filled slot.</item>
/// </list>
/// </summary>
internal sealed unsafe class XskMap : BpfMapBase, IRedirectMap
{
    private readonly object _writeLock = new();
    private readonly RedirectEntry?[] _slots;

    internal XskMap(MapDefinition a) : base(a, a.MaxEntries) => _slots = new RedirectEntry?[a.MaxEntries];

    /// <summary>Socket id → socket (null → EBADF).</summary>
    public Func<uint, object?>? SocketResolver { get; set; }

    public ulong RedirectFlagMask => 0;

    public RedirectEntry? RedirectLookup(uint key) => key < (uint)_slots.Length ? Volatile.Read(ref _slots[key]) : null;

    public IReadOnlyList<RedirectEntry> RedirectTargets() =>
        Enumerable.Range(0, _slots.Length).Select(i => Volatile.Read(ref _slots[i])).OfType<RedirectEntry>().ToArray();

    private protected override Errno UpdateCore(ReadOnlySpan<byte> key, ReadOnlySpan<byte> value, MapUpdateFlags flags)
    {
        if ((ulong)flags > (ulong)MapUpdateFlags.Exist) return Errno.EINVAL;
        uint i = BinaryPrimitives.ReadUInt32LittleEndian(key);
        if (i >= (uint)_slots.Length) return Errno.E2BIG;
        uint id = BinaryPrimitives.ReadUInt32LittleEndian(value);
        var socket = SocketResolver?.Invoke(id);
        if (socket is null) return Errno.EBADF;
        lock (_writeLock)
        {
            var old = Volatile.Read(ref _slots[i]);
            if (old is not null && !ReferenceEquals(old.Target, socket) && flags == MapUpdateFlags.NoExist) return Errno.EEXIST;
            if (old is null && flags == MapUpdateFlags.Exist) return Errno.ENOENT;
            Volatile.Write(ref _slots[i], new RedirectEntry(i, id, socket, null, (int)ValueSize));
            old?.RetireValue();
        }
        return Errno.None;
    }

    private protected override Errno LookupCore(ReadOnlySpan<byte> key, Span<byte> value, MapUpdateFlags flags) => Errno.EOPNOTSUPP;

    private protected override Errno DeleteCore(ReadOnlySpan<byte> key)
    {
        uint i = BinaryPrimitives.ReadUInt32LittleEndian(key);
        if (i >= (uint)_slots.Length) return Errno.EINVAL;
        lock (_writeLock) Interlocked.Exchange(ref _slots[i], null)?.RetireValue();
        return Errno.None;
    }

    private protected override Errno GetNextKeyCore(ReadOnlySpan<byte> key, Span<byte> nextKey) =>
        FdArrayKeys.Next(key, nextKey, (uint)_slots.Length);

    internal override byte* ProgramLookup(byte* key, int cpu) => RedirectLookup(*(uint*)key) is { } e ? e.Value : null;

    private protected override void FreeNative()
    {
        lock (_writeLock)
            for (int i = 0; i < _slots.Length; i++)
                Interlocked.Exchange(ref _slots[i], null)?.RetireValue();
    }
}
