using Ebpf.Abi;
using Ebpf.Execution;
using Ebpf.Isa;
using Ebpf.Loading;
using Ebpf.Runtime;
using Ebpf.Runtime.Helpers;
using Ebpf.Runtime.Objects;
using static Ebpf.Isa.Instruction;

namespace Ebpf.Tests.Runtime;

/// <summary>BPF_PROG_LOAD runs the verifier; the verdict decides refusal and the execution mode.</summary>
public class VerifiedLoadTests
{
    private static ObjectSpec Spec(string name) => ObjectSpec.Load(SharedData.Fixture($"runtime/{name}.bpf.o"));

    /// <summary>r0 = *(u64 *)(r1 + 4000): far outside any context — the verifier refuses it.</summary>
    // Above the BPF stack's top: host stack memory that no region covers, whatever the allocator put near the ctx.
    private static Instruction[] ReadOutsideEveryRegion() => [LoadMem(AccessSize.DoubleWord, 0, 10, 64), Exit()];

    [Fact]
    public void Accepted_fixture_runs_unchecked_and_reports_its_verdict()
    {
        var rt = new BpfRuntime();
        using var coll = rt.Load(Spec("xdp_count"));
        var prog = coll.Programs.Values.Single().Program;
        Assert.True(prog.Verification!.Accepted, prog.Verification!.Log);
        Assert.Equal(ExecutionMode.Unchecked, prog.ExecutionMode);
        Assert.Equal("verified and fully modelled", prog.ExecutionModeReason);
        var info = prog.GetInfo();
        Assert.True(prog.Verification!.Accepted);
        Assert.True(info.VerifiedInstructions > 0);
    }

    [Fact]
    public void Rejected_program_is_refused_with_the_verifier_errno_and_log_and_leaves_no_id()
    {
        var rt = new BpfRuntime();
        var e = Assert.Throws<BpfException>(() => rt.LoadProgram(new ProgramDefinition(ProgramType.Xdp, [Mov64Reg(0, 2), Exit()], "uninit")));
        Assert.Equal(Errno.EACCES, e.Errno);
        Assert.Contains("R2 !read_ok", e.Message);
        Assert.Contains("R2 !read_ok", e.Log);
        Assert.Empty(rt.GetIds(ObjectKind.Program));
    }

    [Fact]
    public void AllowUnverified_loads_a_rejected_program_checked_and_the_checks_catch_it()
    {
        var rt = new BpfRuntime();
        Assert.Throws<BpfException>(() => rt.LoadProgram(new ProgramDefinition(ProgramType.Xdp, ReadOutsideEveryRegion(), "far")));
        using var prog = rt.LoadProgram(new ProgramDefinition(ProgramType.Xdp, ReadOutsideEveryRegion(), "far"), options: new ProgramLoadOptions { AllowUnverified = true });
        Assert.False(prog.Program.Verification!.Accepted);
        Assert.Equal(ExecutionMode.Checked, prog.Program.ExecutionMode);
        Assert.Contains("AllowUnverified", prog.Program.ExecutionModeReason);
        Assert.Throws<BpfException>(() => rt.TestRun(prog, new TestRunOptions { DataIn = new byte[64] }));
    }

    [Fact]
    public void Kfunc_calls_are_not_fully_modelled_and_tail_calls_are()
    {
        var rt = new BpfRuntime();
        Instruction[] kfunc = [new Instruction(Opcodes.Call, 0, 2, 0, 1234), Mov64(0, 0), Exit()];
        Assert.Contains("kfunc", ProgramVerification.WhyNotFullyModelled(kfunc, rt));
        Instruction[] tail = [Mov64(2, 0), Mov64(3, 0), CallHelper(12), Mov64(0, 0), Exit()];
        Assert.Null(ProgramVerification.WhyNotFullyModelled(tail, rt));
        Instruction[] lookup = [Mov64(1, 0), Mov64(2, 0), CallHelper(1), Mov64(0, 0), Exit()];
        Assert.Null(ProgramVerification.WhyNotFullyModelled(lookup, rt));
        Instruction[] host = [CallHelper(HelperRegistry.FirstHostId), Exit()];
        Assert.Contains("prototype", ProgramVerification.WhyNotFullyModelled(host, rt));
        rt.Helpers.Add(HelperRegistry.FirstHostId, "host_answer", (_, _, _, _, _) => 42, new Abi.Helpers.HelperPrototype(Abi.Helpers.HelperId.Unspec, Abi.Helpers.HelperReturnKind.Integer, []));
        Assert.Null(ProgramVerification.WhyNotFullyModelled(host, rt));
    }

    [Fact]
    public void A_verified_tail_caller_runs_unchecked_and_enters_only_targets_that_may_run_unchecked()
    {
        var rt = new BpfRuntime();
        using var jmp = RuntimeTestPrograms.ProgArray(rt, 1);
        var (j1, j2) = LoadImm64(2, 0, LoadImm64Source.MapIndex);
        Instruction[] caller = [j1, j2, Mov64(3, 0), CallHelper(12), Mov64(0, 1), Exit()];
        using var entry = rt.LoadProgram(new ProgramDefinition(ProgramType.Xdp, caller, "entry"), [jmp]);
        using var target = rt.LoadProgram(new ProgramDefinition(ProgramType.Xdp, RuntimeTestPrograms.ReturnConstant(3), "target"));
        Assert.Equal(ExecutionMode.Unchecked, entry.Program.ExecutionMode);
        Assert.Equal(ExecutionMode.Unchecked, target.Program.ExecutionMode);
        jmp.Map.ProgramSlots!.Set(0, target.Program);
        Assert.Equal(3u, rt.TestRun(entry, new TestRunOptions { DataIn = new byte[64] }).ReturnValue);

        // A program the verifier rejected (loaded with AllowUnverified) runs only checked: an unchecked caller
        // must not continue into it unchecked, so its tail call falls through, as for an empty slot.
        using var unverified = rt.LoadProgram(new ProgramDefinition(ProgramType.Xdp, [Mov64(0, 4), Exit(), Mov64Reg(0, 9), Exit()], "unverified"),
            options: new ProgramLoadOptions { AllowUnverified = true });
        Assert.Equal(ExecutionMode.Checked, unverified.Program.ExecutionMode);
        jmp.Map.ProgramSlots!.Set(0, unverified.Program);
        Assert.Equal(1u, rt.TestRun(entry, new TestRunOptions { DataIn = new byte[64] }).ReturnValue);
    }

    [Fact]
    public void A_checked_tail_caller_enters_a_verified_target_checked()
    {
        var rt = new BpfRuntime();
        using var jmp = RuntimeTestPrograms.ProgArray(rt, 1);
        var (j1, j2) = LoadImm64(2, 0, LoadImm64Source.MapIndex);
        Instruction[] caller = [j1, j2, Mov64(3, 0), CallHelper(12), Mov64(0, 1), Exit()];
        using var entry = rt.LoadProgram(new ProgramDefinition(ProgramType.Xdp, caller, "entry"), [jmp], options: new ProgramLoadOptions { AlwaysChecked = true });
        using var target = rt.LoadProgram(new ProgramDefinition(ProgramType.Xdp, RuntimeTestPrograms.ReturnConstant(3), "target"));
        Assert.Equal(ExecutionMode.Checked, entry.Program.ExecutionMode);
        jmp.Map.ProgramSlots!.Set(0, target.Program);
        Assert.Equal(3u, rt.TestRun(entry, new TestRunOptions { DataIn = new byte[64] }).ReturnValue);
        var prepared = (PreparedProgram)target.Program.Executable!;
        Assert.Equal(ExecutionMode.Checked, prepared.Checked.Mode); // built for the tail call: a tail call keeps the caller's mode
    }
}
