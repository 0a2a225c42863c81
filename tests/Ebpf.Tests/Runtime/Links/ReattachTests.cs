using Ebpf.Abi;
using Ebpf.Runtime;
using Ebpf.Runtime.Links;
using static Ebpf.Tests.Runtime.Links.LinkFixtures;

namespace Ebpf.Tests.Runtime.Links;

/// <summary>bpf_tracing_prog_attach's (re-)attach rules (§2.5) and fexit_bpf2bpf's func_replace_multi.</summary>
public class ReattachTests
{
    [Fact]
    public void The_load_time_target_is_held_until_the_first_attach_and_never_after_attaching_elsewhere()
    {
        var rt = new BpfRuntime();
        using var first = rt.Load(Spec("target"));
        using var second = rt.Load(Spec("target"));
        var t1 = first.Programs["serve"];
        var t2 = second.Programs["serve"];
        using var ext = rt.Load(Spec("ext"), t1);
        var newCheck = ext.Programs["new_check"];
        Assert.Equal(2, t1.Program.ReferenceCount); // handle + dst_prog
        Assert.Equal(1, rt.Trampolines.Count);      // dst_trampoline, pre-created at load
        using var link2 = newCheck.AttachExtension(t2, "check"); // elsewhere: the load-time target is released
        Assert.Equal(1, t1.Program.ReferenceCount);
        Assert.Equal(2, t2.Program.ReferenceCount);
        Assert.Equal(1, rt.Trampolines.Count);
        // Now only an explicit target works.
        Assert.Equal(Errno.EINVAL, Assert.Throws<BpfException>(() => rt.AttachTracing(newCheck)).Errno);
        using var link1 = newCheck.AttachExtension(t1, "check"); // one extension, two targets, one link each
        Assert.Equal(Extended, Run(rt, t1));
        Assert.Equal(Extended, Run(rt, t2));
        Assert.NotEqual(link1.GetTracingInfo().TargetObjectId, link2.GetTracingInfo().TargetObjectId);
        link2.Dispose();
        Assert.Equal(Original, Run(rt, t2));
        Assert.Equal(Extended, Run(rt, t1));
        Assert.Equal(1, t2.Program.ReferenceCount);
    }

    [Fact]
    public void The_first_attach_may_omit_the_target_exactly_once()
    {
        var rt = new BpfRuntime();
        using var target = rt.Load(Spec("target"));
        var serve = target.Programs["serve"];
        using var ext = rt.Load(Spec("ext"), serve);
        var newCheck = ext.Programs["new_check"];
        var link = rt.AttachTracing(newCheck); // LINK_CREATE with target 0: the load-time target
        Assert.Equal(Extended, Run(rt, serve));
        Assert.Equal(2, serve.Program.ReferenceCount); // the link took dst_prog's reference over
        link.Dispose();
        Assert.Equal(1, serve.Program.ReferenceCount);
        Assert.Equal(0, rt.Trampolines.Count);
        Assert.Equal(Errno.EINVAL, Assert.Throws<BpfException>(() => rt.AttachTracing(newCheck)).Errno);
        using var again = newCheck.AttachExtension(serve, "check");
        Assert.Equal(Extended, Run(rt, serve));
    }

    [Fact]
    public void A_new_target_is_checked_by_prototype_and_by_the_load_time_type()
    {
        var rt = new BpfRuntime();
        using var target = rt.Load(Spec("target"));
        var serve = target.Programs["serve"];
        using var ext = rt.Load(Spec("ext"), serve);
        var newCheck = ext.Programs["new_check"];
        // Prototype: check(int) does not match mix(int, int) — no log at attach time, just EINVAL.
        Assert.Equal(Errno.EINVAL, Assert.Throws<BpfException>(() => newCheck.AttachExtension(serve, "mix")).Errno);
        // A9: a target of another program type (the same object loaded as tc) is refused although check() matches.
        using var tc = rt.Load(Spec("target"), new ObjectLoadOptions { ProgramType = ProgramType.SchedCls });
        var e = Assert.Throws<BpfException>(() => newCheck.AttachExtension(tc.Programs["serve"], "check"));
        Assert.Equal(Errno.EINVAL, e.Errno);
        // Both refusals left the load-time target in place.
        using var link = rt.AttachTracing(newCheck);
        Assert.Equal(Extended, Run(rt, serve));
    }

    [Fact]
    public void An_extension_replaces_the_main_program_and_one_of_its_ctx_functions()
    {
        var rt = new BpfRuntime();
        using var target = rt.Load(Spec("target"));
        var serve = target.Programs["serve"];
        using var variants = rt.Load(SpecWith("ext_variants", "replace_main", "new_length_of"), serve);
        using (var main = variants.Programs["replace_main"].AttachTracing())
        {
            Assert.Equal(2u, Run(rt, serve)); // XDP_PASS from the extension
            var tracing = main.GetTracingInfo();
            Assert.Equal(serve.Program.AttachableFunctions.Single(f => f.Start == 0).BtfId, tracing.TargetBtfId);
        }
        Assert.Equal(Original, Run(rt, serve));
        using var length = variants.Programs["new_length_of"].AttachTracing();
        Assert.Equal(8u, Run(rt, serve)); // check(7): the extension read the packet through the target's xdp_md
    }
}
