using Ebpf.Abi;
using Ebpf.Runtime;
using Ebpf.Runtime.Links;
using Ebpf.Runtime.Objects;
using static Ebpf.Tests.Runtime.Links.LinkFixtures;

namespace Ebpf.Tests.Runtime.Links;

/// <summary>fentry/fexit on BPF targets: the argument context, the tracing helpers, link info (§2.4, §1.2, fexit_bpf2bpf).</summary>
public class TracingTests
{
    // trace.bpf.o's .bss: entry_calls, exit_calls, entry_arg, exit_arg, exit_ret, arg_cnt, helper_arg, helper_ret, func_ip, cookie, bad_arg.
    private static ulong Bss(BpfCollection c, int index) => Global(c, ".bss", index * 8);

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Fentry_and_fexit_see_the_arguments_and_the_return_value(bool jit)
    {
        var rt = new BpfRuntime { JitEnabled = jit };
        using var target = rt.Load(Spec("target"));
        var serve = target.Programs["serve"];
        using var trace = rt.Load(Spec("trace"), serve);
        using var entry = trace.Programs["on_entry"].AttachTracing(cookie: 42);
        using var exit = trace.Programs["on_exit"].AttachTracing();
        Assert.Equal(Original, Run(rt, serve)); // observed, not changed
        Assert.Equal(Original, Run(rt, serve, 100) - 100 + FrameLength);
        Assert.Equal(2ul, Bss(trace, 0));
        Assert.Equal(2ul, Bss(trace, 1));
        Assert.Equal(100ul, Bss(trace, 2));   // entry_arg: the last run's check(100)
        Assert.Equal(100ul, Bss(trace, 3));   // exit_arg
        Assert.Equal(101ul, Bss(trace, 4));   // exit_ret: ctx[1] after the one argument
        Assert.Equal(1ul, Bss(trace, 5));     // bpf_get_func_arg_cnt
        Assert.Equal(100ul, Bss(trace, 6));   // bpf_get_func_arg(ctx, 0)
        Assert.Equal(101ul, Bss(trace, 7));   // bpf_get_func_ret
        Assert.NotEqual(0ul, Bss(trace, 8));  // bpf_get_func_ip: the traced function's address
        Assert.Equal(42ul, Bss(trace, 9));    // bpf_get_attach_cookie
        Assert.Equal(-22L, (long)Bss(trace, 10)); // bpf_get_func_arg(ctx, 1): -EINVAL past the count
        entry.Dispose();
        exit.Dispose();
        Run(rt, serve);
        Assert.Equal(2ul, Bss(trace, 0));
    }

    [Fact]
    public void Tracing_link_info_names_the_target_and_function()
    {
        var rt = new BpfRuntime();
        using var target = rt.Load(Spec("target"));
        var serve = target.Programs["serve"];
        using var trace = rt.Load(Spec("trace"), serve);
        var onEntry = trace.Programs["on_entry"];
        uint checkId = serve.Program.Btf!.Parsed.FindAllByName("check", Ebpf.Btf.BtfKind.Func).Single();
        var info = onEntry.GetInfo();
        Assert.Equal(checkId, info.AttachBtfId);
        Assert.Equal(serve.Program.Btf!.Id, info.AttachBtfObjectId);
        using var link = onEntry.AttachTracing(cookie: 7);
        Assert.Equal((AttachType.TraceFentry, serve.Id, checkId, 7ul), link.GetTracingInfo());
        var linkInfo = link.GetInfo();
        Assert.Equal(LinkType.Tracing, linkInfo.Type);
        Assert.Equal(onEntry.Id, linkInfo.ProgramId);
        // GET_NEXT_ID / GET_FD_BY_ID see the settled link.
        Assert.Equal(link.Id, rt.GetNextId(ObjectKind.Link, 0));
        using var again = rt.OpenLinkById(link.Id);
        Assert.Equal(linkInfo, again.GetInfo());
        // Tracing links have no update (EINVAL) and no detach (EOPNOTSUPP).
        Assert.Equal(Errno.EINVAL, Assert.Throws<BpfException>(() => link.Link.Update(trace.Programs["on_exit"].Program)).Errno);
        Assert.Equal(Errno.EOPNOTSUPP, Assert.Throws<BpfException>(() => link.Link.Detach()).Errno);
    }

    [Fact]
    public void Fexit_on_the_main_program_sees_its_return_value()
    {
        var rt = new BpfRuntime();
        using var target = rt.Load(Spec("target"));
        var serve = target.Programs["serve"];
        using var trace = rt.Load(SpecWith("trace", "on_serve_exit"), serve);
        using var link = trace.Programs["on_serve_exit"].AttachTracing();
        Assert.Equal(Original, Run(rt, serve));
        Assert.Equal(1ul, Bss(trace, 1));
        Assert.Equal((ulong)Original, Bss(trace, 4));
    }

    [Fact]
    public void Fentry_may_observe_a_static_function()
    {
        var rt = new BpfRuntime();
        using var target = rt.Load(Spec("target"));
        var serve = target.Programs["serve"];
        using var trace = rt.Load(SpecWith("trace", "on_twice"), serve);
        using var link = trace.Programs["on_twice"].AttachTracing();
        Assert.Equal(Original, Run(rt, serve)); // twice() is not called on this path
        Assert.Equal(0ul, Bss(trace, 0));
    }

    [Fact]
    public void Fentry_observes_an_extension_program()
    {
        var rt = new BpfRuntime();
        using var target = rt.Load(Spec("target"));
        var serve = target.Programs["serve"];
        using var ext = rt.Load(Spec("ext"), serve);
        using var extLink = ext.Programs["new_check"].AttachExtension(serve, "check");
        var spec = Spec("trace");
        spec.Programs.Single(p => p.Name == "on_entry").AttachTarget = "new_check";
        spec.Programs.Single(p => p.Name == "on_exit").AttachTarget = "new_check";
        using var trace = rt.Load(spec, ext.Programs["new_check"]);
        using var entry = trace.Programs["on_entry"].AttachTracing();
        using var exit = trace.Programs["on_exit"].AttachTracing();
        Assert.Equal(Extended, Run(rt, serve));
        Assert.Equal(1ul, Bss(trace, 0));
        Assert.Equal((ulong)FrameLength, Bss(trace, 2));
        Assert.Equal((ulong)Extended, Bss(trace, 4));
    }

    [Fact]
    public void Tracing_on_tracing_nests_once()
    {
        var rt = new BpfRuntime();
        using var target = rt.Load(Spec("target"));
        using var first = rt.Load(SpecWith("trace", "on_entry"), target.Programs["serve"]);
        Assert.False(first.Programs["on_entry"].Program.AttachedToTracing);
        var spec = SpecWith("trace", "on_entry");
        spec.Programs.Single(p => p.Name == "on_entry").AttachTarget = "on_entry";
        using var second = rt.Load(spec, first.Programs["on_entry"]); // one level: fine
        Assert.True(second.Programs["on_entry"].Program.AttachedToTracing);
        var third = SpecWith("trace", "on_entry");
        third.Programs.Single(p => p.Name == "on_entry").AttachTarget = "on_entry";
        var e = Assert.Throws<BpfException>(() => rt.Load(third, second.Programs["on_entry"]));
        Assert.Equal(Errno.EINVAL, e.Errno);
        Assert.Contains("Cannot nest tracing program attach more than once\n", e.Log);
    }

    [Fact]
    public void A_tracing_program_cannot_name_a_new_target_and_reattaches_only_once()
    {
        var rt = new BpfRuntime();
        using var target = rt.Load(Spec("target"));
        var serve = target.Programs["serve"];
        using var trace = rt.Load(SpecWith("trace", "on_entry"), serve);
        var onEntry = trace.Programs["on_entry"];
        uint checkId = serve.Program.Btf!.Parsed.FindAllByName("check", Ebpf.Btf.BtfKind.Func).Single();
        Assert.Equal(Errno.EINVAL, Assert.Throws<BpfException>(() => rt.AttachTracing(onEntry, serve, checkId)).Errno);
        Assert.Equal(Errno.EINVAL, Assert.Throws<BpfException>(() => rt.AttachTracing(onEntry, serve, 0)).Errno); // both or neither
        var link = onEntry.AttachTracing();
        link.Dispose();
        // recursive_attach/fentry_attach_btf_presence: attached to a BPF program once, it cannot re-attach without a target.
        Assert.Equal(Errno.EINVAL, Assert.Throws<BpfException>(() => onEntry.AttachTracing()).Errno);
    }
}
