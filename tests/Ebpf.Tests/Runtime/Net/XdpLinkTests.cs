using Ebpf.Abi;
using Ebpf.Runtime.Net;
using Ebpf.Runtime;

namespace Ebpf.Tests.Runtime.Net;

/// <summary>XDP bpf_links against netlink ownership: the sequence of the kernel's prog_tests/xdp_link.c, on lo and veth.</summary>
public class XdpLinkTests
{
    private static void Refused(Errno errno, string message, Action attach)
    {
        var e = Assert.Throws<BpfException>(attach);
        Assert.Equal(errno, e.Errno);
        Assert.Contains(message, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Links_and_netlink_never_take_each_others_slot()
    {
        var rt = new BpfRuntime();
        using var c = NetFixtures.Load(rt);
        var p1 = c.Programs["verdict_by_byte"];
        var p2 = c.Programs["tag_pass"];
        const int lo = 1;

        // 1. netlink owns lo: no link can take it over
        p1.XdpAttach(lo, XdpFlags.Replace);
        Refused(Errno.EBUSY, "Can't replace active XDP program with BPF link", () => p1.AttachXdp(lo));
        BpfProgram.XdpDetach(rt.Backend, lo, XdpFlags.Replace, p1);

        // 2. a link owns lo: netlink attach, replace and detach fail, and so does a second link
        var link = p1.AttachXdp(lo);
        var state = rt.Backend.XdpQuery(lo);
        Assert.Equal((p1.Id, link.Id), (state.GenericProgramId, state.GenericLinkId));
        Refused(Errno.EBUSY, "Can't replace active BPF XDP link", () => p2.XdpAttach(lo));
        Refused(Errno.EBUSY, "Can't replace active BPF XDP link", () => p2.XdpAttach(lo, XdpFlags.Replace, p1));
        Refused(Errno.EBUSY, "Can't replace active BPF XDP link", () => BpfProgram.XdpDetach(rt.Backend, lo));
        Refused(Errno.EBUSY, "Can't replace active BPF XDP link", () => p2.AttachXdp(lo).Dispose()); // checked first

        // 3. destroying the link frees the slot for the next one
        link.Dispose();
        Assert.Equal(XdpAttachMode.None, rt.Backend.XdpQuery(lo).AttachMode);
        using var link2 = p1.AttachXdp(lo);

        // 4. update swaps the program; info shows it with ifindex lo; a tc program is refused
        link2.Update(p2);
        var info = link2.GetInfo();
        Assert.Equal((LinkType.Xdp, AttachType.Xdp, p2.Id, lo, false), (info.Type, info.AttachType, info.ProgramId, info.Ifindex, info.Detached));
        Assert.Equal(p2.Id, rt.Backend.XdpQuery(lo).GenericProgramId);
        Assert.Equal(Errno.EINVAL, Assert.Throws<BpfException>(() => link2.Update(c.Programs["not_xdp"])).Errno);
        Assert.Equal(Errno.EPERM, Assert.Throws<BpfException>(() => link2.Update(p1, expected: p1)).Errno);

        // 5. LINK_DETACH: the link stays, defunct: ifindex 0, program id kept; update now fails with ENOLINK
        link2.Detach();
        info = link2.GetInfo();
        Assert.Equal((p2.Id, 0, true), (info.ProgramId, info.Ifindex, info.Detached));
        Assert.Equal(XdpAttachMode.None, rt.Backend.XdpQuery(lo).AttachMode);
        Assert.Equal((Errno)67, Assert.Throws<BpfException>(() => link2.Update(p1)).Errno);
    }

    [Fact]
    public void Link_attach_accepts_mode_flags_only()
    {
        var rt = new BpfRuntime();
        using var c = NetFixtures.Load(rt);
        int veth = rt.Backend.CreateDevice("veth0", "veth", "veth1")[0].Ifindex;
        var p = c.Programs["tag_pass"];
        Refused(Errno.EINVAL, "Invalid XDP flags for BPF link attachment", () => p.AttachXdp(veth, XdpFlags.UpdateIfNoExist));
        Refused(Errno.EINVAL, "Invalid XDP flags for BPF link attachment", () => p.AttachXdp(veth, XdpFlags.Replace));
        Refused(Errno.EINVAL, "Only one XDP mode flag can be set", () => p.AttachXdp(veth, XdpFlags.SkbMode | XdpFlags.DrvMode));
        // A refused link never became visible.
        Assert.Empty(rt.GetIds(ObjectKind.Link));
        using var skb = p.AttachXdp(veth, XdpFlags.SkbMode);
        Assert.Equal(skb.Id, rt.Backend.XdpQuery(veth).GenericLinkId);
        Refused(Errno.EEXIST, "Native and generic XDP can't be active at the same time", () => p.AttachXdp(veth, XdpFlags.DrvMode));
    }

    [Fact]
    public void Removing_the_device_makes_its_links_defunct()
    {
        var rt = new BpfRuntime();
        using var c = NetFixtures.Load(rt);
        var (veth0, veth1) = rt.Network.AddVethPair("veth0", "veth1");
        var p = c.Programs["tag_pass"];
        using var link = p.AttachXdp((int)veth0.Ifindex);
        using var peerLink = p.AttachXdp((int)veth1.Ifindex, XdpFlags.SkbMode);
        Assert.Equal((int)veth0.Ifindex, link.GetInfo().Ifindex);

        rt.Network.RemoveDevice("veth1"); // takes veth0 with it
        foreach (var l in new[] { link, peerLink })
        {
            var info = l.GetInfo();
            Assert.Equal((0, p.Id, true), (info.Ifindex, info.ProgramId, info.Detached));
            Assert.Equal((Errno)67, Assert.Throws<BpfException>(() => l.Update(c.Programs["verdict_by_byte"])).Errno);
            l.Detach(); // a no-op on a defunct link
        }
        Assert.Contains(link.Id, rt.GetIds(ObjectKind.Link));
    }

    [Fact]
    public void A_pinned_link_keeps_the_program_on_the_device()
    {
        var rt = new BpfRuntime();
        using var c = NetFixtures.Load(rt);
        int veth = rt.Backend.CreateDevice("veth0", "veth", "veth1")[0].Ifindex;
        using (var link = c.Programs["tag_pass"].AttachXdp(veth))
            link.Pin("/sys/fs/bpf/xdp_link");
        Assert.Equal(c.Programs["tag_pass"].Id, rt.Backend.XdpQuery(veth).DriverProgramId);
        rt.Backend.Unpin("/sys/fs/bpf/xdp_link");
        Assert.Equal(XdpAttachMode.None, rt.Backend.XdpQuery(veth).AttachMode);
    }
}

/// <summary>LINK_UPDATE changes what the next frame runs, in both engines.</summary>
public class XdpLinkUpdateTests
{
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void The_next_frame_runs_the_new_program(bool jit)
    {
        var rt = new BpfRuntime { JitEnabled = jit };
        using var c = NetFixtures.Load(rt);
        rt.Network.AddVethPair("veth0", "veth1");
        int ifindex = rt.Backend.GetDeviceIndex("veth0");
        using var link = c.Programs["tag_pass"].AttachXdp(ifindex);
        for (int i = 0; i < 6; i++)
        {
            var (to, verdict, tag) = i % 2 == 0 ? (c.Programs["tag_tx"], XdpActions.Tx, (byte)0xbb) : (c.Programs["tag_pass"], XdpActions.Pass, (byte)0xaa);
            link.Update(to);
            var r = rt.Network.Inject("veth0", NetFixtures.Frame(length: 128)).Frames[0];
            Assert.Equal(verdict, r.Verdict);
            Assert.True(NetFixtures.TaggedWholly(r.Data, tag));
        }
    }
}
