using Ebpf.Abi;
using Ebpf.Runtime;
using Ebpf.Runtime.Links;
using static Ebpf.Tests.Runtime.Links.LinkFixtures;

namespace Ebpf.Tests.Runtime.Links;

/// <summary>An extension is verified with its target's type: return rules, ctx and helpers (§2.8, fexit_bpf2bpf).</summary>
public class ExtensionVerificationTests
{
    [Fact]
    public void The_return_rules_are_the_targets_as_in_func_replace_return_code()
    {
        var rt = new BpfRuntime();
        // A cgroup_skb target: its programs must return 0 or 1, so new_check's x + 1000 fails.
        using var target = rt.Load(Spec("cg_target"));
        var e = Assert.Throws<BpfException>(() => rt.Load(Spec("ext"), target.Programs["admit"]));
        Assert.Equal(Errno.EINVAL, e.Errno);
        Assert.Contains("At program exit the register R0 has", e.Log);
        Assert.Contains("should have been in [0, 1]", e.Log);
        // Against the XDP target the same extension is fine.
        using var xdp = rt.Load(Spec("target"));
        using var ext = rt.Load(Spec("ext"), xdp.Programs["serve"]);
        Assert.Equal(ProgramType.Ext, ext.Programs["new_check"].Program.Type);
        Assert.Equal(ProgramType.Xdp, ext.Programs["new_check"].Program.ResolvedType);
    }

    [Fact]
    public void The_ctx_is_the_targets_direct_packet_access_included()
    {
        var rt = new BpfRuntime();
        using var target = rt.Load(Spec("target"));
        var serve = target.Programs["serve"];
        using var ext = rt.Load(SpecWith("ext_variants", "new_length_of"), serve);
        var prog = ext.Programs["new_length_of"].Program;
        Assert.True(prog.Verification!.Accepted);
        Assert.Equal(Ebpf.Execution.ExecutionMode.Unchecked, prog.ExecutionMode);
        using var link = ext.Programs["new_length_of"].AttachTracing();
        Assert.Equal(8u, Run(rt, serve));
    }
}
