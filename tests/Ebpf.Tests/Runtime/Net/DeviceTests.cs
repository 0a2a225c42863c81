using Ebpf.Runtime;
using Ebpf.Runtime.Net;

namespace Ebpf.Tests.Runtime.Net;

/// <summary>Devices of the managed runtime: lo, dummy devices and veth pairs, names, ifindexes and removal.</summary>
public class DeviceTests
{
    [Fact]
    public void Lo_is_ifindex_1_and_cannot_be_removed()
    {
        var rt = new BpfRuntime();
        Assert.Equal(1, rt.Backend.GetDeviceIndex("lo"));
        var lo = Assert.Single(rt.Backend.ListDevices());
        Assert.Equal(("lo", "loopback", 0), (lo.Name, lo.Kind, lo.PeerIfindex));
        var e = Assert.Throws<BpfException>(() => rt.Backend.DeleteDevice(1));
        Assert.Equal(Errno.EOPNOTSUPP, e.Errno);
        Assert.Equal(Errno.ENODEV, Assert.Throws<BpfException>(() => rt.Backend.GetDeviceIndex("eth9")).Errno);
    }

    [Fact]
    public void Veth_pairs_point_at_each_other_and_leave_together()
    {
        var rt = new BpfRuntime();
        var made = rt.Backend.CreateDevice("veth0", "veth", "veth1");
        Assert.Equal([2, 3], made.Select(d => d.Ifindex));
        Assert.Equal(3, made[0].PeerIfindex);
        Assert.Equal(2, made[1].PeerIfindex);
        Assert.All(made, d => Assert.Equal("veth", d.Kind));
        var dummy = Assert.Single(rt.Backend.CreateDevice("dum0", "dummy"));
        Assert.Equal(4, dummy.Ifindex);

        rt.Backend.DeleteDevice(3); // the peer takes veth0 with it
        Assert.Equal(["lo", "dum0"], rt.Backend.ListDevices().Select(d => d.Name));
        // ifindexes are allocated cyclically: the freed 2 and 3 are not reused at once
        Assert.Equal(5, Assert.Single(rt.Backend.CreateDevice("dum1", "dummy")).Ifindex);
    }

    [Theory]
    [InlineData("")]
    [InlineData("sixteen-chars-xx")]
    [InlineData("a/b")]
    [InlineData("a:b")]
    [InlineData("a b")]
    [InlineData(".")]
    [InlineData("..")]
    public void Invalid_names_are_refused(string name)
    {
        var rt = new BpfRuntime();
        Assert.Equal(Errno.EINVAL, Assert.Throws<BpfException>(() => rt.Backend.CreateDevice(name, "dummy")).Errno);
        Assert.Single(rt.Backend.ListDevices());
    }

    [Fact]
    public void Taken_names_unknown_kinds_and_missing_peers_are_refused()
    {
        var rt = new BpfRuntime();
        rt.Backend.CreateDevice("veth0", "veth", "veth1");
        Assert.Equal(Errno.EEXIST, Assert.Throws<BpfException>(() => rt.Backend.CreateDevice("veth1", "dummy")).Errno);
        Assert.Equal(Errno.EEXIST, Assert.Throws<BpfException>(() => rt.Backend.CreateDevice("x", "veth", "x")).Errno);
        Assert.Equal(Errno.EINVAL, Assert.Throws<BpfException>(() => rt.Backend.CreateDevice("y", "veth")).Errno);
        Assert.Equal(Errno.EOPNOTSUPP, Assert.Throws<BpfException>(() => rt.Backend.CreateDevice("br0", "bridge")).Errno);
        Assert.Equal(3, rt.Backend.ListDevices().Count);
        Assert.Equal(Errno.ENODEV, Assert.Throws<BpfException>(() => rt.Backend.DeleteDevice(42)).Errno);
    }

    [Fact]
    public void Frames_without_a_program_reach_the_stack_and_bad_frames_are_refused()
    {
        var rt = new BpfRuntime();
        var dev = rt.Network.AddDevice("dum0", rxQueues: 2);
        var r = rt.Network.Inject("dum0", NetFixtures.Frame(), rxQueue: 1);
        Assert.Equal(XdpActions.Pass, Assert.Single(r.Frames).Verdict);
        Assert.Equal(1, r.Delivered("dum0 stack"));
        Assert.Single(dev.Received.Drain());
        Assert.Equal(Errno.EINVAL, Assert.Throws<BpfException>(() => rt.Network.Inject("dum0", NetFixtures.Frame(), rxQueue: 2)).Errno);
        Assert.Equal(Errno.EINVAL, Assert.Throws<BpfException>(() => rt.Network.Inject("dum0", new byte[13])).Errno);
        Assert.Equal(Errno.EINVAL, Assert.Throws<BpfException>(() => rt.Network.Inject("dum0", new byte[3521])).Errno);
        Assert.Equal(Errno.ENODEV, Assert.Throws<BpfException>(() => rt.Network.Inject("nope", NetFixtures.Frame())).Errno);
    }
}
