using System.Text;
using Ebpf.Collections;
using Ebpf.Linux.Net;

namespace Ebpf.Linux;

// Network devices and XDP on the running kernel: rtnetlink for devices and netlink attachment, BPF_LINK_CREATE for XDP
// links. Everything acts in the calling thread's network namespace, as the kernel resolves ifindexes there.
public sealed partial class LinuxBackend
{
    /// <inheritdoc/>
    public unsafe int GetDeviceIndex(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        if (name.Length == 0 || name.Length >= 16 || name.Contains('\0') || name.Contains('/'))
            throw new BpfException(Errno.ENODEV, $"if_nametoindex {name}: {Native.LibC.Describe((int)Errno.ENODEV)}");
        fixed (byte* n = Encoding.UTF8.GetBytes(name + "\0"))
        {
            uint index = NetNative.IfNameToIndex(n);
            if (index == 0)
                throw NetNative.Fail($"if_nametoindex {name}");
            return (int)index;
        }
    }

    /// <inheritdoc/>
    public IReadOnlyList<NetDeviceInfo> ListDevices()
    {
        using var rtnl = RtnlClient.Open();
        return [.. rtnl.GetLinks().OrderBy(l => l.Ifindex).Select(l => DeviceInfo(l, null))];
    }

    /// <inheritdoc/>
    public IReadOnlyList<NetDeviceInfo> CreateDevice(string name, string kind, string? peerName = null)
    {
        ArgumentNullException.ThrowIfNull(name);
        ArgumentNullException.ThrowIfNull(kind);
        using var rtnl = RtnlClient.Open();
        if (kind == "veth")
        {
            if (peerName is null)
                throw new BpfException(Errno.EINVAL, $"RTM_NEWLINK veth {name}: a veth pair needs a peer name");
            rtnl.CreateVeth(name, peerName);
            return [DeviceInfo(rtnl.GetLink(name), null), DeviceInfo(rtnl.GetLink(peerName), null)];
        }
        if (peerName is not null)
            throw new BpfException(Errno.EINVAL, $"RTM_NEWLINK {kind} {name}: only a veth has a peer");
        rtnl.Create(name, kind);
        return [DeviceInfo(rtnl.GetLink(name), null)];
    }

    /// <inheritdoc/>
    public void DeleteDevice(int ifindex)
    {
        using var rtnl = RtnlClient.Open();
        rtnl.DeleteLink(ifindex);
    }

    /// <inheritdoc/>
    public void XdpAttach(int ifindex, BpfProgram? program, XdpFlags flags, BpfProgram? expected = null) =>
        XdpNetlink.Attach(ifindex, program is null ? null : K(program), flags, expected is null ? null : K(expected));

    /// <inheritdoc/>
    public XdpDeviceState XdpQuery(int ifindex)
    {
        using var rtnl = RtnlClient.Open();
        var link = rtnl.GetLink(ifindex);
        return XdpState(link, FindXdpLinks(link));
    }

    /// <inheritdoc/>
    public BpfLink AttachXdp(BpfProgram program, int ifindex, XdpFlags flags) => Wrap(XdpLinks.Create(K(program), ifindex, flags));

    private static NetDeviceInfo DeviceInfo(RtnlLink link, Dictionary<uint, uint>? xdpLinks) => new()
    {
        Ifindex = link.Ifindex,
        Name = link.Name,
        Kind = link.Kind ?? ((link.Flags & Rtnl.IffLoopback) != 0 ? "loopback" : ""),
        PeerIfindex = link.Kind == "veth" && !link.LinkInOtherNamespace ? link.LinkIfindex : 0,
        RxQueues = link.RxQueues,
        Mtu = link.Mtu,
        Address = link.Address,
        Xdp = XdpState(link, xdpLinks ?? FindXdpLinks(link)),
    };

    private static XdpDeviceState XdpState(RtnlLink link, Dictionary<uint, uint> linkByProgram)
    {
        var x = link.Xdp;
        uint LinkOf(uint programId) => programId != 0 && linkByProgram.TryGetValue(programId, out uint id) ? id : 0;
        return new XdpDeviceState
        {
            Ifindex = link.Ifindex,
            AttachMode = x.Attached,
            ProgramId = x.ProgramId,
            GenericProgramId = x.GenericProgramId,
            DriverProgramId = x.DriverProgramId,
            HardwareProgramId = x.HardwareProgramId,
            GenericLinkId = LinkOf(x.GenericProgramId),
            DriverLinkId = LinkOf(x.DriverProgramId),
            HardwareLinkId = LinkOf(x.HardwareProgramId),
        };
    }

    /// <summary>
    /// The XDP links on this device, program id → link id. Netlink does not say which mode a link holds, so, like libxdp,
    /// this walks every link (LINK_GET_NEXT_ID) and takes the XDP ones whose ifindex and program match the device's.
    /// </summary>
    private static Dictionary<uint, uint> FindXdpLinks(RtnlLink device)
    {
        var found = new Dictionary<uint, uint>();
        var x = device.Xdp;
        if (x.Attached == Collections.XdpAttachMode.None)
            return found;
        uint[] programs = [x.GenericProgramId, x.DriverProgramId, x.HardwareProgramId];
        foreach (uint id in KernelObjects.EnumerateLinkIds())
        {
            try
            {
                using var link = KernelLink.FromId(id);
                var info = link.GetInfo();
                if (info.Type == Abi.LinkType.Xdp && info.Ifindex == device.Ifindex && programs.Contains(info.ProgramId) && info.ProgramId != 0)
                    found.TryAdd(info.ProgramId, info.Id);
            }
            catch (BpfException e) when (e.Errno is Errno.ENOENT or Errno.EAGAIN)
            {
                // released (or not yet published) between GET_NEXT_ID and GET_FD_BY_ID
            }
        }
        return found;
    }
}
