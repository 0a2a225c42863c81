using Ebpf.Collections;
using Ebpf.Runtime.Objects;

namespace Ebpf.Runtime.Net;

/// <summary>enum bpf_xdp_mode: the index of a device's XDP slot.</summary>
internal enum XdpMode
{
    Skb = 0,
    Drv = 1,
    Hw = 2,
}

/// <summary>
/// What one XDP slot of a device holds: the program the data path runs (the slot owns one reference on it) and, when
/// an XDP bpf_link owns the slot, that link's attachment. Immutable, so a reader that loaded it sees one whole state.
/// </summary>
internal sealed record XdpSlot(ProgramObject Program, XdpLinkAttachment? Link);

/// <summary>
/// dev->xdp_state: one slot per mode. Writers hold the network's rtnl lock; the data path reads a slot with one
/// volatile load inside an epoch critical section, and a replaced program's reference is dropped only after every
/// reader that could have loaded it has left (the RCU grace period of bpf_prog_put).
/// </summary>
internal sealed class DeviceXdp
{
    private readonly XdpSlot?[] _slots = new XdpSlot?[3];

    public XdpSlot? Get(XdpMode mode) => Volatile.Read(ref _slots[(int)mode]);

    /// <summary>What the receive path runs: the native program, else the generic one (never both, by the attach rules).</summary>
    public (XdpSlot? Slot, XdpMode Mode) Active
    {
        get
        {
            var drv = Get(XdpMode.Drv);
            return drv is not null ? (drv, XdpMode.Drv) : (Get(XdpMode.Skb), XdpMode.Skb);
        }
    }

    /// <summary>dev_xdp_prog_count: modes holding a program or a link.</summary>
    public int Count => (Get(XdpMode.Skb) is null ? 0 : 1) + (Get(XdpMode.Drv) is null ? 0 : 1) + (Get(XdpMode.Hw) is null ? 0 : 1);

    /// <summary>
    /// Installs <paramref name="slot"/> (taking its reference on the program) and retires the previous one: its
    /// program reference goes once no frame can still be running it.
    /// </summary>
    public void Set(XdpMode mode, XdpSlot? slot)
    {
        slot?.Program.Acquire();
        var old = Interlocked.Exchange(ref _slots[(int)mode], slot);
        if (old is not null)
            Memory.EpochManager.Retire(old.Program.Release);
    }

    public static XdpMode ModeOf(XdpFlags flags) => (flags & XdpFlags.Modes) switch
    {
        XdpFlags.SkbMode => XdpMode.Skb,
        XdpFlags.DrvMode => XdpMode.Drv,
        _ => XdpMode.Hw,
    };
}
