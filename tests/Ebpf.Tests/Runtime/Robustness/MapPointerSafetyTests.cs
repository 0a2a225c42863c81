using Ebpf.Abi.Helpers;
using Ebpf.Abi;
using Ebpf.Execution;
using Ebpf.Isa;
using Ebpf.Runtime;
using Ebpf.Runtime.Helpers;
using Ebpf.Runtime.Maps;
using Ebpf.Runtime.Objects;
using static Ebpf.Isa.Instruction;

namespace Ebpf.Tests.Runtime.Robustness;

/// <summary>
/// Issue 12's reproducers: a 64-bit constant a program chose must never be taken for a map pointer, neither
/// by the JIT's map-call binding (which used to turn any lddw in R1 into a GCHandle and abort the process)
/// nor by the helpers of a checked, unverified run (which used to hand it to GCHandle.FromIntPtr).
/// </summary>
public class MapPointerSafetyTests
{
    private const ulong Constant = 0x1_0000_0004;

    private static Instruction[] ConstantThenCall(ulong r1, int helper, bool withKey)
    {
        var (c1, c2) = LoadImm64(1, (long)r1);
        return
        [
            StoreImm(AccessSize.DoubleWord, 10, -8, 0),
            StoreImm(AccessSize.DoubleWord, 10, -16, 0),
            c1, c2,
            .. withKey ? new[] { Mov64Reg(2, 10), Alu64(AluOperation.Add, 2, -8), Mov64Reg(3, 10), Alu64(AluOperation.Add, 3, -16), Mov64(4, 0) } : [],
            CallHelper(helper),
            Exit(),
        ];
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void A_constant_in_r1_before_a_non_map_helper_is_not_bound_and_runs(bool jit)
    {
        var rt = new BpfRuntime { JitEnabled = jit };
        using var prog = rt.LoadProgram(new ProgramDefinition(ProgramType.Xdp, ConstantThenCall(Constant, (int)HelperId.GetSmpProcessorId, withKey: false), "cpu"));
        Assert.Equal(ExecutionMode.Unchecked, prog.Program.ExecutionMode);
        Assert.Equal(jit, prog.Program.IsJitCompiled);
        Assert.Equal(0, prog.Program.JitBoundMapCalls);
        var r = rt.TestRun(prog, new TestRunOptions { DataIn = new byte[64] });
        Assert.True(r.ReturnValue < (uint)Environment.ProcessorCount + 64, $"cpu {r.ReturnValue}");
    }

    [Fact]
    public void A_live_maps_handle_written_as_a_raw_constant_is_not_bound_by_the_jit()
    {
        // Even the exact value of a live map's handle is only a number when the program wrote it itself:
        // binding follows the lddw's provenance, not its value.
        var rt = new BpfRuntime();
        using var map = rt.CreateMap(new MapDefinition(MapType.Array, 4, 8, 1, Name: "m"));
        ulong handle = (ulong)map.Map.NativeHandle;
        using var prog = rt.LoadProgram(new ProgramDefinition(ProgramType.Xdp, ConstantThenCall(handle, (int)HelperId.GetSmpProcessorId, withKey: false), "cpu"), [map]);
        Assert.True(prog.Program.IsJitCompiled);
        Assert.Equal(0, prog.Program.JitBoundMapCalls);
        rt.TestRun(prog, new TestRunOptions { DataIn = new byte[64] });
    }

    public static TheoryData<int, ulong> UnverifiedMapCalls() => new()
    {
        { (int)HelperId.MapLookupElem, Constant },
        { (int)HelperId.MapUpdateElem, Constant },
        { (int)HelperId.MapDeleteElem, Constant },
        { (int)HelperId.MapPushElem, Constant },
        { (int)HelperId.RingbufOutput, Constant },
        { (int)HelperId.MapLookupElem, 0xB9F0_0000_0000_0001 }, // the table's tag with a slot that was never handed out
        { (int)HelperId.MapLookupElem, ulong.MaxValue },
        { (int)HelperId.MapUpdateElem, 0 },
    };

    [Theory]
    [MemberData(nameof(UnverifiedMapCalls))]
    public void A_constant_passed_as_a_map_to_a_checked_run_faults_cleanly(int helper, ulong r1)
    {
        var rt = new BpfRuntime();
        using var prog = rt.LoadProgram(new ProgramDefinition(ProgramType.Xdp, ConstantThenCall(r1, helper, withKey: true), "bad"),
            options: new ProgramLoadOptions { AllowUnverified = true });
        // The verifier refuses the call for the reason the kernel gives (a scalar where a map pointer belongs).
        Ebpf.Tests.Verification.Rejection.AssertOurs(prog.Program.Verification!, new(9, "R1 type=scalar expected=map_ptr"), $"helper {helper}, r1 0x{r1:x}");
        Assert.Equal(ExecutionMode.Checked, prog.Program.ExecutionMode);
        var e = Assert.Throws<BpfException>(() => rt.TestRun(prog, new TestRunOptions { DataIn = new byte[64] }));
        Assert.Equal(Errno.EINVAL, e.Errno);
        Assert.Contains("not a live map pointer", e.Message);
    }

    [Fact]
    public void The_generic_helper_given_a_non_map_fails_with_einval_outside_checked_runs()
    {
        // The unchecked path: the verifier proved R1 a map, so a bad value is a runtime defect and the helper
        // only reports it (no invocation here, as when a host calls the helper directly).
        Assert.Equal(unchecked((ulong)-(long)Errno.EINVAL), MapHelpers.MapUpdateElem(Constant, 0, 0, 0, 0));
        Assert.Equal(0ul, MapHelpers.MapLookupElem(Constant, 0, 0, 0, 0));
    }

    [Fact]
    public void A_freed_maps_handle_stays_dead_after_its_slot_is_reused()
    {
        var rt = new BpfRuntime();
        var first = rt.CreateMap(new MapDefinition(MapType.Array, 4, 8, 1, Name: "first"));
        ulong stale = (ulong)first.Map.NativeHandle;
        ulong storage = (ulong)first.Map.Maps!.NativeHandle;
        Assert.Same(first.Map, MapHandleTable.Find(stale));
        Assert.Same(first.Map.Maps, MapHandleTable.Find(storage));
        first.Dispose();
        Assert.Null(MapHandleTable.Find(stale));
        Assert.Null(MapHandleTable.Find(storage));

        // New maps take slots from the free list; the stale handles must not reach them.
        var later = new List<BpfMap>();
        for (int i = 0; i < 8; i++)
        {
            var m = rt.CreateMap(new MapDefinition(MapType.Array, 4, 8, 1, Name: "later" + i));
            _ = m.Map.NativeHandle;
            _ = m.Map.Maps!.NativeHandle;
            later.Add(m);
        }
        Assert.Null(MapHandleTable.Find(stale));
        Assert.Null(MapHandleTable.Find(storage));
        Assert.Null(MapObject.FromNativeHandle(stale));
        Assert.Null(BpfMapBase.FromNativeHandle((nint)storage));
        foreach (var m in later)
            m.Dispose();
    }

    [Fact]
    public void Handles_are_never_real_addresses()
    {
        var rt = new BpfRuntime();
        using var map = rt.CreateMap(new MapDefinition(MapType.Hash, 4, 8, 4, Name: "h"));
        ulong handle = (ulong)map.Map.NativeHandle;
        // Non-canonical on x86-64 and arm64 alike: bits 63..48 are neither all zero nor all one.
        Assert.NotEqual(0ul, handle >> 48);
        Assert.NotEqual(0xFFFFul, handle >> 48);
    }
}
