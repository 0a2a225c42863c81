using Ebpf.Collections;
using Ebpf.Runtime.ProgramTypes;

namespace Ebpf.Runtime.Net;

/// <summary>
/// The runtime's network devices as the host and the XDP verbs see them: loopback (ifindex 1), dummy devices and veth
/// pairs, created and removed at run time; XDP programs attached to them with the kernel's rules (netlink-style or
/// through XDP links); and frames injected on any number of threads, each running the device's program on the calling
/// thread (<see cref="Inject(string, ReadOnlySpan{byte}, uint)"/>). The devices are the runtime's
/// <see cref="BpfRuntime.Devices"/>, the table devmaps and test_run resolve ifindexes in.
/// </summary>
public sealed partial class VirtualNetwork
{
    private readonly BpfRuntime _runtime;

    internal VirtualNetwork(BpfRuntime runtime) => _runtime = runtime;

    /// <summary>rtnl_lock: serialises every change of devices and XDP slots (never taken by the data path).</summary>
    internal Lock Rtnl { get; } = new();

    /// <summary>The device table (loopback always present).</summary>
    public NetDevices Devices => _runtime.Devices;

    /// <summary>The xdp:xdp_exception trace point: raised on the injecting thread for every aborted or invalid verdict.</summary>
    public event Action<XdpExceptionEvent>? XdpException;

    internal void RaiseException(NetDevice dev, Objects.ProgramObject prog, uint action) =>
        XdpException?.Invoke(new XdpExceptionEvent(dev.Ifindex, prog.Id, action));

    /// <summary>The device called <paramref name="name"/> (ENODEV when there is none).</summary>
    public NetDevice Find(string name) =>
        Devices.Find(name) ?? throw new BpfException(Errno.ENODEV, $"no device called {name}");

    /// <summary>The device with <paramref name="ifindex"/> (ENODEV when there is none).</summary>
    public NetDevice Find(int ifindex) =>
        (ifindex > 0 ? Devices.Find((uint)ifindex) : null) ?? throw new BpfException(Errno.ENODEV, $"no device with ifindex {ifindex}");

    /// <summary>Creates a dummy device (generic XDP only, as the kernel's dummy driver has no ndo_bpf).</summary>
    public NetDevice AddDevice(string name, uint rxQueues = 1) => Create(name, "dummy", null, rxQueues)[0];

    /// <summary>Creates a veth pair (native XDP; what leaves one end arrives at the other).</summary>
    public (NetDevice Device, NetDevice Peer) AddVethPair(string name, string peerName, uint rxQueues = 1)
    {
        var pair = Create(name, "veth", peerName, rxQueues);
        return (pair[0], pair[1]);
    }

    /// <summary>Removes a device (a veth takes its peer with it), detaching its programs; its links become defunct.</summary>
    public void RemoveDevice(string name) => Remove(Find(name));

    internal IReadOnlyList<NetDevice> Create(string name, string kind, string? peerName, uint rxQueues = 1)
    {
        CheckName(name);
        if (rxQueues is 0 or > 4096)
            throw new BpfException(Errno.EINVAL, $"{name}: {rxQueues} rx queues (1..4096)");
        switch (kind)
        {
            case "dummy" when peerName is null:
                lock (Rtnl)
                    return Devices.Register([i => new NetDevice(i, name, rxQueues, MacFor(i)) { Kind = "dummy" }]);
            case "veth":
                if (peerName is null)
                    throw new BpfException(Errno.EINVAL, $"veth {name} needs a peer name");
                CheckName(peerName);
                lock (Rtnl)
                {
                    var pair = Devices.Register([
                        i => new NetDevice(i, name, rxQueues, MacFor(i)) { Kind = "veth" },
                        i => new NetDevice(i, peerName, rxQueues, MacFor(i)) { Kind = "veth" }]);
                    pair[0].Peer = pair[1];
                    pair[1].Peer = pair[0];
                    return pair;
                }
            case "dummy":
                throw new BpfException(Errno.EINVAL, $"a dummy device has no peer ({peerName})");
            default:
                throw new BpfException(Errno.EOPNOTSUPP, $"unknown device type {kind} (the runtime has dummy and veth)");
        }
    }

    /// <summary>dev_valid_name: 1..15 bytes, not "." or "..", no '/', ':' or white space (EINVAL).</summary>
    private static void CheckName(string name)
    {
        if (name.Length is 0 or > 15 || name is "." or ".." || name.Any(c => c is '/' or ':' || char.IsWhiteSpace(c) || c > 0x7e))
            throw new BpfException(Errno.EINVAL, $"invalid device name '{name}'");
    }

    /// <summary>bpf_dev_bound_netdev_unregister: programs bound to a removed device stay bound to nothing.</summary>
    private void OrphanBoundPrograms(NetDevice dev)
    {
        foreach (uint id in _runtime.GetIds(Abi.ObjectKind.Program))
        {
            try
            {
                using var handle = _runtime.OpenProgramById(id);
                if (ReferenceEquals(handle.Program.BoundDevice, dev))
                    handle.Program.BoundDevice = null;
            }
            catch (BpfException)
            {
                // Freed meanwhile: nothing to orphan.
            }
        }
    }

    /// <summary>A locally administered unicast MAC derived from the ifindex (02:00:00:00:hi:lo).</summary>
    private static byte[] MacFor(uint ifindex) => [0x02, 0, 0, 0, (byte)(ifindex >> 8), (byte)ifindex];

    /// <summary>
    /// unregister_netdevice: dev_xdp_uninstall (every slot emptied; a link's device pointer cleared, so the link is
    /// defunct with ifindex 0), then the device leaves the table. Frames still in flight to it are dropped.
    /// </summary>
    internal void Remove(NetDevice dev)
    {
        if (dev.Ifindex == NetDevices.Loopback)
            throw new BpfException(Errno.EOPNOTSUPP, "lo cannot be removed");
        var links = new List<XdpLinkAttachment>();
        lock (Rtnl)
        {
            if (!dev.IsRegistered)
                throw new BpfException(Errno.ENODEV, $"device {dev.Name} is already gone");
            foreach (var d in dev.Peer is { } peer ? new[] { dev, peer } : [dev])
            {
                foreach (var mode in new[] { XdpMode.Skb, XdpMode.Drv, XdpMode.Hw })
                {
                    if (d.Xdp.Get(mode) is not { } slot)
                        continue;
                    if (slot.Link is { } link)
                    {
                        link.Device = null;
                        links.Add(link);
                    }
                    d.Xdp.Set(mode, null);
                }
                Devices.Unregister(d);
                OrphanBoundPrograms(d);
            }
        }
        // The links stay valid objects, defunct: LINK_UPDATE then fails with ENOLINK, their info shows ifindex 0.
        foreach (var link in links)
            link.Link?.Detach();
        Memory.EpochManager.Synchronize();
    }
}
