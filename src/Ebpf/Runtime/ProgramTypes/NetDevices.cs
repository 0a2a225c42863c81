using System.Collections.Concurrent;

namespace Ebpf.Runtime.ProgramTypes;

/// <summary>
/// A virtual network device (ifindex, name, number of rx queues, MAC). There are no real netdevs
/// in-process: a device is a pair of host-readable sinks — <see cref="Transmitted"/> (XDP_TX,
/// redirects to it, live-frame transmissions) and <see cref="Received"/> (frames XDP_PASS hands
/// to the stack in live-frames mode).
/// </summary>
public sealed record NetDevice(uint Ifindex, string Name, uint RxQueues, byte[] Address)
{
    /// <summary>Frames the device sent: XDP_TX, redirects to it, live-frame transmissions.</summary>
    public FrameSink Transmitted { get; } = new($"{Name} tx");
    /// <summary>Frames XDP_PASS handed to the stack in live-frames mode.</summary>
    public FrameSink Received { get; } = new($"{Name} stack");

    /// <summary>IFLA_INFO_KIND: "loopback", "dummy" or "veth" (only veth has native XDP, as in the kernel).</summary>
    public string Kind { get; init; } = "dummy";
    /// <summary>IFLA_MTU.</summary>
    public uint Mtu { get; init; } = 1500;
    /// <summary>The other end of a veth pair (null for other kinds).</summary>
    public NetDevice? Peer { get; internal set; }
    /// <summary>False once the device was removed (unregister_netdevice): frames to it are dropped.</summary>
    public bool IsRegistered { get; internal set; } = true;
    /// <summary>What the device's XDP path did (per-device counters, as ethtool -S shows a driver's xdp stats).</summary>
    public Net.XdpDeviceCounters XdpCounters { get; } = new();
    /// <summary>
    /// The driver's xdp_metadata_ops: which XDP metadata kfuncs a program bound to this device gets the device's
    /// implementation of (resolved at load, as bpf_dev_bound_resolve_kfunc); the others return -EOPNOTSUPP. A veth has
    /// all three, other kinds none (only a veth can bind programs here).
    /// </summary>
    public Net.XdpMetadataOps XdpMetadata { get => _xdpMetadata ?? (Kind == "veth" ? Net.XdpMetadataOps.All : Net.XdpMetadataOps.None); set => _xdpMetadata = value; }
    private Net.XdpMetadataOps? _xdpMetadata;
    /// <summary>The device's XDP slots, one per mode (dev->xdp_state).</summary>
    internal Net.DeviceXdp Xdp { get; } = new();

    /// <summary>A device is itself: identity, not field-wise equality (a veth pair refers to each other).</summary>
    public bool Equals(NetDevice? other) => ReferenceEquals(this, other);

    /// <inheritdoc/>
    public override int GetHashCode() => System.Runtime.CompilerServices.RuntimeHelpers.GetHashCode(this);

    /// <inheritdoc/>
    public override string ToString() => $"{Name} (ifindex {Ifindex}, {Kind})";
}

/// <summary>An AF_XDP socket as the host registers it: bound to one device queue; its rx ring is <see cref="Received"/>.</summary>
public sealed record XskSocket(uint Id, uint Ifindex, uint QueueId)
{
    /// <summary>The socket's rx ring: frames redirected to it through an XSKMAP.</summary>
    public FrameSink Received { get; } = new($"xsk {Id} rx");
}

/// <summary>
/// The runtime's network model: test_run resolves ifindex through it, devmaps hold its devices,
/// xskmaps its sockets, cpumaps deliver to its per-CPU queues. The loopback device (ifindex 1,
/// "lo", one rx queue, all-zero MAC and broadcast) always exists.
/// </summary>
public sealed class NetDevices
{
    /// <summary>ifindex of the loopback device every runtime starts with ("lo").</summary>
    public const uint Loopback = 1;

    private readonly Dictionary<uint, NetDevice> _devices = new() { [Loopback] = new(Loopback, "lo", 1, new byte[6]) { Kind = "loopback", Mtu = 65536 } };
    private readonly Dictionary<uint, XskSocket> _sockets = new();
    private readonly ConcurrentDictionary<uint, FrameSink> _cpuQueues = new();
    private readonly Lock _lock = new();
    private uint _nextSocket;
    private uint _nextIfindex = 2;

    /// <summary>The device with <paramref name="ifindex"/>, or null.</summary>
    public NetDevice? Find(uint ifindex)
    {
        lock (_lock) return _devices.GetValueOrDefault(ifindex);
    }

    /// <summary>Every device, by ifindex.</summary>
    public IReadOnlyList<NetDevice> All
    {
        get { lock (_lock) return _devices.Values.OrderBy(d => d.Ifindex).ToArray(); }
    }

    /// <summary>Adds a device (EEXIST when the ifindex is taken).</summary>
    public NetDevice Add(uint ifindex, string name, uint rxQueues = 1, byte[]? address = null)
    {
        lock (_lock)
        {
            if (ifindex == 0 || _devices.ContainsKey(ifindex))
                throw new BpfException(Errno.EEXIST, $"ifindex {ifindex} is already in use");
            var dev = new NetDevice(ifindex, name, rxQueues, address ?? new byte[6]);
            _devices.Add(ifindex, dev);
            return dev;
        }
    }

    /// <summary>
    /// Creates an AF_XDP socket bound to <paramref name="ifindex"/> queue <paramref name="queueId"/>
    /// (ENODEV / EINVAL as xsk_bind); its <see cref="XskSocket.Id"/> is what an xskmap update takes as the fd.
    /// </summary>
    public XskSocket AddXskSocket(uint ifindex, uint queueId = 0)
    {
        lock (_lock)
        {
            var dev = _devices.GetValueOrDefault(ifindex) ?? throw new BpfException(Errno.ENODEV, $"xsk bind: no device with ifindex {ifindex}");
            if (queueId >= dev.RxQueues)
                throw new BpfException(Errno.EINVAL, $"xsk bind: queue {queueId} >= {dev.RxQueues} queues of {dev.Name}");
            var s = new XskSocket(++_nextSocket, ifindex, queueId);
            _sockets.Add(s.Id, s);
            return s;
        }
    }

    /// <summary>The AF_XDP socket with <paramref name="id"/>, or null.</summary>
    public XskSocket? FindXskSocket(uint id)
    {
        lock (_lock) return _sockets.GetValueOrDefault(id);
    }

    /// <summary>The device called <paramref name="name"/>, or null.</summary>
    public NetDevice? Find(string name)
    {
        lock (_lock) return _devices.Values.FirstOrDefault(d => d.Name == name);
    }

    /// <summary>
    /// Registers devices under the next free ifindexes (allocated cyclically, as the kernel's dev_index_reserve: a
    /// removed device's ifindex is not handed out again at once). EEXIST when a name is taken.
    /// </summary>
    internal IReadOnlyList<NetDevice> Register(IReadOnlyList<Func<uint, NetDevice>> create)
    {
        lock (_lock)
        {
            // Every device is checked before any is added: a pair is created whole or not at all.
            var made = new List<NetDevice>();
            uint ifindex = _nextIfindex;
            foreach (var make in create)
            {
                while (ifindex == 0 || _devices.ContainsKey(ifindex) || made.Any(d => d.Ifindex == ifindex))
                    ifindex = ifindex >= int.MaxValue ? 1 : ifindex + 1;
                var dev = make(ifindex++);
                if (_devices.Values.Any(d => d.Name == dev.Name) || made.Any(d => d.Name == dev.Name))
                    throw new BpfException(Errno.EEXIST, $"a device called {dev.Name} already exists");
                made.Add(dev);
            }
            foreach (var dev in made)
                _devices.Add(dev.Ifindex, dev);
            _nextIfindex = ifindex;
            return made;
        }
    }

    /// <summary>Unregisters a device (the caller detached its XDP programs first).</summary>
    internal void Unregister(NetDevice dev)
    {
        lock (_lock)
        {
            _devices.Remove(dev.Ifindex);
            foreach (var s in _sockets.Values.Where(s => s.Ifindex == dev.Ifindex).ToArray())
                _sockets.Remove(s.Id);
            dev.IsRegistered = false;
        }
    }

    /// <summary>The queue a cpumap entry for <paramref name="cpu"/> delivers to (the kthread's input).</summary>
    internal FrameSink CpuQueue(uint cpu) => _cpuQueues.GetOrAdd(cpu, c => new FrameSink($"cpu {c}"));
}
