using System.Runtime.InteropServices;
using Ebpf.Collections;

namespace Ebpf.Linux.Net;

/// <summary>The rtnetlink constants of &lt;linux/rtnetlink.h&gt; and &lt;linux/if_link.h&gt; this code uses.</summary>
internal static class Rtnl
{
    public const ushort NewLink = 16, DelLink = 17, GetLink = 18, SetLink = 19;

    public const ushort IflaAddress = 1, IflaIfname = 3, IflaMtu = 4, IflaLink = 5, IflaOperstate = 16, IflaLinkinfo = 18,
        IflaNetNsFd = 28, IflaNumRxQueues = 32, IflaLinkNetnsid = 37, IflaXdp = 43;
    public const ushort IflaInfoKind = 1, IflaInfoData = 2;
    public const ushort VethInfoPeer = 1;

    public const ushort IflaXdpFd = 1, IflaXdpAttached = 2, IflaXdpFlags = 3, IflaXdpProgId = 4, IflaXdpDrvProgId = 5,
        IflaXdpSkbProgId = 6, IflaXdpHwProgId = 7, IflaXdpExpectedFd = 8;

    public const uint IffUp = 0x1, IffLoopback = 0x8;
}

/// <summary>struct ifinfomsg, the fixed header of every RTM_*LINK message.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct IfInfoMsg
{
    public byte Family;
    public byte Pad;
    public ushort Type;
    public int Index;
    public uint Flags;
    public uint Change;

    public static readonly int Size = Marshal.SizeOf<IfInfoMsg>();
}

/// <summary>The IFLA_XDP nest of an RTM_NEWLINK reply: the attach mode and the program id per mode (0 = none).</summary>
internal sealed record RtnlXdpState(XdpAttachMode Attached, uint ProgramId, uint DriverProgramId, uint GenericProgramId, uint HardwareProgramId)
{
    public static readonly RtnlXdpState Empty = new(XdpAttachMode.None, 0, 0, 0, 0);
}

/// <summary>One device as RTM_GETLINK reports it.</summary>
/// <remarks><see cref="LinkIfindex"/> is IFLA_LINK (a veth's peer); <see cref="LinkInOtherNamespace"/> says IFLA_LINK_NETNSID came
/// with it, i.e. the index is in another namespace.</remarks>
internal sealed record RtnlLink(int Ifindex, string Name, uint Flags, uint Mtu, byte[] Address, string? Kind, int LinkIfindex, RtnlXdpState Xdp)
{
    public uint RxQueues { get; init; } = 1;
    public bool LinkInOtherNamespace { get; init; }

    public bool IsUp => (Flags & Rtnl.IffUp) != 0;
}
