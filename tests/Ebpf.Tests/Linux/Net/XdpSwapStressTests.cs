using Ebpf.Collections;
using Ebpf.Linux;
using Ebpf.Linux.Net;
using static Ebpf.Tests.Linux.Net.XdpFixture;

namespace Ebpf.Tests.Linux.Net;

/// <summary>
/// Swapping a device's XDP program while frames flow, on the kernel: BPF_LINK_UPDATE and netlink XDP_FLAGS_REPLACE
/// between two programs that both pass and count into different slots. Every frame that reached A's stack must have
/// been counted by exactly one of them (never by none, never by both), and both must have run, so the swaps happened
/// mid-stream.
/// </summary>
public class XdpSwapStressTests
{
    private const int Frames = 3000, MinSwaps = 20;
    private static readonly TimeSpan TimeLimit = TimeSpan.FromSeconds(30);

    [Theory]
    [InlineData("link")]
    [InlineData("netlink")]
    public void EveryFrameSeesExactlyOneProgramWhileTheyAreSwapped(string how)
    {
        using var veth = VethNamespace.Create();
        using var xdp = new XdpFixture();
        xdp.SetVerdict(Pass);
        int a = veth.A.Ifindex;
        var atA = veth.Socket(veth.A);
        atA.SetReceiveBuffer(64 << 20);
        var atB = veth.Socket(veth.B);
        KernelLink? link = null;
        try
        {
            veth.Invoke(() =>
            {
                if (how == "link")
                    link = XdpLinks.Create(xdp.Verdict, a, XdpFlags.SkbMode);
                else
                    XdpNetlink.Attach(a, xdp.Verdict, XdpFlags.SkbMode | XdpFlags.UpdateIfNoExist);
            });
            bool done = false;
            int swaps = 0;
            Exception? swapFailure = null;
            var swapper = new Thread(() =>
            {
                try
                {
                    var current = xdp.Verdict;
                    while (!Volatile.Read(ref done))
                    {
                        var next = current == xdp.Verdict ? xdp.Second : xdp.Verdict;
                        if (link is not null)
                            link.Update(next, expected: current);
                        else
                            veth.Invoke(() => XdpNetlink.Attach(a, next, XdpFlags.SkbMode | XdpFlags.Replace, expected: current));
                        current = next;
                        Interlocked.Increment(ref swaps);
                    }
                }
                catch (Exception e)
                {
                    swapFailure = e;
                }
            });
            int received = 0;
            var reader = new Thread(() =>
            {
                while (atA.Receive(TimeSpan.FromSeconds(1)) is not null)
                    received++;
            });
            swapper.Start();
            reader.Start();
            // Send at least Frames frames, and keep sending until the programs were swapped MinSwaps times (a swap takes the
            // global rtnl lock, which other namespaces on a busy machine may hold for a while), within a time limit.
            int sent = 0;
            var clock = System.Diagnostics.Stopwatch.StartNew();
            while ((sent < Frames || Volatile.Read(ref swaps) < MinSwaps) && clock.Elapsed < TimeLimit && swapFailure is null)
                atB.Send(veth.FrameToA(BitConverter.GetBytes(sent++)));
            Volatile.Write(ref done, true);
            swapper.Join();
            reader.Join();
            Assert.Null(swapFailure);

            ulong first = xdp.Count(Pass), second = xdp.Count(SecondSlot);
            Assert.Equal((ulong)received, first + second);
            Assert.InRange(received, sent * 9 / 10, sent); // the backlog may drop a few before XDP; never more than sent
            Assert.True(first > 0 && second > 0 && swaps >= MinSwaps, $"too few swaps mid-stream: {first}/{second} counted after {swaps} swaps");
            if (Environment.GetEnvironmentVariable("EBPF_XDP_STRESS_REPORT") is not null)
                Assert.Fail($"{how}: {received} of {sent} frames, {first}+{second} counted, {swaps} swaps in {clock.Elapsed.TotalSeconds:0.0} s");
        }
        finally
        {
            link?.Dispose();
        }
    }
}
