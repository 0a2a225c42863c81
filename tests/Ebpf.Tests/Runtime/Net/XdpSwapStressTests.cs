using Ebpf.Abi;
using Ebpf.Runtime;
using Ebpf.Runtime.Net;

namespace Ebpf.Tests.Runtime.Net;

/// <summary>
/// Atomicity of program swaps under traffic: four threads inject frames into a veth while the main thread swaps the
/// device's program between tag_pass (fills the tag with 0xaa, XDP_PASS) and tag_tx (0xbb, XDP_TX), by netlink
/// replace with the expected program and by LINK_UPDATE. Every frame must be wholly one program's: its verdict and
/// its bytes agree. EBPF_XDP_STRESS_SWAPS sets the number of swaps (default 2,000).
/// </summary>
public class XdpSwapStressTests(ITestOutputHelper output)
{
    private static int Swaps => int.TryParse(Environment.GetEnvironmentVariable("EBPF_XDP_STRESS_SWAPS"), out int n) && n > 0 ? n : 2_000;

    [Theory]
    [InlineData(true, true)]
    [InlineData(true, false)]
    [InlineData(false, true)]
    public async Task Every_frame_sees_wholly_the_old_or_the_new_program(bool jit, bool throughLink)
    {
        var rt = new BpfRuntime { JitEnabled = jit };
        var c = NetFixtures.Load(rt);
        var pass = c.Programs["tag_pass"];
        var tx = c.Programs["tag_tx"];
        uint passId = pass.Id, txId = tx.Id;
        var (veth0, _) = rt.Network.AddVethPair("veth0", "veth1", rxQueues: 4);
        int ifindex = (int)veth0.Ifindex;
        BpfLink? link = throughLink ? pass.AttachXdp(ifindex) : null;
        if (!throughLink)
            pass.XdpAttach(ifindex, XdpFlags.UpdateIfNoExist);

        using var stop = new CancellationTokenSource();
        long[] seen = new long[3]; // pass, tx, torn
        long progress = 0;
        var injectors = Enumerable.Range(0, 4).Select(t => Task.Factory.StartNew(() =>
        {
            var frame = NetFixtures.Frame(length: 128);
            while (!stop.IsCancellationRequested)
            {
                var r = rt.Network.Inject("veth0", frame, rxQueue: (uint)t).Frames[0];
                int kind = r.Verdict == XdpActions.Pass && NetFixtures.TaggedWholly(r.Data, 0xaa) ? 0
                    : r.Verdict == XdpActions.Tx && NetFixtures.TaggedWholly(r.Data, 0xbb) ? 1 : 2;
                Interlocked.Increment(ref seen[kind]);
                Interlocked.Increment(ref progress);
            }
        }, TestContext.Current.CancellationToken, TaskCreationOptions.LongRunning, TaskScheduler.Default)).ToArray();

        int swaps = Swaps;
        try
        {
            // Swaps happen while frames flow: wait for the injectors, and keep swapping (paced once the count is done)
            // until frames ran throughout and met both programs.
            while (Interlocked.Read(ref progress) < 100)
                Thread.Yield();
            long start = Interlocked.Read(ref progress);
            var deadline = DateTime.UtcNow.AddSeconds(60);
            for (int i = 0; i < swaps || (Interlocked.Read(ref progress) - start < 4 * swaps
                || Interlocked.Read(ref seen[0]) == 0 || Interlocked.Read(ref seen[1]) == 0) && DateTime.UtcNow < deadline; i++)
            {
                if (i >= swaps)
                    Thread.Sleep(1);
                var (from, to) = i % 2 == 0 ? (pass, tx) : (tx, pass);
                if (link is not null) link.Update(to, expected: from);
                else to.XdpAttach(ifindex, XdpFlags.Replace, expected: from);
                Assert.Equal(to.Id, rt.Backend.XdpQuery(ifindex).DriverProgramId);
            }
        }
        finally
        {
            stop.Cancel();
            await Task.WhenAll(injectors);
        }
        output.WriteLine($"jit={jit} link={throughLink}: {swaps}+ swaps, {seen[0]} pass frames, {seen[1]} tx frames, {seen[2]} torn");
        Assert.Equal(0, seen[2]);
        Assert.True(seen[0] > 0 && seen[1] > 0, "both programs ran");
        Assert.Equal(seen[0] + seen[1], veth0.XdpCounters.Received);

        // Nothing leaks: with the attachment and every handle gone, both programs are freed.
        if (link is not null) link.Dispose();
        else BpfProgram.XdpDetach(rt.Backend, ifindex);
        c.Dispose();
        Assert.DoesNotContain(passId, rt.GetIds(ObjectKind.Program));
        Assert.DoesNotContain(txId, rt.GetIds(ObjectKind.Program));
    }
}
