using Ebpf.Collections;
using Ebpf.Linux.Net;

namespace Ebpf.Tests.Linux.Net;

/// <summary>
/// One XDP scenario through the backend interface, run on the managed runtime and on the kernel (inside a private network
/// namespace, where the devices it creates live and die): devices, netlink attachment rules, XDP links, and what device
/// removal does to a link. Both rows must see the same ids, errnos and kernel messages.
/// </summary>
public class XdpBackendTests
{
    private const Errno ENOLINK = (Errno)67;

    /// <summary>Runs <paramref name="body"/> with the backend, on Linux on the thread of a fresh namespace.</summary>
    private static void InNamespace(string backend, Action<TestBackend> body)
    {
        using var b = TestBackend.Create(backend);
        if (!b.IsLinux)
        {
            body(b);
            return;
        }
        using var ns = NetworkNamespace.Create();
        ns.Invoke(() => body(b));
    }

    private static BpfException Refused(Action action) => Assert.ThrowsAny<BpfException>(action);

    [Theory, ClassData(typeof(Backends))]
    public void DevicesAreCreatedListedAndRemoved(string backend) => InNamespace(backend, b =>
    {
        var be = b.Backend;
        var pair = be.CreateDevice("xa", "veth", "xb");
        Assert.Equal(["xa", "xb"], pair.Select(d => d.Name));
        Assert.Equal((pair[1].Ifindex, pair[0].Ifindex), (pair[0].PeerIfindex, pair[1].PeerIfindex));
        Assert.All(pair, d => Assert.Equal("veth", d.Kind));
        Assert.Equal(pair[0].Ifindex, be.GetDeviceIndex("xa"));
        var listed = be.ListDevices();
        Assert.Equal(1, listed[0].Ifindex);
        Assert.Equal(("lo", "loopback"), (listed[0].Name, listed[0].Kind));
        Assert.Equal(listed.Select(d => d.Ifindex).Order(), listed.Select(d => d.Ifindex));
        Assert.Contains(listed, d => d.Name == "xb" && d.PeerIfindex == pair[0].Ifindex);
        Assert.Equal(XdpAttachMode.None, listed.Single(d => d.Name == "xa").Xdp!.AttachMode);

        Assert.Equal(Errno.EEXIST, Refused(() => be.CreateDevice("xa", "veth", "xc")).Errno);
        Assert.Equal(Errno.ENODEV, Refused(() => be.GetDeviceIndex("nosuchdev0")).Errno);
        Assert.Equal(Errno.EOPNOTSUPP, Refused(() => be.DeleteDevice(1)).Errno); // lo cannot be deleted

        be.DeleteDevice(pair[0].Ifindex); // the peer goes with it
        Assert.DoesNotContain(be.ListDevices(), d => d.Name is "xa" or "xb");
        Assert.Equal(Errno.ENODEV, Refused(() => be.GetDeviceIndex("xb")).Errno);
    });

    [Theory, ClassData(typeof(Backends))]
    public void NetlinkAttachRulesAndLinks(string backend) => InNamespace(backend, b =>
    {
        var be = b.Backend;
        int a = be.CreateDevice("xa", "veth", "xb")[0].Ifindex;
        using var c = b.LoadFixture("xdp/linux/xdp_verdict.bpf.o");
        var first = c.Programs["xdp_verdict"];
        var second = c.Programs["xdp_second"];

        first.XdpAttach(a, XdpFlags.SkbMode | XdpFlags.UpdateIfNoExist);
        var state = be.XdpQuery(a);
        Assert.Equal((XdpAttachMode.Generic, first.Id, first.Id, 0u, 0u), (state.AttachMode, state.ProgramId, state.GenericProgramId, state.DriverProgramId, state.GenericLinkId));

        var busy = Refused(() => second.XdpAttach(a, XdpFlags.SkbMode | XdpFlags.UpdateIfNoExist));
        Assert.Equal(Errno.EBUSY, busy.Errno);
        Assert.Contains("XDP program already attached", busy.Message);
        var mismatch = Refused(() => second.XdpAttach(a, XdpFlags.SkbMode | XdpFlags.Replace, expected: second));
        Assert.Equal(Errno.EEXIST, mismatch.Errno);
        Assert.Contains("Active program does not match expected", mismatch.Message);
        var both = Refused(() => second.XdpAttach(a, XdpFlags.DrvMode));
        Assert.Equal(Errno.EEXIST, both.Errno);
        Assert.Contains("Native and generic XDP can't be active at the same time", both.Message);
        Assert.Equal(Errno.EBUSY, Refused(() => second.AttachXdp(a, XdpFlags.SkbMode)).Errno);

        second.XdpAttach(a, XdpFlags.SkbMode | XdpFlags.Replace, expected: first);
        Assert.Equal(second.Id, be.XdpQuery(a).GenericProgramId);
        BpfProgram.XdpDetach(be, a, XdpFlags.SkbMode | XdpFlags.Replace, expected: second);
        Assert.Equal(XdpAttachMode.None, be.XdpQuery(a).AttachMode);

        // Native mode by default on a veth; the link is what XdpQuery names as the slot's holder.
        using var link = first.AttachXdp(a);
        state = be.XdpQuery(a);
        Assert.Equal((XdpAttachMode.Driver, first.Id, link.Id), (state.AttachMode, state.DriverProgramId, state.DriverLinkId));
        var info = link.GetInfo();
        Assert.Equal((Abi.LinkType.Xdp, a, first.Id, false), (info.Type, info.Ifindex, info.ProgramId, info.Detached));
        var held = Refused(() => second.XdpAttach(a, XdpFlags.DrvMode));
        Assert.Equal(Errno.EBUSY, held.Errno);
        Assert.Contains("Can't replace active BPF XDP link", held.Message);
        Assert.Equal(Errno.EBUSY, Refused(() => BpfProgram.XdpDetach(be, a)).Errno);
        Assert.Equal(Errno.EINVAL, Refused(() => second.AttachXdp(a, XdpFlags.Replace)).Errno);

        link.Update(second);
        Assert.Equal(second.Id, be.XdpQuery(a).DriverProgramId);

        // Removing the device leaves the link defunct: ifindex 0, program kept, updates refused.
        be.DeleteDevice(a);
        info = link.GetInfo();
        Assert.Equal((0, second.Id, true), (info.Ifindex, info.ProgramId, info.Detached));
        Assert.Equal(ENOLINK, Refused(() => link.Update(first)).Errno);
    });
}
