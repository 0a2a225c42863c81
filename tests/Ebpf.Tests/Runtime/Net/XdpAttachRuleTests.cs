using Ebpf.Abi;
using Ebpf.Runtime;

namespace Ebpf.Tests.Runtime.Net;

/// <summary>Netlink-style XDP attachment with dev_xdp_attach's rules, each refusal with its errno and extack text.</summary>
public class XdpAttachRuleTests
{
    private static (BpfRuntime Rt, BpfCollection C, int Veth, int Dummy) Setup()
    {
        var rt = new BpfRuntime();
        var c = NetFixtures.Load(rt);
        int veth = rt.Backend.CreateDevice("veth0", "veth", "veth1")[0].Ifindex;
        int dummy = rt.Backend.CreateDevice("dum0", "dummy")[0].Ifindex;
        return (rt, c, veth, dummy);
    }

    private static void Refused(Errno errno, string message, Action attach)
    {
        var e = Assert.Throws<BpfException>(attach);
        Assert.Equal(errno, e.Errno);
        Assert.Contains(message, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Default_mode_is_native_on_veth_and_generic_on_lo_and_dummy()
    {
        var (rt, c, veth, dummy) = Setup();
        var p = c.Programs["verdict_by_byte"];
        p.XdpAttach(veth);
        p.XdpAttach(dummy);
        p.XdpAttach(1);
        var v = rt.Backend.XdpQuery(veth);
        Assert.Equal((XdpAttachMode.Driver, p.Id, p.Id, 0u), (v.AttachMode, v.ProgramId, v.DriverProgramId, v.GenericProgramId));
        var d = rt.Backend.XdpQuery(dummy);
        Assert.Equal((XdpAttachMode.Generic, p.Id, 0u, p.Id), (d.AttachMode, d.ProgramId, d.DriverProgramId, d.GenericProgramId));
        Assert.Equal(XdpAttachMode.Generic, rt.Backend.XdpQuery(1).AttachMode);
        Assert.Equal(0u, v.DriverLinkId);
        BpfProgram.XdpDetach(rt.Backend, veth);
        Assert.Equal(XdpAttachMode.None, rt.Backend.XdpQuery(veth).AttachMode);
    }

    [Fact]
    public void Replace_and_update_if_noexist_follow_the_expected_program()
    {
        var (rt, c, veth, _) = Setup();
        var a = c.Programs["verdict_by_byte"];
        var b = c.Programs["tag_pass"];
        a.XdpAttach(veth, XdpFlags.UpdateIfNoExist);
        Refused(Errno.EBUSY, "XDP program already attached", () => b.XdpAttach(veth, XdpFlags.UpdateIfNoExist));
        Refused(Errno.EEXIST, "Active program does not match expected", () => b.XdpAttach(veth, XdpFlags.Replace, expected: b));
        Refused(Errno.EEXIST, "Active program does not match expected", () => b.XdpAttach(veth, XdpFlags.Replace)); // expected: nothing
        Refused(Errno.EINVAL, "XDP_FLAGS_REPLACE is not specified", () => b.XdpAttach(veth, XdpFlags.None, expected: a));
        b.XdpAttach(veth, XdpFlags.Replace, expected: a);
        Assert.Equal(b.Id, rt.Backend.XdpQuery(veth).ProgramId);
        // Detach with REPLACE only when the expected one is attached.
        Refused(Errno.EEXIST, "Active program does not match expected", () => BpfProgram.XdpDetach(rt.Backend, veth, XdpFlags.Replace, a));
        BpfProgram.XdpDetach(rt.Backend, veth, XdpFlags.Replace, b);
        Assert.Equal(0u, rt.Backend.XdpQuery(veth).ProgramId);
        // No flag: plain replace of whatever is there.
        a.XdpAttach(veth);
        b.XdpAttach(veth);
        Assert.Equal(b.Id, rt.Backend.XdpQuery(veth).ProgramId);
    }

    [Fact]
    public void Mode_rules()
    {
        var (rt, c, veth, dummy) = Setup();
        var p = c.Programs["verdict_by_byte"];
        Refused(Errno.EINVAL, "Only one XDP mode flag can be set", () => p.XdpAttach(veth, XdpFlags.SkbMode | XdpFlags.DrvMode));
        Refused(Errno.EOPNOTSUPP, "Underlying driver does not support XDP in native mode", () => p.XdpAttach(dummy, XdpFlags.DrvMode));
        Refused(Errno.EOPNOTSUPP, "Underlying driver does not support XDP in native mode", () => p.XdpAttach(1, XdpFlags.HwMode));
        Assert.Equal(Errno.EINVAL, Assert.Throws<BpfException>(() => p.XdpAttach(veth, XdpFlags.HwMode)).Errno); // veth_xdp: no offload
        Assert.Equal(Errno.EINVAL, Assert.Throws<BpfException>(() => p.XdpAttach(veth, (XdpFlags)0x20)).Errno);
        p.XdpAttach(veth, XdpFlags.SkbMode);
        Refused(Errno.EEXIST, "Native and generic XDP can't be active at the same time", () => p.XdpAttach(veth, XdpFlags.DrvMode));
        Assert.Equal(XdpAttachMode.Generic, rt.Backend.XdpQuery(veth).AttachMode);
        // Without a mode flag on veth the native slot is meant: empty, so a plain detach changes nothing.
        BpfProgram.XdpDetach(rt.Backend, veth);
        Assert.Equal(p.Id, rt.Backend.XdpQuery(veth).GenericProgramId);
        BpfProgram.XdpDetach(rt.Backend, veth, XdpFlags.SkbMode);
        Assert.Equal(XdpAttachMode.None, rt.Backend.XdpQuery(veth).AttachMode);
    }

    [Fact]
    public void Only_xdp_device_programs_attach()
    {
        var (rt, c, veth, _) = Setup();
        Assert.Equal(Errno.EINVAL, Assert.Throws<BpfException>(() => c.Programs["not_xdp"].XdpAttach(veth)).Errno);
        Refused(Errno.EINVAL, "BPF_XDP_DEVMAP programs can not be attached to a device", () => c.Programs["on_devmap"].XdpAttach(veth));
        Refused(Errno.EINVAL, "BPF_XDP_CPUMAP programs can not be attached to a device", () => c.Programs["on_cpumap"].XdpAttach(veth));
        Assert.Equal(Errno.EINVAL, Assert.Throws<BpfException>(() => c.Programs["not_xdp"].AttachXdp(veth)).Errno);
        Refused(Errno.EINVAL, "BPF_XDP_DEVMAP programs can not be attached to a device", () => c.Programs["on_devmap"].AttachXdp(veth));
        Assert.Equal(Errno.ENODEV, Assert.Throws<BpfException>(() => c.Programs["tag_pass"].XdpAttach(77)).Errno);
        Assert.Equal(Errno.EINVAL, Assert.Throws<BpfException>(() => c.Programs["tag_pass"].AttachXdp(77)).Errno);
        Assert.Equal(XdpAttachMode.None, rt.Backend.XdpQuery(veth).AttachMode);
    }

    [Fact]
    public void The_device_keeps_a_netlink_program_alive_after_every_handle_is_gone()
    {
        var (rt, _, veth, _) = Setup();
        uint id;
        using (var c = NetFixtures.Load(rt))
        {
            var p = c.Programs["tag_pass"];
            id = p.Id;
            p.XdpAttach(veth);
        }
        Assert.Contains(id, rt.GetIds(ObjectKind.Program));
        Assert.Equal(id, rt.Backend.XdpQuery(veth).ProgramId);
        BpfProgram.XdpDetach(rt.Backend, veth);
        Assert.DoesNotContain(id, rt.GetIds(ObjectKind.Program));
    }

    [Fact]
    public void Removing_the_device_drops_its_netlink_program()
    {
        var (rt, _, veth, _) = Setup();
        uint id;
        using (var c = NetFixtures.Load(rt))
        {
            id = c.Programs["tag_pass"].Id;
            c.Programs["tag_pass"].XdpAttach(veth);
        }
        rt.Backend.DeleteDevice(veth);
        Assert.DoesNotContain(id, rt.GetIds(ObjectKind.Program));
    }
}
