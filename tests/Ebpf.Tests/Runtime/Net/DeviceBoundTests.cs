using Ebpf.Abi;
using Ebpf.Loading;
using Ebpf.Runtime;

namespace Ebpf.Tests.Runtime.Net;

/// <summary>Device-bound XDP programs (prog_ifindex + BPF_F_XDP_DEV_BOUND_ONLY): load and attach rules.</summary>
public class DeviceBoundTests
{
    private const uint BoundOnly = (uint)ProgramLoadFlags.XdpDevBoundOnly, Frags = (uint)ProgramLoadFlags.XdpHasFrags;

    private static BpfProgram Load(BpfRuntime rt, int ifindex, uint flags, ProgramType type = ProgramType.Xdp) =>
        rt.LoadProgram(new ProgramDefinition(type, RuntimeTestPrograms.ReturnConstant(2), "bound", Flags: flags),
            options: new ProgramLoadOptions { Ifindex = ifindex });

    private static Errno LoadError(BpfRuntime rt, int ifindex, uint flags, ProgramType type = ProgramType.Xdp) =>
        Assert.Throws<BpfException>(() => Load(rt, ifindex, flags, type).Dispose()).Errno;

    [Fact]
    public void Load_rules()
    {
        var rt = new BpfRuntime();
        var (veth0, _) = rt.Network.AddVethPair("veth0", "veth1");
        var dummy = rt.Network.AddDevice("dum0");
        int v = (int)veth0.Ifindex;
        Assert.Equal(Errno.EINVAL, LoadError(rt, v, BoundOnly, ProgramType.SocketFilter));
        Assert.Equal(Errno.EINVAL, LoadError(rt, v, BoundOnly, ProgramType.SchedCls));
        Assert.Equal(Errno.EINVAL, LoadError(rt, v, BoundOnly | (uint)ProgramLoadFlags.Sleepable));
        Assert.Equal(Errno.EINVAL, LoadError(rt, v, Frags));           // frags only for bound-only programs
        Assert.Equal(Errno.EINVAL, LoadError(rt, v, 0));               // hardware offload: no device offers it
        Assert.Equal(Errno.EINVAL, LoadError(rt, 99, BoundOnly));      // no such device
        Assert.Equal(Errno.EOPNOTSUPP, LoadError(rt, (int)dummy.Ifindex, BoundOnly)); // no ndo_bpf
        Assert.Equal(Errno.EOPNOTSUPP, LoadError(rt, 1, BoundOnly));
        using var ok = Load(rt, v, BoundOnly | Frags);
        Assert.Equal(veth0.Ifindex, ok.Program.BoundIfindex);
        using var unbound = Load(rt, 0, BoundOnly); // the flag alone binds nothing
        Assert.Equal(0u, unbound.Program.BoundIfindex);
    }

    [Fact]
    public void A_bound_program_attaches_only_natively_to_its_own_device()
    {
        var rt = new BpfRuntime();
        var (veth0, veth1) = rt.Network.AddVethPair("veth0", "veth1");
        using var p = Load(rt, (int)veth0.Ifindex, BoundOnly);
        var e = Assert.Throws<BpfException>(() => p.XdpAttach((int)veth1.Ifindex));
        Assert.Equal(Errno.EINVAL, e.Errno);
        Assert.Contains("Program bound to different device", e.Message, StringComparison.Ordinal);
        // netlink in generic mode: bpf_prog_get_type_dev refuses it before dev_xdp_attach
        Assert.Equal(Errno.EINVAL, Assert.Throws<BpfException>(() => p.XdpAttach((int)veth0.Ifindex, XdpFlags.SkbMode)).Errno);
        e = Assert.Throws<BpfException>(() => p.AttachXdp((int)veth0.Ifindex, XdpFlags.SkbMode));
        Assert.Contains("Can't attach device-bound programs in generic mode", e.Message, StringComparison.Ordinal);
        p.XdpAttach((int)veth0.Ifindex);
        Assert.Equal(p.Id, rt.Backend.XdpQuery((int)veth0.Ifindex).DriverProgramId);

        // Once its device is gone the program is bound to nothing and attaches nowhere.
        rt.Network.RemoveDevice("veth0");
        var (veth2, _) = rt.Network.AddVethPair("veth2", "veth3");
        e = Assert.Throws<BpfException>(() => p.XdpAttach((int)veth2.Ifindex));
        Assert.Contains("Program bound to different device", e.Message, StringComparison.Ordinal);
    }
}
