using System.Buffers.Binary;
using Ebpf.Abi;
using Ebpf.Runtime.Maps;
using Ebpf.Runtime.Objects;
using Ebpf.Runtime.ProgramTypes;

namespace Ebpf.Runtime.Net;

/// <summary>
/// One NAPI poll on the injecting thread (the thread is the CPU): frames arrive at a device, its XDP program runs on each,
/// and the verdicts act as in the kernel.
/// <list type="bullet">
/// <item>XDP_PASS: the device's stack (its <see cref="NetDevice.Received"/> sink); no program: the same.</item>
/// <item>XDP_TX: the frame leaves the device it came in on. Native mode bulks it (16 frames, flushed at the end of the
/// poll, veth_xdp_flush_bq); generic mode sends it at once (generic_xdp_tx).</item>
/// <item>XDP_REDIRECT: native mode enqueues to per-target bulk queues — devices (bpf_redirect, devmap, devmap_hash,
/// broadcast) 16 frames (DEV_MAP_BULK_SIZE), cpumap CPUs 8 (CPU_MAP_BULK_SIZE), AF_XDP sockets until the flush —
/// delivered by <see cref="Flush"/> (xdp_do_flush: devices, then CPUs, then sockets) or when a queue is full;
/// devmap/cpumap entry programs run at that point. Generic mode delivers at once. A native redirect needs a target
/// with ndo_xdp_xmit (veth); a frame that cannot go is dropped (xdp_redirect_err).</item>
/// <item>XDP_DROP drops; XDP_ABORTED and values that are no action drop and raise xdp_exception.</item>
/// </list>
/// What leaves a veth arrives at its peer, whose program runs in the next round (a later poll); natively sent frames
/// need an XDP program on the peer (veth's NAPI is off otherwise), as the kernel's veth_xdp_xmit. A dummy or lo
/// device's transmitted frames go to its <see cref="NetDevice.Transmitted"/> sink (the wire). Frames still travelling
/// after <see cref="MaxHops"/> rounds (two veth ends bouncing a frame with XDP_TX) are dropped, where the kernel would
/// keep them circulating.
/// </summary>
internal sealed class XdpPoll(VirtualNetwork network, BpfRuntime runtime, IProgramExecutor executor)
{
    public const int DevBulkSize = 16, CpuBulkSize = 8, MaxHops = 8;

    private readonly record struct Arrival(NetDevice Device, byte[] Frame, uint Queue, XdpRxMetadata? Metadata = null);
    private readonly record struct DevBulkKey(NetDevice Target, ProgramObject? EntryProgram, NetDevice Ingress);
    private readonly record struct CpuBulkKey(uint Cpu, ProgramObject? EntryProgram, NetDevice Ingress, uint Queue);

    private readonly Dictionary<DevBulkKey, List<byte[]>> _devBulk = new();
    private readonly List<DevBulkKey> _devOrder = new();
    private readonly Dictionary<CpuBulkKey, List<byte[]>> _cpuBulk = new();
    private readonly List<CpuBulkKey> _cpuOrder = new();
    private readonly List<(XskSocket Socket, byte[] Frame)> _xsk = new();
    private List<Arrival> _next = new();
    private readonly Dictionary<string, long> _delivered = new();
    private readonly List<string> _sinkOrder = new();
    private long _dropped, _exceptions;

    /// <summary>Runs the injected frames, flushes, then the rounds they cause on veth peers.</summary>
    public XdpInjectResult Run(NetDevice dev, IReadOnlyList<byte[]> frames, IReadOnlyList<XdpRxMetadata?>? metadata, uint queue)
    {
        var results = new List<XdpFrameResult>(frames.Count);
        for (int i = 0; i < frames.Count; i++)
            results.Add(Receive(new Arrival(dev, frames[i], queue, metadata?[i])));
        Flush();
        for (int hop = 1; _next.Count > 0; hop++)
        {
            var round = _next;
            _next = new();
            if (hop > MaxHops)
            {
                _dropped += round.Count;
                break;
            }
            foreach (var a in round)
                Receive(a);
            Flush();
        }
        return new XdpInjectResult(results, _sinkOrder.Select(s => new XdpDelivery(s, _delivered[s])).ToArray(), _dropped, _exceptions);
    }

    private void Deliver(FrameSink sink, byte[] frame)
    {
        if (!sink.Deliver(frame))
        {
            _dropped++;
            return;
        }
        if (!_delivered.TryGetValue(sink.Name, out long n))
            _sinkOrder.Add(sink.Name);
        _delivered[sink.Name] = n + 1;
    }

    private void Drop() => _dropped++;

    private void Exception(NetDevice dev, ProgramObject prog, uint action)
    {
        _exceptions++;
        network.RaiseException(dev, prog, action);
    }

    private static byte[] ContextFor(NetDevice dev, int length, uint queue)
    {
        var md = new byte[ProgramTypeInfo.XdpMdUserSize];
        BinaryPrimitives.WriteUInt32LittleEndian(md.AsSpan(4), (uint)length);
        BinaryPrimitives.WriteUInt32LittleEndian(md.AsSpan(12), dev.Ifindex);
        BinaryPrimitives.WriteUInt32LittleEndian(md.AsSpan(16), queue);
        return md;
    }

    /// <summary>One frame through the device's receive path.</summary>
    private XdpFrameResult Receive(Arrival a)
    {
        var dev = a.Device;
        if (!dev.IsRegistered)
        {
            Drop();
            return new XdpFrameResult(XdpActions.Drop, a.Frame);
        }
        dev.XdpCounters.CountReceived();
        Memory.EpochManager.Enter();
        try
        {
            // One load: the frame runs wholly the program that was attached at this moment (the slot keeps it alive
            // until this critical section ends, whatever replaces it meanwhile).
            var (slot, mode) = dev.Xdp.Active;
            if (slot is null)
            {
                dev.XdpCounters.CountVerdict(XdpActions.Pass);
                Deliver(dev.Received, a.Frame);
                return new XdpFrameResult(XdpActions.Pass, a.Frame);
            }
            bool native = mode == XdpMode.Drv;
            XdpContext xdpBuffer;
            try
            {
                xdpBuffer = XdpContext.Build(a.Frame, ContextFor(dev, a.Frame.Length, a.Queue), true, runtime.Devices);
            }
            catch (BpfException)
            {
                Drop(); // the device was removed while the frame was on its way
                return new XdpFrameResult(XdpActions.Drop, a.Frame);
            }
            using var xdp = xdpBuffer;
            xdp.RxMetadata = a.Metadata;
            uint action = runtime.Loop(slot.Program, executor, xdp.ContextPointer, xdp, 1).RetVal;
            dev.XdpCounters.CountVerdict(action);
            var data = xdp.Packet.ToArray();
            switch (action)
            {
                case XdpActions.Pass:
                    Deliver(dev.Received, data);
                    break;
                case XdpActions.Tx:
                    if (native) EnqueueDevice(dev, null, data, dev);
                    else Transmit(dev, data, native: false, a.Queue);
                    break;
                case XdpActions.Redirect:
                    Redirect(dev, xdp.Redirect, data, native, a.Queue);
                    break;
                case XdpActions.Drop:
                    Drop();
                    break;
                default: // XDP_ABORTED, or bpf_warn_invalid_xdp_action then the same
                    Drop();
                    Exception(dev, slot.Program, action);
                    break;
            }
            return new XdpFrameResult(action, data);
        }
        finally
        {
            Memory.EpochManager.Exit();
        }
    }

    /// <summary>The frame leaves <paramref name="dev"/> (ndo_xdp_xmit natively, dev_queue_xmit generically).</summary>
    private void Transmit(NetDevice dev, byte[] frame, bool native, uint queue)
    {
        if (!dev.IsRegistered)
        {
            Drop();
            return;
        }
        if (dev.Peer is not { } peer)
        {
            Deliver(dev.Transmitted, frame);
            return;
        }
        // veth: the frame arrives at the peer. Natively (veth_xdp_xmit) only when the peer's NAPI runs, i.e. the peer
        // has a native XDP program; through the stack (veth_xmit) always.
        if (!peer.IsRegistered || native && peer.Xdp.Get(XdpMode.Drv) is null)
        {
            dev.XdpCounters.CountTxError();
            Drop();
            return;
        }
        _next.Add(new Arrival(peer, frame, queue % peer.RxQueues));
    }

    /// <summary>xdp_do_redirect / xdp_do_generic_redirect with the target the helper recorded.</summary>
    private void Redirect(NetDevice ingress, XdpRedirect? r, byte[] frame, bool native, uint queue)
    {
        switch (r?.Map)
        {
            case null when r is { MapType: MapType.Unspec }:
                ToDevice(ingress, runtime.Devices.Find(r.Key), null, frame, native, queue);
                return;
            case DevMap devmap when r.IsBroadcast:
                bool any = false;
                foreach (var e in devmap.RedirectTargets())
                {
                    if (e.Target is NetDevice d && !(r.ExcludesIngress && d.Ifindex == ingress.Ifindex))
                    {
                        ToDevice(ingress, d, EntryProgram(e), frame.ToArray(), native, queue);
                        any = true;
                    }
                }
                if (!any)
                    Drop();
                return;
            case DevMap devmap:
                var entry = devmap.RedirectLookup(r.Key);
                ToDevice(ingress, entry?.Target as NetDevice, entry is null ? null : EntryProgram(entry), frame, native, queue);
                return;
            case CpuMap cpumap:
                if (cpumap.RedirectLookup(r.Key) is not { } cpu)
                {
                    RedirectError(ingress);
                    return;
                }
                var key = new CpuBulkKey(cpu.Key, EntryProgram(cpu), ingress, queue);
                if (native) Enqueue(_cpuBulk, _cpuOrder, key, frame, CpuBulkSize, FlushCpu);
                else FlushCpu(key, [frame]);
                return;
            case XskMap xskmap:
                // xsk_rcv_check: the socket must be bound to the frame's device and queue.
                if (xskmap.RedirectLookup(r.Key)?.Target is XskSocket s && s.Ifindex == ingress.Ifindex && s.QueueId == queue)
                {
                    if (native) _xsk.Add((s, frame));
                    else Deliver(s.Received, frame);
                }
                else
                    RedirectError(ingress);
                return;
            default:
                RedirectError(ingress); // XDP_REDIRECT without a recorded target: xdp_do_redirect → -EINVAL
                return;
        }
    }

    private void RedirectError(NetDevice ingress)
    {
        ingress.XdpCounters.CountRedirectError();
        Drop();
    }

    private static ProgramObject? EntryProgram(RedirectEntry e) => e.Program?.Program as ProgramObject;

    /// <summary>dev_xdp_enqueue / dev_map_enqueue: natively the target needs ndo_xdp_xmit (veth); generically any device.</summary>
    private void ToDevice(NetDevice ingress, NetDevice? target, ProgramObject? entryProgram, byte[] frame, bool native, uint queue)
    {
        if (target is null || !target.IsRegistered || native && target.Peer is null)
        {
            RedirectError(ingress);
            return;
        }
        if (native)
            EnqueueDevice(target, entryProgram, frame, ingress);
        else
            FlushDevice(new DevBulkKey(target, entryProgram, ingress), [frame], native: false, queue);
    }

    private void EnqueueDevice(NetDevice target, ProgramObject? entryProgram, byte[] frame, NetDevice ingress) =>
        Enqueue(_devBulk, _devOrder, new DevBulkKey(target, entryProgram, ingress), frame, DevBulkSize, (k, f) => FlushDevice(k, f, native: true, 0));

    /// <summary>bq_enqueue: a full queue is sent before the frame is added.</summary>
    private static void Enqueue<TKey>(Dictionary<TKey, List<byte[]>> bulk, List<TKey> order, TKey key, byte[] frame, int size, Action<TKey, List<byte[]>> flush)
        where TKey : notnull
    {
        if (!bulk.TryGetValue(key, out var q))
        {
            bulk[key] = q = new List<byte[]>(size);
            order.Add(key);
        }
        if (q.Count == size)
        {
            var full = q.ToList();
            q.Clear();
            flush(key, full);
        }
        q.Add(frame);
    }

    /// <summary>xdp_do_flush: every device bulk queue, then every CPU queue, then the AF_XDP sockets.</summary>
    private void Flush()
    {
        foreach (var key in _devOrder)
            if (_devBulk.Remove(key, out var frames) && frames.Count > 0)
                FlushDevice(key, frames, native: true, 0);
        _devOrder.Clear();
        foreach (var key in _cpuOrder)
            if (_cpuBulk.Remove(key, out var frames) && frames.Count > 0)
                FlushCpu(key, frames);
        _cpuOrder.Clear();
        foreach (var (socket, frame) in _xsk)
            Deliver(socket.Received, frame);
        _xsk.Clear();
    }

    /// <summary>bq_xmit_all: the devmap entry's program (egress_ifindex = the target) on each frame, then the transmit.</summary>
    private void FlushDevice(DevBulkKey key, List<byte[]> frames, bool native, uint queue)
    {
        foreach (var frame in frames)
        {
            var data = frame;
            if (key.EntryProgram is { } prog)
            {
                uint action = RunEntry(prog, key.Ingress, frame, queue, out data, egress: key.Target);
                if (action != XdpActions.Pass)
                {
                    // dev_map_bpf_prog_run: anything but XDP_PASS drops; all but XDP_DROP also raise xdp_exception.
                    Drop();
                    if (action != XdpActions.Drop)
                        Exception(key.Target, prog, action);
                    continue;
                }
            }
            Transmit(key.Target, data, native, queue);
        }
    }

    /// <summary>The cpumap kthread: the entry's program (ingress as received), then the CPU's stack for XDP_PASS.</summary>
    private void FlushCpu(CpuBulkKey key, List<byte[]> frames)
    {
        var sink = runtime.Devices.CpuQueue(key.Cpu);
        foreach (var frame in frames)
        {
            var data = frame;
            if (key.EntryProgram is { } prog)
            {
                uint action = RunEntry(prog, key.Ingress, frame, key.Queue, out data, egress: null);
                if (action != XdpActions.Pass)
                {
                    // cpu_map_bpf_prog_run_xdp: XDP_REDIRECT from a cpumap program is not modelled (refused as a drop,
                    // counted as a redirect error); XDP_TX is not an action there (invalid → exception).
                    Drop();
                    if (action == XdpActions.Redirect)
                        key.Ingress.XdpCounters.CountRedirectError();
                    else if (action != XdpActions.Drop)
                        Exception(key.Ingress, prog, action);
                    continue;
                }
            }
            Deliver(sink, data);
        }
    }

    private uint RunEntry(ProgramObject prog, NetDevice ingress, byte[] frame, uint queue, out byte[] data, NetDevice? egress)
    {
        Memory.EpochManager.Enter();
        try
        {
            using var xdp = XdpContext.Build(frame, ContextFor(ingress, frame.Length, queue % ingress.RxQueues), true, runtime.Devices);
            if (egress is not null)
                xdp.SetEgress(egress.Ifindex);
            uint action = runtime.Loop(prog, executor, xdp.ContextPointer, xdp, 1).RetVal;
            data = xdp.Packet.ToArray();
            return action;
        }
        catch (BpfException)
        {
            // The ingress device went away meanwhile: the frame cannot be rebuilt on it.
            data = frame;
            return XdpActions.Drop;
        }
        finally
        {
            Memory.EpochManager.Exit();
        }
    }
}
