using Ebpf.Xdp;

namespace Ebpf.Tests.Examples;

/// <summary>The demo's XDP step (examples/Demo/XdpMultiprog.cs) on the example objects: the numbers it prints hold.</summary>
public class XdpMultiprogExampleTests
{
    [Fact]
    public void Counter_filter_and_sampler_share_a_device_and_the_filter_is_replaced_live()
    {
        string examples = Path.Combine(SharedData.RepoRoot, "examples");
        Assert.Equal((10u, 20u, 30u), (
            XdpProgram.FromFile(Path.Combine(examples, "xdp_counter.bpf.o")).Priority,
            XdpProgram.FromFile(Path.Combine(examples, "xdp_filter.bpf.o")).Priority,
            XdpProgram.FromFile(Path.Combine(examples, "xdp_sampler.bpf.o")).Priority));
        var n = Ebpf.Demo.XdpMultiprogDemo.Run(examples, TextWriter.Null);
        // Every injected frame went through the counter; each was dropped by exactly one filter or seen by the sampler.
        Assert.Equal((ulong)n.Injected, n.Counted);
        Assert.Equal(n.Counted, n.DroppedFirst + n.DroppedSecond + n.Seen);
        // Outside the swap window: 4000 frames of 60 B dropped by the 64-byte filter, then 8000 (60 and 100 B) by the 128-byte one.
        Assert.True(n.DroppedFirst >= 4000 && n.DroppedSecond >= 8000, $"{n.DroppedFirst} {n.DroppedSecond}");
        Assert.True(n.Seen >= 8000 + 4000);
        Assert.Equal((n.Seen + 15) / 16, n.Sampled);
        Assert.Contains(" =>              20     xdp_filter", n.Status);
        Assert.Equal(3, n.Status.Split('\n').Count(l => l.StartsWith(" =>", StringComparison.Ordinal)));
    }
}
