using Ebpf.Abi;
using Ebpf.Execution;
using Ebpf.Isa;
using Ebpf.Loading;
using Ebpf.Runtime;
using Ebpf.Runtime.Maps;
using Ebpf.Runtime.Objects;
using static Ebpf.Isa.Instruction;

namespace Ebpf.Tests.Runtime;

/// <summary>
/// The load options soundness testing relies on (AlwaysChecked, VerifierInstructionLimit), the runtime's report of helper
/// arguments a checked run refused, and iproute2 initial slots of maps with keys narrower than the u32 inner_idx.
/// </summary>
public class CheckedSoundnessOptionsTests
{
    private static ObjectSpec Spec(string name) => ObjectSpec.Load(SharedData.Fixture($"runtime/{name}.bpf.o"));

    [Fact]
    public void AlwaysChecked_runs_a_verified_fully_modelled_program_checked()
    {
        var rt = new BpfRuntime();
        using var coll = rt.Load(Spec("xdp_count"), new ObjectLoadOptions { AlwaysChecked = true });
        var prog = coll.Programs.Values.Single();
        Assert.True(prog.Program.Verification!.Accepted, prog.Program.Verification!.Log);
        Assert.Equal(ExecutionMode.Checked, prog.Program.ExecutionMode);
        Assert.Contains("AlwaysChecked", prog.Program.ExecutionModeReason);
        rt.TestRun(prog, new TestRunOptions { DataIn = new byte[64] });

        using var plain = new BpfRuntime().Load(Spec("xdp_count"));
        Assert.Equal(ExecutionMode.Unchecked, plain.Programs.Values.Single().Program.ExecutionMode);
    }

    [Fact]
    public void VerifierInstructionLimit_rejects_a_program_needing_more_with_E2BIG()
    {
        // 40 straight-line instructions: fine with the kernel's budget, too many for a budget of 10.
        Instruction[] insns = [.. Enumerable.Range(0, 39).Select(i => Mov64(0, i)), Exit()];
        var rt = new BpfRuntime();
        using (rt.LoadProgram(new ProgramDefinition(ProgramType.Xdp, insns, "long")))
        {
        }
        var e = Assert.Throws<BpfException>(() => rt.LoadProgram(new ProgramDefinition(ProgramType.Xdp, insns, "long"),
            options: new ProgramLoadOptions { VerifierInstructionLimit = 10 }));
        Assert.Equal(Errno.E2BIG, e.Errno);
        Assert.Contains("too large", e.Message);
    }

    /// <summary>bpf_get_current_comm(r1 = ctx + 4000, 16): far outside the ctx; only AllowUnverified loads it.</summary>
    // Just above the BPF stack's top: host stack memory that no region covers. (ctx + 4000 was used before, but a
    // native allocation such as the packet buffer may lie there, which made the test depend on the allocator.)
    private static Instruction[] CommIntoFarMemory() =>
        [Mov64Reg(1, 10), Alu64(AluOperation.Add, 1, 64), Mov64(2, 16), CallHelper(16), Exit()];

    [Fact]
    public void A_checked_run_reports_helper_memory_outside_every_region()
    {
        var rt = new BpfRuntime();
        var denials = new List<CheckedHelperAccessDenial>();
        rt.CheckedHelperAccessDenied += denials.Add;
        using var bad = rt.LoadProgram(new ProgramDefinition(ProgramType.Xdp, CommIntoFarMemory(), "far_comm"),
            options: new ProgramLoadOptions { AllowUnverified = true });
        Assert.False(bad.Program.Verification!.Accepted);
        var r = rt.TestRun(bad, new TestRunOptions { DataIn = new byte[64] });
        Assert.Equal(unchecked((uint)-(int)Errno.EFAULT), r.ReturnValue); // the helper's -EFAULT; the program goes on
        var d = Assert.Single(denials);
        Assert.Same(bad.Program, d.Program);
        Assert.Equal(16ul, d.Size);
        Assert.True(d.Write);
        Assert.Contains("far_comm", d.ToString());

        // The same helper into the stack is allowed: nothing reported.
        denials.Clear();
        Instruction[] good = [Mov64Reg(1, 10), Alu64(AluOperation.Add, 1, -16), Mov64(2, 16), CallHelper(16), Exit()];
        using var ok = rt.LoadProgram(new ProgramDefinition(ProgramType.Xdp, good, "stack_comm"), options: new ProgramLoadOptions { AlwaysChecked = true });
        Assert.True(ok.Program.Verification!.Accepted, ok.Program.Verification!.Log);
        Assert.Equal(0u, rt.TestRun(ok, new TestRunOptions { DataIn = new byte[64] }).ReturnValue);
        Assert.Empty(denials);
    }

    [Fact]
    public void Iproute2_initial_slot_of_a_two_byte_key_hash_of_maps_uses_the_low_bytes_of_inner_idx()
    {
        var inner = new MapSpec { Name = "inner", Type = MapType.Array, KeySize = 4, ValueSize = 4, MaxEntries = 1, Origin = MapOrigin.Iproute2 };
        var outer = new MapSpec
        {
            Name = "outer", Type = MapType.HashOfMaps, KeySize = 2, ValueSize = 4, MaxEntries = 8, Origin = MapOrigin.Iproute2,
            InnerMap = inner.Clone(), InitialSlots = [new MapInitialSlot(3, "inner")],
        };
        var rt = new BpfRuntime();
        using var coll = rt.Load(new ObjectSpec { Name = "narrow", Maps = [inner, outer] });
        var map = Assert.IsType<MapInMap>(coll.Maps["outer"].Map.Maps!);
        Assert.Same(coll.Maps["inner"].Map.Maps, map.GetInner([3, 0]));

        outer.KeySize = 8;
        var e = Assert.Throws<BpfException>(() => new BpfRuntime().Load(new ObjectSpec { Name = "wide", Maps = [inner, outer] }));
        Assert.Equal(Errno.EINVAL, e.Errno);
        Assert.Contains("key of 1 to 4 bytes", e.Message);
    }
}
