namespace Ebpf.Collections;

/// <summary>
/// XDP_FLAGS_* of include/uapi/linux/if_link.h, as netlink's IFLA_XDP_FLAGS and BPF_LINK_CREATE's flags carry them.
/// At most one mode bit may be set; none lets the kernel choose (native when the driver has it, else generic).
/// </summary>
[Flags]
public enum XdpFlags : uint
{
    /// <summary>No flag: replace whatever is attached, in the device's default mode.</summary>
    None = 0,
    /// <summary>XDP_FLAGS_UPDATE_IF_NOEXIST: fail with EBUSY when a program is already attached (netlink only).</summary>
    UpdateIfNoExist = 1 << 0,
    /// <summary>XDP_FLAGS_SKB_MODE: generic XDP, run by the stack on an skb.</summary>
    SkbMode = 1 << 1,
    /// <summary>XDP_FLAGS_DRV_MODE: native XDP, run by the driver.</summary>
    DrvMode = 1 << 2,
    /// <summary>XDP_FLAGS_HW_MODE: offloaded to the NIC.</summary>
    HwMode = 1 << 3,
    /// <summary>XDP_FLAGS_REPLACE: replace only if the attached program is the expected one (EEXIST otherwise; netlink only).</summary>
    Replace = 1 << 4,
    /// <summary>XDP_FLAGS_MODES: the three mode bits.</summary>
    Modes = SkbMode | DrvMode | HwMode,
    /// <summary>XDP_FLAGS_MASK: every flag the kernel knows.</summary>
    Mask = UpdateIfNoExist | Modes | Replace,
}

/// <summary>IFLA_XDP_ATTACHED: how netlink summarises a device's XDP state.</summary>
public enum XdpAttachMode : byte
{
    /// <summary>XDP_ATTACHED_NONE.</summary>
    None = 0,
    /// <summary>XDP_ATTACHED_DRV: one program, native mode.</summary>
    Driver = 1,
    /// <summary>XDP_ATTACHED_SKB: one program, generic mode.</summary>
    Generic = 2,
    /// <summary>XDP_ATTACHED_HW: one program, offloaded.</summary>
    Hardware = 3,
    /// <summary>XDP_ATTACHED_MULTI: programs in more than one mode (offload beside native or generic).</summary>
    Multi = 4,
}

/// <summary>
/// A device's XDP state as an RTM_GETLINK dump reports it (IFLA_XDP_ATTACHED, IFLA_XDP_PROG_ID and the per-mode ids),
/// plus which XDP bpf_link, if any, holds each mode (netlink does not say; the Linux backend finds it among the links).
/// </summary>
public sealed record XdpDeviceState
{
    /// <summary>The device.</summary>
    public required int Ifindex { get; init; }
    /// <summary>IFLA_XDP_ATTACHED.</summary>
    public XdpAttachMode AttachMode { get; init; }
    /// <summary>IFLA_XDP_PROG_ID: the program when exactly one mode is in use, else 0.</summary>
    public uint ProgramId { get; init; }
    /// <summary>IFLA_XDP_SKB_PROG_ID: the generic-mode program, or 0.</summary>
    public uint GenericProgramId { get; init; }
    /// <summary>IFLA_XDP_DRV_PROG_ID: the native-mode program, or 0.</summary>
    public uint DriverProgramId { get; init; }
    /// <summary>IFLA_XDP_HW_PROG_ID: the offloaded program, or 0.</summary>
    public uint HardwareProgramId { get; init; }
    /// <summary>The XDP link that holds the generic-mode slot, or 0 (empty or attached through netlink).</summary>
    public uint GenericLinkId { get; init; }
    /// <summary>The XDP link that holds the native-mode slot, or 0.</summary>
    public uint DriverLinkId { get; init; }
    /// <summary>The XDP link that holds the offload slot, or 0.</summary>
    public uint HardwareLinkId { get; init; }

    /// <summary>The program attached in <paramref name="mode"/> (one of the mode bits), or 0.</summary>
    public uint ProgramIdFor(XdpFlags mode) => (mode & XdpFlags.Modes) switch
    {
        XdpFlags.SkbMode => GenericProgramId,
        XdpFlags.DrvMode => DriverProgramId,
        XdpFlags.HwMode => HardwareProgramId,
        _ => throw new ArgumentException($"{mode} is not one XDP mode", nameof(mode)),
    };

    /// <summary>The link that holds <paramref name="mode"/> (one of the mode bits), or 0.</summary>
    public uint LinkIdFor(XdpFlags mode) => (mode & XdpFlags.Modes) switch
    {
        XdpFlags.SkbMode => GenericLinkId,
        XdpFlags.DrvMode => DriverLinkId,
        XdpFlags.HwMode => HardwareLinkId,
        _ => throw new ArgumentException($"{mode} is not one XDP mode", nameof(mode)),
    };
}

/// <summary>A network device as RTM_GETLINK describes it (the fields the XDP verbs need).</summary>
public sealed record NetDeviceInfo
{
    /// <summary>ifindex.</summary>
    public required int Ifindex { get; init; }
    /// <summary>IFLA_IFNAME.</summary>
    public required string Name { get; init; }
    /// <summary>IFLA_INFO_KIND ("veth", "dummy"…); "loopback" for lo, which has none.</summary>
    public string Kind { get; init; } = "";
    /// <summary>A veth's peer (IFLA_LINK), 0 for other kinds or a peer in another namespace.</summary>
    public int PeerIfindex { get; init; }
    /// <summary>IFLA_NUM_RX_QUEUES.</summary>
    public uint RxQueues { get; init; } = 1;
    /// <summary>IFLA_MTU.</summary>
    public uint Mtu { get; init; } = 1500;
    /// <summary>IFLA_ADDRESS (6 bytes for Ethernet).</summary>
    public byte[] Address { get; init; } = new byte[6];
    /// <summary>The device's XDP state.</summary>
    public XdpDeviceState? Xdp { get; init; }
}
