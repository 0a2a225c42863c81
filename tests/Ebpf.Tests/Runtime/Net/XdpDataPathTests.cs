using Ebpf.Runtime;
using Ebpf.Runtime.Net;

namespace Ebpf.Tests.Runtime.Net;

/// <summary>What verdicts do to frames on the runtime's devices: the stack, veth peers, redirect targets, drops.</summary>
public class XdpDataPathTests
{
    private static byte[] Key(uint k) => BitConverter.GetBytes(k);

    [Fact]
    public void Verdicts_are_counted_and_act_per_frame()
    {
        var rt = new BpfRuntime();
        using var c = NetFixtures.Load(rt);
        var dev = rt.Network.AddDevice("dum0");
        var events = new List<XdpExceptionEvent>();
        rt.Network.XdpException += events.Add;
        var p = c.Programs["verdict_by_byte"];
        p.XdpAttach((int)dev.Ifindex);

        byte[][] frames = [NetFixtures.Frame(2), NetFixtures.Frame(1), NetFixtures.Frame(0), NetFixtures.Frame(3), NetFixtures.Frame(9), NetFixtures.Frame(2)];
        var r = rt.Network.InjectBatch("dum0", frames);
        Assert.Equal([2u, 1, 0, 3, 9, 2], r.Frames.Select(f => f.Verdict));
        Assert.Equal(2, r.Delivered("dum0 stack"));   // PASS
        Assert.Equal(1, r.Delivered("dum0 tx"));      // generic XDP_TX on a dummy: out on the wire
        Assert.Equal(3, r.Dropped);                   // DROP, ABORTED, 9
        Assert.Equal(2, r.Exceptions);
        Assert.Equal([(dev.Ifindex, p.Id, 0u), (dev.Ifindex, p.Id, 9u)], events.Select(e => (e.Ifindex, e.ProgramId, e.Action)));
        var n = dev.XdpCounters;
        Assert.Equal((6L, 2L, 1L, 1L, 1L, 1L), (n.Received, n.Passed, n.Dropped, n.Aborted, n.Transmitted, n.Invalid));
        // The program's own map saw the same.
        Assert.Equal(2UL, c.Maps["verdicts"].Lookup<uint, ulong>(2));
        Assert.Equal(2, dev.Received.Drain().Count);
    }

    [Fact]
    public void The_program_sees_its_device_and_rx_queue()
    {
        var rt = new BpfRuntime();
        using var c = NetFixtures.Load(rt);
        var (veth0, _) = rt.Network.AddVethPair("veth0", "veth1", rxQueues: 4);
        c.Programs["ingress_info"].XdpAttach((int)veth0.Ifindex);
        var r = rt.Network.Inject("veth0", NetFixtures.Frame(), rxQueue: 3);
        var data = Assert.Single(r.Frames).Data;
        Assert.Equal(((byte)veth0.Ifindex, (byte)3), (data[0], data[1]));
    }

    [Fact]
    public void Native_xdp_tx_on_a_veth_arrives_at_the_peer_only_when_the_peer_runs_xdp()
    {
        var rt = new BpfRuntime();
        using var c = NetFixtures.Load(rt);
        var (veth0, veth1) = rt.Network.AddVethPair("veth0", "veth1");
        c.Programs["tag_tx"].XdpAttach((int)veth0.Ifindex);

        // veth1 has no XDP program: its NAPI is off, veth_xdp_xmit cannot deliver.
        var r = rt.Network.Inject("veth0", NetFixtures.Frame());
        Assert.Equal(XdpActions.Tx, r.Frames[0].Verdict);
        Assert.Equal((1L, 0L), (r.Dropped, r.Delivered("veth1 stack")));
        Assert.Equal(1, veth0.XdpCounters.TxErrors);

        // With a program on veth1 the frame arrives there and runs it.
        c.Programs["tag_pass"].XdpAttach((int)veth1.Ifindex);
        r = rt.Network.Inject("veth0", NetFixtures.Frame());
        Assert.Equal(1, r.Delivered("veth1 stack"));
        var arrived = Assert.Single(veth1.Received.Drain());
        Assert.True(NetFixtures.TaggedWholly(arrived, 0xaa)); // veth1's tag_pass ran over veth0's 0xbb
        Assert.Equal(1, veth1.XdpCounters.Passed);
    }

    [Fact]
    public void Generic_xdp_tx_goes_through_the_stack_and_a_tx_loop_is_cut()
    {
        var rt = new BpfRuntime();
        using var c = NetFixtures.Load(rt);
        var (veth0, veth1) = rt.Network.AddVethPair("veth0", "veth1");
        c.Programs["tag_tx"].XdpAttach((int)veth0.Ifindex, XdpFlags.SkbMode);
        var r = rt.Network.Inject("veth0", NetFixtures.Frame());
        Assert.Equal(1, r.Delivered("veth1 stack")); // veth_xmit: no program needed on the peer
        Assert.True(NetFixtures.TaggedWholly(veth1.Received.Drain()[0], 0xbb));

        // Both ends bounce frames back: the runtime stops after MaxHops rounds.
        c.Programs["tag_tx"].XdpAttach((int)veth1.Ifindex, XdpFlags.SkbMode);
        r = rt.Network.Inject("veth0", NetFixtures.Frame());
        Assert.Equal(1, r.Dropped);
        Assert.Equal(XdpPoll.MaxHops / 2 + 1, veth0.XdpCounters.Transmitted - 1);
    }

    [Fact]
    public void Devmap_redirects_are_bulked_until_the_flush_and_run_the_entry_program()
    {
        var rt = new BpfRuntime();
        using var c = NetFixtures.Load(rt);
        var (veth0, veth1) = rt.Network.AddVethPair("veth0", "veth1");
        var (veth2, veth3) = rt.Network.AddVethPair("veth2", "veth3");
        c.Programs["redirect_dev"].XdpAttach((int)veth0.Ifindex);
        c.Programs["tag_pass"].XdpAttach((int)veth3.Ifindex); // veth3 runs XDP, so veth2 can transmit natively
        var devs = c.Maps["devs"];
        var value = new byte[8];
        BitConverter.TryWriteBytes(value, veth2.Ifindex);
        BitConverter.TryWriteBytes(value.AsSpan(4), c.Programs["on_devmap"].Id);
        devs.Update(Key(0), value);

        // 20 frames in one poll: the first 16 leave when the 17th finds the queue full, the rest at the flush; the
        // devmap program drops the one marked 0xdd and writes egress_ifindex into the others.
        var frames = Enumerable.Range(0, 20).Select(i => { var f = NetFixtures.Frame(0, (byte)i); if (i == 5) f[4] = 0xdd; return f; }).ToList();
        var r = rt.Network.InjectBatch("veth0", frames);
        Assert.All(r.Frames, f => Assert.Equal(XdpActions.Redirect, f.Verdict));
        Assert.Equal((19L, 1L), (r.Delivered("veth3 stack"), r.Dropped));
        var arrived = veth3.Received.Drain();
        Assert.Equal(Enumerable.Range(0, 20).Where(i => i != 5).Select(i => (byte)i), arrived.Select(f => f[1])); // order kept
        Assert.All(arrived, f => Assert.Equal((byte)veth2.Ifindex, f[2]));
        Assert.Equal(0, veth1.Received.Count);
    }

    [Fact]
    public void A_native_redirect_needs_a_device_that_can_transmit_xdp_frames()
    {
        var rt = new BpfRuntime();
        using var c = NetFixtures.Load(rt);
        var (veth0, _) = rt.Network.AddVethPair("veth0", "veth1");
        var dummy = rt.Network.AddDevice("dum0");
        c.Programs["redirect_ifindex"].XdpAttach((int)veth0.Ifindex);
        var r = rt.Network.Inject("veth0", NetFixtures.Frame(0, (byte)dummy.Ifindex));  // dummy has no ndo_xdp_xmit
        Assert.Equal((1L, 1L), (r.Dropped, veth0.XdpCounters.RedirectErrors));
        r = rt.Network.Inject("veth0", NetFixtures.Frame(0, 99));                        // no such device
        Assert.Equal(2, veth0.XdpCounters.RedirectErrors);

        // Generic XDP redirects through the stack, which any device takes.
        var d2 = rt.Network.AddDevice("dum1");
        c.Programs["redirect_ifindex"].XdpAttach((int)d2.Ifindex);
        r = rt.Network.Inject("dum1", NetFixtures.Frame(0, (byte)dummy.Ifindex));
        Assert.Equal(1, r.Delivered("dum0 tx"));
    }

    [Fact]
    public void Broadcast_reaches_every_device_of_the_devmap_but_the_ingress_one()
    {
        var rt = new BpfRuntime();
        using var c = NetFixtures.Load(rt);
        var a = rt.Network.AddDevice("a");
        var b = rt.Network.AddDevice("b");
        var d = rt.Network.AddDevice("d");
        c.Programs["redirect_broadcast"].XdpAttach((int)a.Ifindex);
        var devs = c.Maps["devs"];
        uint k = 0;
        foreach (var dev in new[] { a, b, d })
            devs.Update(Key(k++), BitConverter.GetBytes((ulong)dev.Ifindex));
        var r = rt.Network.Inject("a", NetFixtures.Frame());
        Assert.Equal((0L, 1L, 1L), (r.Delivered("a tx"), r.Delivered("b tx"), r.Delivered("d tx")));
    }

    [Fact]
    public void Cpumap_frames_run_the_cpu_program_and_reach_the_cpu_queue()
    {
        var rt = new BpfRuntime();
        using var c = NetFixtures.Load(rt);
        var (veth0, _) = rt.Network.AddVethPair("veth0", "veth1");
        c.Programs["redirect_cpu"].XdpAttach((int)veth0.Ifindex);
        var value = new byte[8];
        BitConverter.TryWriteBytes(value, 64u);
        BitConverter.TryWriteBytes(value.AsSpan(4), c.Programs["on_cpumap"].Id);
        c.Maps["cpus"].Update(Key(0), value);
        var frames = Enumerable.Range(0, 10).Select(i => { var f = NetFixtures.Frame(0, (byte)i); if (i == 9) f[4] = 0xdd; return f; }).ToList();
        var r = rt.Network.InjectBatch("veth0", frames);
        Assert.Equal((9L, 1L), (r.Delivered("cpu 0"), r.Dropped));
        var got = rt.Devices.CpuQueue(0).Drain();
        Assert.All(got, f => Assert.Equal(0xc0, f[3]));
        Assert.Equal(Enumerable.Range(0, 9).Select(i => (byte)i), got.Select(f => f[1]));
    }

    [Fact]
    public void Xsk_redirects_need_a_socket_bound_to_the_frames_queue()
    {
        var rt = new BpfRuntime();
        using var c = NetFixtures.Load(rt);
        var (veth0, _) = rt.Network.AddVethPair("veth0", "veth1", rxQueues: 2);
        c.Programs["redirect_xsk"].XdpAttach((int)veth0.Ifindex);
        var socket = rt.Devices.AddXskSocket(veth0.Ifindex, queueId: 1);
        c.Maps["xsks"].Update(Key(1), BitConverter.GetBytes(socket.Id));
        c.Maps["xsks"].Update(Key(0), BitConverter.GetBytes(socket.Id)); // bound to queue 1, not 0

        var r = rt.Network.Inject("veth0", NetFixtures.Frame(), rxQueue: 1);
        Assert.Equal(1, r.Delivered($"xsk {socket.Id} rx"));
        r = rt.Network.Inject("veth0", NetFixtures.Frame(), rxQueue: 0);
        Assert.Equal((0L, 1L), (r.Delivered($"xsk {socket.Id} rx"), veth0.XdpCounters.RedirectErrors));
    }

    [Fact]
    public void Frames_to_a_removed_device_are_dropped()
    {
        var rt = new BpfRuntime();
        using var c = NetFixtures.Load(rt);
        var (veth0, veth1) = rt.Network.AddVethPair("veth0", "veth1");
        var d = rt.Network.AddDevice("dum0");
        c.Programs["redirect_dev"].XdpAttach((int)d.Ifindex);
        c.Maps["devs"].Update(Key(0), BitConverter.GetBytes((ulong)veth0.Ifindex));
        rt.Network.RemoveDevice("veth0");
        var r = rt.Network.Inject("dum0", NetFixtures.Frame());
        Assert.Equal((1L, 1L), (r.Dropped, d.XdpCounters.RedirectErrors));
        Assert.False(veth1.IsRegistered);
    }
}
