using Ebpf.Collections;

namespace Ebpf.Xdp;

/// <summary>How <see cref="XdpMultiprog"/> attaches, detaches and reads a device's programs.</summary>
public sealed record XdpMultiprogOptions
{
    /// <summary>The bpffs root (libxdp's LIBXDP_BPFFS); the dispatchers' pins go under <c>&lt;root&gt;/xdp</c>.</summary>
    public string BpfFsRoot { get; init; } = "/sys/fs/bpf";

    /// <summary>The attach mode: one of <see cref="XdpFlags.SkbMode"/>, <see cref="XdpFlags.DrvMode"/> (native), <see cref="XdpFlags.HwMode"/>, or none (the kernel's choice).</summary>
    public XdpFlags Mode { get; init; } = XdpFlags.None;

    /// <summary>The dispatcher object to build from (default: ours, version 3).</summary>
    public DispatcherObject? Dispatcher { get; init; }

    /// <summary>libxdp's LIBXDP_SKIP_DISPATCHER: attach a single program directly, without a dispatcher.</summary>
    public bool SkipDispatcher { get; init; }

    /// <summary>
    /// Program-owned replacement (beyond the kernel, managed runtime only): the dispatcher program itself holds its
    /// components' links, so the set lives exactly as long as the dispatcher does (its device attachment and the
    /// handles on it): no pins, no lock. EOPNOTSUPP on a backend without it.
    /// </summary>
    public bool ProgramOwned { get; init; }

    /// <summary>How often an attach restarts after another writer changed the device under it (EAGAIN), before EBUSY.</summary>
    public int MaxRetries { get; init; } = 10;

    /// <summary>Test hook: runs after the new dispatcher is built and pinned, just before the device swap.</summary>
    internal Action? BeforeSwap { get; init; }
}
