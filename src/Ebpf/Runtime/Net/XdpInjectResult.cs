namespace Ebpf.Runtime.Net;

/// <summary>One injected frame: the verdict of the device's program (XDP_PASS when none is attached) and the frame as the
/// program left it (data .. data_end, after any adjust_head/tail and writes).</summary>
public sealed record XdpFrameResult(uint Verdict, byte[] Data);

/// <summary>Where frames ended, per sink ("veth1 stack", "eth0 tx", "cpu 1", "xsk 2 rx"), for one injection.</summary>
public sealed record XdpDelivery(string Sink, long Frames);

/// <summary>
/// What one injection (one NAPI poll of the device's queue, and the polls it caused on veth peers) did: the verdict per
/// injected frame, the frames each sink received, the frames dropped on the way (XDP_DROP, ABORTED, invalid verdicts,
/// failed transmits and redirects, devmap/cpumap programs' drops, frames still looping between veths after the hop
/// limit) and the xdp_exception events raised.
/// </summary>
public sealed record XdpInjectResult(IReadOnlyList<XdpFrameResult> Frames, IReadOnlyList<XdpDelivery> Deliveries, long Dropped, long Exceptions)
{
    /// <summary>Injected frames whose verdict (at the injected device) was <paramref name="action"/>.</summary>
    public int Count(uint action) => Frames.Count(f => f.Verdict == action);

    /// <summary>Frames a sink took during the injection (0 when none).</summary>
    public long Delivered(string sink) => Deliveries.FirstOrDefault(d => d.Sink == sink)?.Frames ?? 0;
}
