using Ebpf.Abi;
using Ebpf.Runtime;
using Ebpf.Runtime.Links;
using Ebpf.Runtime.Trampolines;
using static Ebpf.Tests.Runtime.Links.LinkFixtures;

namespace Ebpf.Tests.Runtime.Links;

/// <summary>__bpf_trampoline_link_prog's rules (§2.4.1) and the prog-array exclusion, in both directions.</summary>
public class TrampolineRuleTests
{
    [Fact]
    public void An_extension_and_fentry_exclude_each_other_on_one_function()
    {
        var rt = new BpfRuntime();
        using var target = rt.Load(Spec("target"));
        var serve = target.Programs["serve"];
        using var ext = rt.Load(Spec("ext"), serve);
        using var trace = rt.Load(SpecWith("trace", "on_entry"), serve);
        var extLink = ext.Programs["new_check"].AttachExtension(serve, "check");
        Assert.Equal(Errno.EBUSY, Assert.Throws<BpfException>(() => trace.Programs["on_entry"].AttachTracing()).Errno);
        extLink.Dispose();
        using var traceLink = trace.Programs["on_entry"].AttachTracing(); // the failed attach did not consume the load-time target
        Assert.Equal(Errno.EBUSY, Assert.Throws<BpfException>(() => ext.Programs["new_check"].AttachExtension(serve, "check")).Errno);
        Assert.Equal(Original, Run(rt, serve));
    }

    [Fact]
    public void A_second_extension_on_one_function_is_busy()
    {
        var rt = new BpfRuntime();
        using var target = rt.Load(Spec("target"));
        var serve = target.Programs["serve"];
        using var ext = rt.Load(Spec("ext"), serve);
        using var other = rt.Load(SpecWith("ext_variants", "minus_check"), serve);
        using var link = ext.Programs["new_check"].AttachExtension(serve, "check");
        Assert.Equal(Errno.EBUSY, Assert.Throws<BpfException>(() => other.Programs["minus_check"].AttachExtension(serve, "check")).Errno);
        Assert.Equal(Extended, Run(rt, serve));
    }

    [Fact]
    public void The_same_program_twice_on_one_list_is_busy()
    {
        var rt = new BpfRuntime();
        using var target = rt.Load(Spec("target"));
        var serve = target.Programs["serve"];
        using var trace = rt.Load(SpecWith("trace", "on_entry"), serve);
        var point = trace.Programs["on_entry"].Program.LoadTimeAttachPoint!;
        var trampoline = rt.Trampolines.Get(serve.Program, point);
        try
        {
            var prog = trace.Programs["on_entry"].Program;
            var a = new TracingAttachment(prog, TrampolineKind.Fentry, 0);
            trampoline.Link(a);
            Assert.Equal(Errno.EBUSY, Assert.Throws<BpfException>(() => trampoline.Link(new TracingAttachment(prog, TrampolineKind.Fentry, 1))).Errno);
            Assert.Equal(Errno.EBUSY, Assert.Throws<BpfException>(() => trampoline.Link(a)).Errno);
            trampoline.Unlink(a);
        }
        finally
        {
            trampoline.Put();
        }
    }

    [Fact]
    public void The_39th_fentry_or_fexit_on_one_function_is_E2BIG()
    {
        var rt = new BpfRuntime();
        using var target = rt.Load(Spec("target"));
        var serve = target.Programs["serve"];
        var objects = new List<BpfCollection>();
        var links = new List<BpfLink>();
        try
        {
            for (int i = 0; i < 19; i++) // two programs (fentry + fexit) each: 38 links
            {
                var coll = rt.Load(Spec("trace"), serve);
                objects.Add(coll);
                links.Add(coll.Programs["on_entry"].AttachTracing());
                links.Add(coll.Programs["on_exit"].AttachTracing());
            }
            var last = rt.Load(SpecWith("trace", "on_entry"), serve);
            objects.Add(last);
            Assert.Equal(Errno.E2BIG, Assert.Throws<BpfException>(() => last.Programs["on_entry"].AttachTracing()).Errno);
            var trampoline = rt.Trampolines.Find(TrampolineKey.ForProgram(serve.Id, serve.Program.AttachableFunctions.Single(f => f.Name == "check").BtfId))!;
            Assert.Equal(19, trampoline.Attached(TrampolineKind.Fentry).Count);
            Assert.Equal(19, trampoline.Attached(TrampolineKind.Fexit).Count);
            Assert.Equal(Original, Run(rt, serve));
            Assert.All(objects.Take(19), c => Assert.Equal(1ul, Global(c, ".bss", 0)));
        }
        finally
        {
            links.ForEach(l => l.Dispose());
            objects.ForEach(o => o.Dispose());
        }
    }

    [Fact]
    public void A_prog_array_member_cannot_be_extended_and_an_extended_program_cannot_join_one()
    {
        var rt = new BpfRuntime();
        using var target = rt.Load(Spec("target"));
        var serve = target.Programs["serve"];
        using var ext = rt.Load(Spec("ext"), serve);
        using var jmp = RuntimeTestPrograms.ProgArray(rt, 2);
        var slots = jmp.Map.ProgramSlots!;
        slots.Set(0, serve.Program);
        Assert.Equal(1, serve.Program.ProgramArrayMemberships);
        Assert.Equal(Errno.EBUSY, Assert.Throws<BpfException>(() => ext.Programs["new_check"].AttachExtension(serve, "check")).Errno);
        slots.Delete(0);
        Assert.Equal(0, serve.Program.ProgramArrayMemberships);
        using var link = ext.Programs["new_check"].AttachExtension(serve, "check");
        var e = Assert.Throws<BpfException>(() => slots.Set(1, serve.Program));
        Assert.Equal(Errno.EBUSY, e.Errno);
        Assert.Equal(0, serve.Program.ProgramArrayMemberships);
        Assert.Equal(2, serve.Program.ReferenceCount); // the collection handle and the link's target reference: the refused insert kept none
    }
}
