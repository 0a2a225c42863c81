using Ebpf.Collections;
using System.Runtime.InteropServices;

namespace Ebpf.Linux.Net;

/// <summary>
/// rtnetlink link requests over one NETLINK_ROUTE socket, in the network namespace of the thread that opened it:
/// read devices (RTM_GETLINK), set or clear their XDP program (RTM_SETLINK + IFLA_XDP), and, for tests, create veth
/// pairs, bring links up, move them into another namespace and delete them. Refusals throw
/// <see cref="NetlinkException"/> carrying the kernel's extack message.
/// </summary>
internal sealed class RtnlClient : IDisposable
{
    private readonly NetlinkSocket _socket;

    private RtnlClient(NetlinkSocket socket) => _socket = socket;

    public static RtnlClient Open() => new(NetlinkSocket.Open());

    /// <summary>Every device of the namespace (RTM_GETLINK dump).</summary>
    public List<RtnlLink> GetLinks()
    {
        var links = new List<RtnlLink>();
        var request = new NetlinkRequest(Rtnl.GetLink, Netlink.FDump).Fixed(new IfInfoMsg());
        _socket.Exchange(request, "RTM_GETLINK dump", (type, payload) =>
        {
            if (type == Rtnl.NewLink && Parse(payload) is { } link)
                links.Add(link);
        });
        return links;
    }

    /// <summary>One device by index; ENODEV when there is none.</summary>
    public RtnlLink GetLink(int ifindex) => GetOne(new NetlinkRequest(Rtnl.GetLink, 0).Fixed(new IfInfoMsg { Index = ifindex }), $"RTM_GETLINK ifindex {ifindex}");

    /// <summary>One device by name; ENODEV when there is none.</summary>
    public RtnlLink GetLink(string name) =>
        GetOne(new NetlinkRequest(Rtnl.GetLink, 0).Fixed(new IfInfoMsg()).String(Rtnl.IflaIfname, name), $"RTM_GETLINK {name}");

    private RtnlLink GetOne(NetlinkRequest request, string what)
    {
        RtnlLink? found = null;
        _socket.Exchange(request, what, (type, payload) =>
        {
            if (type == Rtnl.NewLink)
                found ??= Parse(payload);
        });
        return found ?? throw new BpfException(Errno.ENODEV, $"{what}: no device in the reply");
    }

    /// <summary>
    /// RTM_SETLINK with IFLA_XDP: attaches <paramref name="programFd"/> (-1 detaches) with the XDP_FLAGS_* given;
    /// <paramref name="expectedFd"/> is sent as IFLA_XDP_EXPECTED_FD (meaningful with XDP_FLAGS_REPLACE; -1 expects none).
    /// </summary>
    public void SetXdp(int ifindex, int programFd, uint flags, int? expectedFd = null)
    {
        var request = new NetlinkRequest(Rtnl.SetLink, 0).Fixed(new IfInfoMsg { Index = ifindex });
        int nest = request.BeginNested(Rtnl.IflaXdp);
        request.I32(Rtnl.IflaXdpFd, programFd);
        if (flags != 0)
            request.U32(Rtnl.IflaXdpFlags, flags);
        if (expectedFd is { } expected)
            request.I32(Rtnl.IflaXdpExpectedFd, expected);
        request.EndNested(nest);
        _socket.Execute(request, $"RTM_SETLINK ifindex {ifindex} IFLA_XDP");
    }

    /// <summary>RTM_NEWLINK of a veth pair (IFLA_LINKINFO kind "veth", the peer in VETH_INFO_PEER); both start down.</summary>
    public void CreateVeth(string name, string peerName)
    {
        var request = new NetlinkRequest(Rtnl.NewLink, Netlink.FCreate | Netlink.FExcl).Fixed(new IfInfoMsg()).String(Rtnl.IflaIfname, name);
        int info = request.BeginNested(Rtnl.IflaLinkinfo);
        request.String(Rtnl.IflaInfoKind, "veth");
        int data = request.BeginNested(Rtnl.IflaInfoData);
        int peer = request.BeginNested(Rtnl.VethInfoPeer);
        request.Fixed(new IfInfoMsg()).String(Rtnl.IflaIfname, peerName);
        request.EndNested(peer).EndNested(data).EndNested(info);
        _socket.Execute(request, $"RTM_NEWLINK veth {name} peer {peerName}");
    }

    /// <summary>RTM_NEWLINK of a device of <paramref name="kind"/> with no type-specific data ("dummy", …).</summary>
    public void Create(string name, string kind)
    {
        var request = new NetlinkRequest(Rtnl.NewLink, Netlink.FCreate | Netlink.FExcl).Fixed(new IfInfoMsg()).String(Rtnl.IflaIfname, name);
        int info = request.BeginNested(Rtnl.IflaLinkinfo);
        request.String(Rtnl.IflaInfoKind, kind);
        request.EndNested(info);
        _socket.Execute(request, $"RTM_NEWLINK {kind} {name}");
    }

    /// <summary>Sets or clears IFF_UP.</summary>
    public void SetUp(int ifindex, bool up = true) =>
        _socket.Execute(new NetlinkRequest(Rtnl.NewLink, 0).Fixed(new IfInfoMsg { Index = ifindex, Flags = up ? Rtnl.IffUp : 0, Change = Rtnl.IffUp }),
            $"RTM_NEWLINK ifindex {ifindex} {(up ? "up" : "down")}");

    /// <summary>Moves a device into the network namespace <paramref name="namespaceFd"/> refers to (IFLA_NET_NS_FD).</summary>
    public void MoveToNamespace(int ifindex, SafeHandle namespaceFd)
    {
        bool added = false;
        namespaceFd.DangerousAddRef(ref added);
        try
        {
            _socket.Execute(new NetlinkRequest(Rtnl.NewLink, 0).Fixed(new IfInfoMsg { Index = ifindex })
                    .I32(Rtnl.IflaNetNsFd, (int)namespaceFd.DangerousGetHandle()),
                $"RTM_NEWLINK ifindex {ifindex} IFLA_NET_NS_FD");
        }
        finally
        {
            if (added)
                namespaceFd.DangerousRelease();
        }
    }

    /// <summary>RTM_DELLINK (a veth's peer goes with it).</summary>
    public void DeleteLink(int ifindex) =>
        _socket.Execute(new NetlinkRequest(Rtnl.DelLink, 0).Fixed(new IfInfoMsg { Index = ifindex }), $"RTM_DELLINK ifindex {ifindex}");

    /// <summary>An RTM_NEWLINK payload: ifinfomsg, then the IFLA_* attributes.</summary>
    internal static RtnlLink? Parse(ReadOnlySpan<byte> payload)
    {
        if (payload.Length < IfInfoMsg.Size)
            return null;
        var header = MemoryMarshal.Read<IfInfoMsg>(payload);
        var attributes = NetlinkAttributes.Parse(payload[Netlink.Align(IfInfoMsg.Size)..]);
        string? kind = null;
        if (NetlinkAttributes.Find(attributes, Rtnl.IflaLinkinfo) is { } linkInfo)
            kind = NetlinkAttributes.String(NetlinkAttributes.Parse(linkInfo), Rtnl.IflaInfoKind);
        var xdp = RtnlXdpState.Empty;
        if (NetlinkAttributes.Find(attributes, Rtnl.IflaXdp) is { } nest)
        {
            var x = NetlinkAttributes.Parse(nest);
            xdp = new RtnlXdpState(
                (XdpAttachMode)(NetlinkAttributes.U8(x, Rtnl.IflaXdpAttached) ?? 0),
                NetlinkAttributes.U32(x, Rtnl.IflaXdpProgId) ?? 0,
                NetlinkAttributes.U32(x, Rtnl.IflaXdpDrvProgId) ?? 0,
                NetlinkAttributes.U32(x, Rtnl.IflaXdpSkbProgId) ?? 0,
                NetlinkAttributes.U32(x, Rtnl.IflaXdpHwProgId) ?? 0);
        }
        return new RtnlLink(
            header.Index,
            NetlinkAttributes.String(attributes, Rtnl.IflaIfname) ?? "",
            header.Flags,
            NetlinkAttributes.U32(attributes, Rtnl.IflaMtu) ?? 0,
            NetlinkAttributes.Find(attributes, Rtnl.IflaAddress) ?? [],
            kind,
            (int)(NetlinkAttributes.U32(attributes, Rtnl.IflaLink) ?? 0),
            xdp)
        {
            RxQueues = NetlinkAttributes.U32(attributes, Rtnl.IflaNumRxQueues) ?? 1,
            LinkInOtherNamespace = NetlinkAttributes.Find(attributes, Rtnl.IflaLinkNetnsid) is not null,
        };
    }

    public void Dispose() => _socket.Dispose();
}
