using Ebpf.Abi;
using Ebpf.Isa;
using Ebpf.Runtime;
using Ebpf.Runtime.Objects;
using static Ebpf.Isa.Instruction;

namespace Ebpf.Tests.Runtime;

public class TailCallLimitTests
{
    /// <summary>A program that bumps a global counter and tail-calls slot 0 of its prog array.</summary>
    private static Instruction[] SelfTailCaller()
    {
        var (v1, v2) = LoadImm64(7, 0, LoadImm64Source.MapIndexValue);   // &counter (map #0, offset 0)
        var (j1, j2) = LoadImm64(2, 1, LoadImm64Source.MapIndex);        // prog array (map #1)
        return
        [
            Mov64Reg(6, 1),
            v1, v2,
            LoadMem(AccessSize.DoubleWord, 8, 7, 0),
            Alu64(AluOperation.Add, 8, 1),
            StoreMem(AccessSize.DoubleWord, 7, 8, 0),
            Mov64Reg(1, 6),
            j1, j2,
            Mov64(3, 0),
            CallHelper(12),
            Mov64(0, 42),
            Exit(),
        ];
    }

    [Fact]
    public void Chain_stops_after_33_tail_calls_and_falls_through()
    {
        var rt = new BpfRuntime();
        using var counter = rt.CreateMap(new MapDefinition(MapType.Array, 4, 8, 1, Name: "counter"));
        using var jmp = rt.CreateMap(new MapDefinition(MapType.ProgArray, 4, 4, 1, Name: "jmp"));
        using var prog = rt.LoadProgram(new ProgramDefinition(ProgramType.Xdp, SelfTailCaller(), "self"), [counter, jmp]);
        jmp.Map.ProgramSlots!.Set(0, prog.Program);
        var r = rt.TestRun(prog, new TestRunOptions { DataIn = new byte[64] });
        Assert.Equal(42u, r.ReturnValue);
        var value = new byte[8];
        counter.Map.Maps!.Lookup(new byte[4], value);
        Assert.Equal(34ul, BitConverter.ToUInt64(value)); // the first run + MAX_TAIL_CALL_CNT (33)
        // The slot holds the program: a prog -> map -> prog cycle that the user-reference drop breaks.
        var progObj = prog.Program;
        prog.Dispose();
        Assert.False(progObj.IsFreed);
        jmp.Dispose();
        Assert.True(progObj.IsFreed);
    }

    /// <summary>
    /// Like <see cref="SelfTailCaller"/>, but first tail-calls an empty slot (1) and an index beyond
    /// max_entries (7), then slot 0 (itself).
    /// </summary>
    private static Instruction[] MissingThenSelfTailCaller()
    {
        var (v1, v2) = LoadImm64(7, 0, LoadImm64Source.MapIndexValue);
        Instruction[] TailCall(int slot)
        {
            var (j1, j2) = LoadImm64(2, 1, LoadImm64Source.MapIndex);
            return [Mov64Reg(1, 6), j1, j2, Mov64(3, slot), CallHelper(12)];
        }
        return
        [
            Mov64Reg(6, 1),
            v1, v2,
            LoadMem(AccessSize.DoubleWord, 8, 7, 0),
            Alu64(AluOperation.Add, 8, 1),
            StoreMem(AccessSize.DoubleWord, 7, 8, 0),
            .. TailCall(1),
            .. TailCall(7),
            .. TailCall(0),
            Mov64(0, 42),
            Exit(),
        ];
    }

    [Fact]
    public void A_missing_entry_uses_up_a_tail_call_but_an_index_out_of_range_does_not()
    {
        // Kernel order: index >= max_entries -> fall through uncounted; count >= 33 -> fall through;
        // else count++ and only then read the slot. Each run: slot 1 (empty) counts, 7 (out of range)
        // does not, slot 0 counts and jumps. Run k has used 2k-1 before its jump, so runs 1..16 jump,
        // run 17 brings the count to 33 at slot 1 and falls through at slot 0.
        var rt = new BpfRuntime();
        using var counter = rt.CreateMap(new MapDefinition(MapType.Array, 4, 8, 1, Name: "counter"));
        using var jmp = rt.CreateMap(new MapDefinition(MapType.ProgArray, 4, 4, 4, Name: "jmp"));
        using var prog = rt.LoadProgram(new ProgramDefinition(ProgramType.Xdp, MissingThenSelfTailCaller(), "self"), [counter, jmp]);
        jmp.Map.ProgramSlots!.Set(0, prog.Program);
        var value = new byte[8];
        for (int run = 1; run <= 2; run++) // the count starts from 0 in every invocation
        {
            Assert.Equal(42u, rt.TestRun(prog, new TestRunOptions { DataIn = new byte[64] }).ReturnValue);
            counter.Map.Maps!.Lookup(new byte[4], value);
            Assert.Equal(17ul * (ulong)run, BitConverter.ToUInt64(value));
        }
        // The same through a runner (its own invocation context, reused from run to run).
        using var runner = prog.CreateRunner();
        Assert.Equal(42ul, runner.Run(0));
        counter.Map.Maps!.Lookup(new byte[4], value);
        Assert.Equal(17ul * 3, BitConverter.ToUInt64(value));
        Assert.Equal(42ul, runner.Run(0));
        counter.Map.Maps!.Lookup(new byte[4], value);
        Assert.Equal(17ul * 4, BitConverter.ToUInt64(value));
    }

    [Fact]
    public void Program_of_another_type_cannot_use_an_owned_prog_array()
    {
        // bpf_check_tail_call: the XDP caller owns the array, so the tc caller is refused at load
        // (EINVAL, as the kernel does) and a tail call across types can never happen at run time.
        var rt = new BpfRuntime();
        using var counter = rt.CreateMap(new MapDefinition(MapType.Array, 4, 8, 1, Name: "counter"));
        using var jmp = rt.CreateMap(new MapDefinition(MapType.ProgArray, 4, 4, 1, Name: "jmp"));
        using var xdp = rt.LoadProgram(new ProgramDefinition(ProgramType.Xdp, SelfTailCaller(), "x"), [counter, jmp]);
        Assert.Equal(Errno.EINVAL, Assert.Throws<BpfException>(() =>
            rt.LoadProgram(new ProgramDefinition(ProgramType.SchedCls, SelfTailCaller(), "t"), [counter, jmp])).Errno);
        jmp.Map.ProgramSlots!.Set(0, xdp.Program);
        Assert.Equal(42u, rt.TestRun(xdp, new TestRunOptions { DataIn = new byte[64] }).ReturnValue);
    }

    [Fact]
    public void Bad_map_reference_fails_load_and_releases_maps()
    {
        var rt = new BpfRuntime();
        using var counter = rt.CreateMap(new MapDefinition(MapType.Array, 4, 8, 1, Name: "counter"));
        var e = Assert.Throws<BpfException>(() => rt.LoadProgram(new ProgramDefinition(ProgramType.Xdp, SelfTailCaller(), "self"), [counter]));
        Assert.Equal(Errno.EINVAL, e.Errno); // map #1 missing
        Assert.Empty(rt.GetIds(ObjectKind.Program));
        Assert.Equal(1, counter.Map.ReferenceCount);
    }
}
