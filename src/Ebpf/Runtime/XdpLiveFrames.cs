using Ebpf.Collections;
using Ebpf.Abi;
using Ebpf.Runtime.Helpers;
using Ebpf.Runtime.Maps;
using Ebpf.Runtime.Objects;
using Ebpf.Runtime.ProgramTypes;

namespace Ebpf.Runtime;

/// <summary>Outcome of a BPF_F_TEST_XDP_LIVE_FRAMES run: frames per fate.</summary>
public sealed record XdpLiveFrameStats(long Frames, long Passed, long Transmitted, long Redirected, long Dropped);

/// <summary>
/// BPF_F_TEST_XDP_LIVE_FRAMES (bpf_test_run_xdp_live, program-types.md §3.3) on the runtime's network
/// model. <c>repeat</c> frames (at least one) are processed in batches of <c>batch_size</c> (default 64,
/// more than 256 → E2BIG); every frame starts as a fresh copy of data_in (the page pool re-initialises
/// pages). Per action: XDP_PASS hands the frame to the ingress device's stack sink; XDP_TX becomes a
/// redirect to the ingress device (its transmit sink); XDP_REDIRECT performs the recorded redirect —
/// a device (bpf_redirect, devmap, devmap_hash, or every device of the devmap for BPF_F_BROADCAST, minus
/// the ingress one with BPF_F_EXCLUDE_INGRESS), a cpumap CPU queue, or an AF_XDP socket bound to the
/// ingress queue; a target that does not exist drops the frame. Anything else drops.
/// retval stays 0, data_out (only without ctx) is the original, unmodified packet.
/// Not modelled: devmap/cpumap entry programs are not run on redirected frames.
/// </summary>
internal static class XdpLiveFrames
{
    public const uint DefaultBatch = 64, MaxBatch = 256;

    /// <summary>sizeof(struct xdp_page_head) on 6.18 x86-64 (two xdp_buffs): the largest live frame is 3408 bytes [6.18 observed].</summary>
    public const int PageHeadSize = 112;

    public static RuntimeTestRunResult Run(BpfRuntime rt, ProgramObject prog, IProgramExecutor executor, TestRunOptions o)
    {
        if (o.BatchSize > MaxBatch)
            throw new BpfException(Errno.E2BIG, $"batch_size {o.BatchSize} > {MaxBatch}");
        var ctxIn = BpfRuntime.InitContext(o, ProgramTypeInfo.XdpMdUserSize);
        if (ctxIn is not null && (o.DataSizeOut is not null || o.ContextSizeOut is not null))
            throw new BpfException(Errno.EINVAL, "live frames: data_out and ctx_out cannot be used with a ctx");
        var data = o.DataIn ?? [];
        int meta = ctxIn is null ? 0 : (int)BitConverter.ToUInt32(ctxIn, 0);
        int maxLinear = XdpContext.FrameSize - (XdpContext.Headroom - meta + PageHeadSize) - XdpContext.Tailroom;
        long linear = ctxIn is null ? data.Length : Math.Min(BitConverter.ToUInt32(ctxIn, 4), (uint)data.Length);
        if (data.Length > Math.Min(linear, maxLinear) || data.Length > maxLinear)
            throw new BpfException(Errno.EINVAL, $"live frames: data_size_in {data.Length} is larger than the linear area ({Math.Min(linear, maxLinear)}); no multi-buffer frames in live mode");
        // Validates ctx_in/data_in exactly like a normal XDP run before anything is sent.
        XdpContext.Build(data, ctxIn ?? [], ctxIn is not null, rt.Devices).Dispose();

        uint frames = Math.Max(1, o.Repeat);
        long passed = 0, transmitted = 0, redirected = 0, dropped = 0;
        long start = System.Diagnostics.Stopwatch.GetTimestamp();
        for (uint i = 0; i < frames; i++)
        {
            using var xdp = XdpContext.Build(data, ctxIn ?? [], ctxIn is not null, rt.Devices);
            var (action, _) = rt.Loop(prog, executor, xdp.ContextPointer, xdp, 1);
            var ingress = rt.Devices.Find(xdp.IngressIfindex)!;
            switch (action)
            {
                case 2: // XDP_PASS: the skb goes up the ingress device's stack
                    if (ingress.Received.Deliver(xdp.Packet)) passed++;
                    else dropped++;
                    break;
                case 3: // XDP_TX: "a redirect back to the same index"
                    if (ingress.Transmitted.Deliver(xdp.Packet)) transmitted++;
                    else dropped++;
                    break;
                case 4:
                    if (Perform(rt, xdp, ingress)) redirected++;
                    else dropped++;
                    break;
                default:
                    dropped++;
                    break;
            }
        }
        double ns = System.Diagnostics.Stopwatch.GetElapsedTime(start).TotalNanoseconds / frames;
        var stats = new XdpLiveFrameStats(frames, passed, transmitted, redirected, dropped);
        return BpfRuntime.Finish(o, 0, (uint)Math.Min(ns, uint.MaxValue), data, null) with { LiveFrames = stats };
    }

    /// <summary>xdp_do_redirect_frame on the model: true when some sink took the frame.</summary>
    private static bool Perform(BpfRuntime rt, XdpContext xdp, NetDevice ingress)
    {
        var r = xdp.Redirect;
        var frame = xdp.Packet;
        switch (r?.Map)
        {
            case null when r is { MapType: MapType.Unspec }:
                return rt.Devices.Find(r.Key) is { } dev && dev.Transmitted.Deliver(frame);
            case DevMap devmap when r.IsBroadcast:
                bool any = false;
                foreach (var e in devmap.RedirectTargets())
                    if (e.Target is NetDevice d && !(r.ExcludesIngress && d.Ifindex == ingress.Ifindex))
                        any |= d.Transmitted.Deliver(frame);
                return any;
            case DevMap devmap:
                return devmap.RedirectLookup(r.Key)?.Target is NetDevice target && target.Transmitted.Deliver(frame);
            case CpuMap cpumap:
                return cpumap.RedirectLookup(r.Key) is { } entry && rt.Devices.CpuQueue(entry.Key).Deliver(frame);
            case XskMap xskmap:
                // xsk_rcv_check: the socket must be bound to the frame's device and rx queue.
                return xskmap.RedirectLookup(r.Key)?.Target is XskSocket s && s.Ifindex == ingress.Ifindex
                    && s.QueueId == xdp.RxQueueIndex && s.Received.Deliver(frame);
            default:
                return false;
        }
    }
}
