using Ebpf.Runtime.Objects;
using Ebpf.Runtime.ProgramTypes;

namespace Ebpf.Runtime.Net;

/// <summary>What an XDP link reports beyond the generic link info (bpf_link_info.xdp).</summary>
internal interface IXdpLinkInfo
{
    /// <summary>The device, 0 once the link is defunct.</summary>
    int Ifindex { get; }
}

/// <summary>
/// bpf_xdp_link (net/core/dev.c): a link that owns one XDP slot of a device. Release and LINK_DETACH detach it
/// (bpf_xdp_link_release); LINK_UPDATE installs the new program in the slot in one store (bpf_xdp_link_update);
/// removing the device clears <see cref="Device"/> first (dev_xdp_uninstall), after which the link is defunct.
/// </summary>
internal sealed class XdpLinkAttachment(VirtualNetwork network, NetDevice device, XdpMode mode) : ILinkAttachment, IXdpLinkInfo
{
    /// <summary>link->dev: null once detached or the device is gone. Written under the network's rtnl lock.</summary>
    public NetDevice? Device { get; set; } = device;
    public XdpMode Mode { get; } = mode;
    /// <summary>The link object this attachment belongs to (set when the link is created).</summary>
    public LinkObject? Link { get; set; }

    public int Ifindex
    {
        get { lock (network.Rtnl) return (int)(Device?.Ifindex ?? 0); }
    }

    public void Release(LinkObject link)
    {
        lock (network.Rtnl)
        {
            // dev_xdp_detach_link; already NULL when the device's removal detached the link first.
            if (Device is { } dev && ReferenceEquals(dev.Xdp.Get(Mode)?.Link, this))
                dev.Xdp.Set(Mode, null);
            Device = null;
        }
        // The release returns once no frame can still be running the link's program (as the runtime's other links).
        if (!Memory.EpochManager.IsInCriticalSection)
            Memory.EpochManager.Synchronize();
    }

    public Action<LinkObject, ProgramObject>? UpdateProgram => (_, program) =>
    {
        lock (network.Rtnl)
        {
            var dev = Device ?? throw new BpfException((Errno)67, "XDP link is defunct: its device is gone"); // ENOLINK
            dev.Xdp.Set(Mode, new XdpSlot(program, this));
        }
    };
}
