using Ebpf.Collections;
using Ebpf.Linux;
using Ebpf.Linux.Net;

namespace Ebpf.Tests.Linux.Net;

/// <summary>
/// The kernel's rules for one XDP program per device and mode (dev_xdp_attach, kernel-semantics.md §1.6 "XDP link
/// specifics"), asked of the live kernel on a veth in a private namespace: the errno and, for netlink, the extack text
/// the kernel returns, and the state the kernel reports afterwards (IFLA_XDP, bpf_link_info).
/// </summary>
public class XdpAttachRulesTests
{
    private const Errno ENOLINK = (Errno)67;
    private const XdpFlags Skb = XdpFlags.SkbMode, Drv = XdpFlags.DrvMode;

    private static NetlinkException Refused(Action action) => Assert.Throws<NetlinkException>(action);

    [Fact]
    public void NetlinkAttachHonoursUpdateIfNoExistAndReplace()
    {
        using var veth = VethNamespace.Create();
        using var xdp = new XdpFixture();
        int a = veth.A.Ifindex;
        veth.Invoke(() =>
        {
            XdpNetlink.Attach(a, xdp.Verdict, Skb | XdpFlags.UpdateIfNoExist);
            Assert.Equal(xdp.VerdictId, XdpNetlink.Query(a).GenericProgramId);

            var busy = Refused(() => XdpNetlink.Attach(a, xdp.Second, Skb | XdpFlags.UpdateIfNoExist));
            Assert.Equal(Errno.EBUSY, busy.Errno);
            Assert.Equal("XDP program already attached", busy.ExtendedAck);

            var wrong = Refused(() => XdpNetlink.Attach(a, xdp.Second, Skb | XdpFlags.Replace, expected: xdp.Second));
            Assert.Equal(Errno.EEXIST, wrong.Errno);
            Assert.Equal("Active program does not match expected", wrong.ExtendedAck);
            Assert.Equal($"RTM_SETLINK ifindex {a} IFLA_XDP: Active program does not match expected (File exists)", wrong.Message);
            var none = Refused(() => XdpNetlink.Attach(a, xdp.Second, Skb | XdpFlags.Replace, expected: null));
            Assert.Equal(Errno.EEXIST, none.Errno);
            Assert.Equal(xdp.VerdictId, XdpNetlink.Query(a).GenericProgramId); // refusals changed nothing

            XdpNetlink.Attach(a, xdp.Second, Skb | XdpFlags.Replace, expected: xdp.Verdict);
            Assert.Equal(xdp.SecondId, XdpNetlink.Query(a).GenericProgramId);

            // Native and generic cannot both be active; two mode flags at once are refused by rtnetlink before
            // dev_xdp_attach, with no extack message.
            var both = Refused(() => XdpNetlink.Attach(a, xdp.Verdict, Drv));
            Assert.Equal(Errno.EEXIST, both.Errno);
            Assert.Equal("Native and generic XDP can't be active at the same time", both.ExtendedAck);
            Assert.Equal(Errno.EINVAL, Refused(() => XdpNetlink.Attach(a, xdp.Verdict, Skb | Drv)).Errno);

            // Detaching under REPLACE also compares: the stale expected program is refused, the current one detaches.
            Assert.Equal(Errno.EEXIST, Refused(() => XdpNetlink.Attach(a, null, Skb | XdpFlags.Replace, expected: xdp.Verdict)).Errno);
            XdpNetlink.Attach(a, null, Skb | XdpFlags.Replace, expected: xdp.Second);
            Assert.Equal(RtnlXdpState.Empty, XdpNetlink.Query(a));
        });
    }

    [Fact]
    public void LinksAndNetlinkProgramsExcludeEachOther()
    {
        using var veth = VethNamespace.Create();
        using var xdp = new XdpFixture();
        int a = veth.A.Ifindex;
        veth.Invoke(() =>
        {
            // A link cannot take a slot a netlink program holds (the link path sends no extack to user space).
            XdpNetlink.Attach(a, xdp.Verdict, Skb);
            Assert.Equal(Errno.EBUSY, Assert.Throws<BpfException>(() => XdpLinks.Create(xdp.Second, a, Skb)).Errno);
            XdpNetlink.Attach(a, null, Skb);

            using var link = XdpLinks.Create(xdp.Verdict, a, Skb);
            var info = link.GetInfo();
            Assert.Equal(Abi.LinkType.Xdp, info.Type);
            Assert.Equal(xdp.VerdictId, info.ProgramId);
            Assert.Equal(a, XdpLinks.IfindexOf(info));
            Assert.Equal(new RtnlXdpState(XdpAttachMode.Generic, xdp.VerdictId, 0, xdp.VerdictId, 0), XdpNetlink.Query(a));

            // Netlink can neither replace nor detach a link's program; a second link is refused; links take mode flags only.
            var replace = Refused(() => XdpNetlink.Attach(a, xdp.Second, Skb));
            Assert.Equal(Errno.EBUSY, replace.Errno);
            Assert.Equal("Can't replace active BPF XDP link", replace.ExtendedAck);
            var detach = Refused(() => XdpNetlink.Attach(a, null, Skb));
            Assert.Equal(Errno.EBUSY, detach.Errno);
            Assert.Equal("Can't replace active BPF XDP link", detach.ExtendedAck);
            Assert.Equal(Errno.EBUSY, Assert.Throws<BpfException>(() => XdpLinks.Create(xdp.Second, a, Skb)).Errno);
            Assert.Equal(Errno.EINVAL, Assert.Throws<BpfException>(() => XdpLinks.Create(xdp.Second, a, Skb | XdpFlags.UpdateIfNoExist)).Errno);

            // LINK_UPDATE swaps the device's program; BPF_F_REPLACE with the wrong old program is EPERM.
            link.Update(xdp.Second);
            Assert.Equal(xdp.SecondId, XdpNetlink.Query(a).GenericProgramId);
            Assert.Equal(xdp.SecondId, link.GetInfo().ProgramId);
            Assert.Equal(Errno.EPERM, Assert.Throws<BpfException>(() => link.Update(xdp.Verdict, expected: xdp.Verdict)).Errno);
            link.Update(xdp.Verdict, expected: xdp.Second);
            Assert.Equal(xdp.VerdictId, XdpNetlink.Query(a).GenericProgramId);

            // LINK_DETACH frees the device; the link object stays, reporting ifindex 0; updating it is ENOLINK.
            link.Detach();
            Assert.Equal(RtnlXdpState.Empty, XdpNetlink.Query(a));
            var detached = link.GetInfo();
            Assert.Equal(0, XdpLinks.IfindexOf(detached));
            Assert.Equal(ENOLINK, Assert.Throws<BpfException>(() => link.Update(xdp.Second)).Errno);

            // The slot is free again for netlink.
            XdpNetlink.Attach(a, xdp.Second, Skb | XdpFlags.UpdateIfNoExist);
            Assert.Equal(xdp.SecondId, XdpNetlink.Query(a).GenericProgramId);
            XdpNetlink.Attach(a, null, Skb);
        });
    }

    [Fact]
    public void DeletingTheDeviceLeavesTheLinkDefunct()
    {
        using var veth = VethNamespace.Create();
        using var xdp = new XdpFixture();
        int a = veth.A.Ifindex;
        using var link = veth.Invoke(() => XdpLinks.Create(xdp.Verdict, a, Drv));
        Assert.Equal(a, XdpLinks.IfindexOf(link.GetInfo()));
        veth.Delete(veth.A);
        Assert.Equal(Errno.ENODEV, Assert.Throws<NetlinkException>(() => veth.Refresh(veth.A)).Errno);
        var info = link.GetInfo();
        Assert.Equal(0, XdpLinks.IfindexOf(info));
        Assert.Equal(ENOLINK, Assert.Throws<BpfException>(() => link.Update(xdp.Second)).Errno);
        // A link to an ifindex that names no device is EINVAL (bpf_xdp_link_attach), not ENODEV.
        Assert.Equal(Errno.EINVAL, Assert.Throws<BpfException>(() => veth.Invoke(() => XdpLinks.Create(xdp.Second, a, Drv))).Errno);
    }
}
