using Ebpf.Xdp;
using static Ebpf.Tests.Xdp.XdpFixtures;

namespace Ebpf.Tests.Xdp;

/// <summary>Component metadata from .xdp_run_config BTF (§6.3) and libxdp's run order (§6.4 step 3).</summary>
public class RunConfigTests
{
    [Fact]
    public void Run_configs_are_read_from_BTF_with_libxdps_defaults()
    {
        var spec = Spec("run_config");
        var early = XdpProgram.FromObject(spec, "early_drop");
        Assert.Equal((10u, XdpChainActions.Pass | XdpChainActions.Drop), (early.Priority, early.ChainCallActions));
        var plain = XdpProgram.FromObject(Spec("run_config"), "plain_pass");
        Assert.Equal((50u, XdpChainActions.Pass), (plain.Priority, plain.ChainCallActions));
        var late = XdpProgram.FromObject(Spec("run_config"), "late_stop");
        Assert.Equal((70u, XdpChainActions.None), (late.Priority, late.ChainCallActions));
        // The first program of the object when none is named (libxdp's default).
        Assert.Equal("early_drop", XdpProgram.FromFile(FixturePath("run_config")).Name);
    }

    [Fact]
    public void Bad_run_config_members_are_ENOTSUP_or_EINVAL()
    {
        var unknown = Assert.Throws<BpfException>(() => XdpProgram.FromObject(Spec("run_config"), "unknown_member"));
        Assert.Equal(Errno.EOPNOTSUPP, unknown.Errno); // userspace ENOTSUP
        Assert.Contains("colour", unknown.Message);
        var malformed = Assert.Throws<BpfException>(() => XdpProgram.FromObject(Spec("run_config"), "malformed_member"));
        Assert.Equal(Errno.EINVAL, malformed.Errno);
        Assert.Equal(Errno.ENOENT, Assert.Throws<BpfException>(() => XdpProgram.FromObject(Spec("run_config"), "nope")).Errno);
    }

    [Fact]
    public void Run_order_is_priority_then_name_then_loaded_first_then_size()
    {
        var early = XdpProgram.FromObject(Spec("run_config"), "early_drop");   // 10
        var tie = XdpProgram.FromObject(Spec("run_config"), "a_tie");          // 10, sorts before by name
        var plain = XdpProgram.FromObject(Spec("run_config"), "plain_pass");   // 50
        var late = XdpProgram.FromObject(Spec("run_config"), "late_stop");     // 70
        var list = new List<XdpProgram> { late, plain, early, tie };
        list.Sort(XdpProgram.CompareRunOrder);
        Assert.Equal(["a_tie", "early_drop", "plain_pass", "late_stop"], list.Select(p => p.Name));
        // Same priority and name, both unloaded: fewer instructions first.
        var small = Stamp(0);
        var big = XdpProgram.FromObject(Spec("run_config"), "plain_pass");
        big.Priority = small.Priority;
        Assert.True(XdpProgram.CompareRunOrder(big, small) != 0);
        Assert.True(big.InstructionCount < small.InstructionCount);
    }

    [Fact]
    public void Loaded_programs_sort_before_unloaded_ones_of_the_same_priority_and_name()
    {
        var rt = new Ebpf.Runtime.BpfRuntime();
        var dev = rt.Network.AddDevice("d0");
        using var loaded = Stamp(0);
        using (XdpMultiprog.Attach(rt.Backend, (int)dev.Ifindex, [loaded])) { }
        using var fresh = Stamp(1);
        Assert.True(loaded.IsLoaded);
        Assert.False(fresh.IsLoaded);
        Assert.True(XdpProgram.CompareRunOrder(loaded, fresh) < 0);
        Assert.True(XdpProgram.CompareRunOrder(fresh, loaded) > 0);
    }
}
