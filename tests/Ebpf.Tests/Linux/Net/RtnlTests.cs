using Ebpf.Linux.Net;

namespace Ebpf.Tests.Linux.Net;

/// <summary>rtnetlink device requests in private namespaces: what RTM_GETLINK reports, veth pairs, moving a device out.</summary>
public class RtnlTests
{
    [Fact]
    public void NamespaceListsLoopbackAndTheVethPairWithTheirPeers()
    {
        using var veth = VethNamespace.Create("va", "vb");
        var links = veth.Invoke(() =>
        {
            using var rtnl = RtnlClient.Open();
            return rtnl.GetLinks();
        });
        // A fresh namespace holds lo (always ifindex 1, down) and our two devices, nothing else.
        Assert.Equal(["lo", "va", "vb"], links.Select(l => l.Name).Order());
        var lo = links.Single(l => l.Name == "lo");
        Assert.Equal(1, lo.Ifindex);
        Assert.False(lo.IsUp);
        var a = links.Single(l => l.Name == "va");
        var b = links.Single(l => l.Name == "vb");
        Assert.Equal(("veth", "veth"), (a.Kind, b.Kind));
        Assert.Equal((b.Ifindex, a.Ifindex), (a.LinkIfindex, b.LinkIfindex));
        Assert.True(a.IsUp && b.IsUp);
        Assert.Equal(6, a.Address.Length);
        Assert.Equal(RtnlXdpState.Empty, a.Xdp);
        var byName = veth.Invoke(() =>
        {
            using var rtnl = RtnlClient.Open();
            return rtnl.GetLink("va");
        });
        Assert.Equal((a.Ifindex, a.Name, a.Kind, a.LinkIfindex, a.Mtu), (byName.Ifindex, byName.Name, byName.Kind, byName.LinkIfindex, byName.Mtu));
        Assert.Equal(a.Address, byName.Address);
        var missing = Assert.Throws<NetlinkException>(() => veth.Invoke(() =>
        {
            using var rtnl = RtnlClient.Open();
            return rtnl.GetLink("nosuchdev0");
        }));
        Assert.Equal(Errno.ENODEV, missing.Errno);
        var duplicate = Assert.Throws<NetlinkException>(() => veth.Invoke(() =>
        {
            using var rtnl = RtnlClient.Open();
            rtnl.CreateVeth("va", "vc");
        }));
        Assert.Equal(Errno.EEXIST, duplicate.Errno);
    }

    [Fact]
    public void MovingTheVethPeerToAnotherNamespace()
    {
        using var veth = VethNamespace.Create("ma", "mb");
        using var other = NetworkNamespace.Create();
        veth.Invoke(() =>
        {
            using var rtnl = RtnlClient.Open();
            rtnl.MoveToNamespace(veth.B.Ifindex, other.Handle);
            Assert.DoesNotContain(rtnl.GetLinks(), l => l.Name == "mb");
            Assert.Equal(Errno.ENODEV, Assert.Throws<NetlinkException>(() => rtnl.GetLink(veth.B.Ifindex)).Errno);
        });
        var moved = other.Invoke(() =>
        {
            using var rtnl = RtnlClient.Open();
            return rtnl.GetLink("mb");
        });
        Assert.Equal("veth", moved.Kind);
        Assert.Equal(veth.B.Address, moved.Address);
        Assert.False(moved.IsUp); // a device moved between namespaces is brought down
        // Deleting the end that stayed takes the moved peer with it.
        veth.Delete(veth.A);
        Assert.Equal(Errno.ENODEV, Assert.Throws<NetlinkException>(() => other.Invoke(() =>
        {
            using var rtnl = RtnlClient.Open();
            return rtnl.GetLink("mb");
        })).Errno);
    }
}
