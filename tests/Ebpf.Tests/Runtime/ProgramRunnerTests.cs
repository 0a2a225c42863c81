using Ebpf.Abi;
using Ebpf.Execution;
using Ebpf.Isa;
using Ebpf.Runtime;
using Ebpf.Runtime.Objects;
using static Ebpf.Isa.Instruction;

namespace Ebpf.Tests.Runtime;

public class ProgramRunnerTests
{
    /// <summary>key = 7 on the stack; r0 = lookup(map, &amp;key) ? *value : 99.</summary>
    private static Instruction[] LookupSeven()
    {
        var (l1, l2) = LoadImm64(1, 0, LoadImm64Source.MapIndex);
        return
        [
            StoreImm(AccessSize.Word, 10, -4, 7),
            Mov64Reg(2, 10),
            Alu64(AluOperation.Add, 2, -4),
            l1, l2,
            CallHelper(1),
            Jump(JumpOperation.Jeq, 0, 0, 2),
            LoadMem(AccessSize.DoubleWord, 0, 0, 0),
            Exit(),
            Mov64(0, 99),
            Exit(),
        ];
    }

    [Fact]
    public void Runs_verified_programs_unchecked_and_sees_map_updates()
    {
        var rt = new BpfRuntime();
        using var map = rt.CreateMap(new MapDefinition(MapType.Hash, 4, 8, 16, Name: "h"));
        using var prog = rt.LoadProgram(new ProgramDefinition(ProgramType.Xdp, LookupSeven(), "lookup"), [map]);
        using var runner = prog.CreateRunner();
        Assert.Equal(ExecutionMode.Unchecked, runner.Mode);
        Assert.Equal(99ul, runner.Run(0));
        map.Map.Maps!.Update(BitConverter.GetBytes(7u), BitConverter.GetBytes(1234ul));
        Assert.Equal(1234ul, runner.Run(0));
        map.Map.Maps!.Delete(BitConverter.GetBytes(7u));
        Assert.Equal(99ul, runner.Run(0));
    }

    [Fact]
    public unsafe void Checked_runner_allows_the_context_and_nothing_beyond_it()
    {
        var rt = new BpfRuntime();
        // Raw tracepoint: ctx is plain u64 arguments; reading args[2] needs 24 bytes of context.
        Instruction[] readArg2 = [LoadMem(AccessSize.DoubleWord, 0, 1, 16), Exit()];
        using var prog = rt.LoadProgram(new ProgramDefinition(ProgramType.RawTracepoint, readArg2, "arg2"), options: new ProgramLoadOptions { AllowUnverified = true });
        ulong* args = stackalloc ulong[3] { 1, 2, 77 };
        using (var wide = prog.CreateRunner(contextSize: 24))
            Assert.Equal(77ul, wide.Run((nint)args));
        var unverified = rt.LoadProgram(new ProgramDefinition(ProgramType.RawTracepoint, [Mov64Reg(0, 2), Exit()], "uninit"), options: new ProgramLoadOptions { AllowUnverified = true });
        using (var narrow = unverified.CreateRunner(contextSize: 24))
            Assert.Equal(ExecutionMode.Checked, narrow.Mode);
        unverified.Dispose();
        using var checkedProg = rt.LoadProgram(new ProgramDefinition(ProgramType.Xdp, [LoadMem(AccessSize.DoubleWord, 0, 1, 4000), Exit()], "far"),
            options: new ProgramLoadOptions { AllowUnverified = true });
        using var runner = checkedProg.CreateRunner(contextSize: 8);
        Assert.Equal(ExecutionMode.Checked, runner.Mode);
        Assert.Throws<BpfException>(() => runner.Run((nint)args));
    }

    [Fact]
    public void Runner_keeps_the_program_alive_and_refuses_runs_after_dispose()
    {
        var rt = new BpfRuntime();
        var prog = rt.LoadProgram(new ProgramDefinition(ProgramType.Xdp, RuntimeTestPrograms.ReturnConstant(2), "two"));
        uint id = prog.Program.Id;
        var runner = prog.CreateRunner();
        prog.Dispose();
        Assert.Contains(id, rt.GetIds(ObjectKind.Program));
        Assert.Equal(2ul, runner.Run(0));
        runner.Dispose();
        Assert.DoesNotContain(id, rt.GetIds(ObjectKind.Program));
        Assert.Throws<ObjectDisposedException>(() => runner.Run(0));
    }

    [Fact]
    public void Runners_on_many_threads_count_every_update()
    {
        var rt = new BpfRuntime();
        using var counter = rt.CreateMap(new MapDefinition(MapType.Array, 4, 8, 1, Name: "counter"));
        var (v1, v2) = LoadImm64(1, 0, LoadImm64Source.MapIndexValue);
        Instruction[] inc = [v1, v2, Mov64(2, 1), new Instruction(0xdb, 1, 2, 0, 0) /* lock *(u64 *)(r1 + 0) += r2 */, Mov64(0, 0), Exit()];
        using var prog = rt.LoadProgram(new ProgramDefinition(ProgramType.Xdp, inc, "inc"), [counter]);
        Assert.Equal(ExecutionMode.Unchecked, prog.Program.ExecutionMode);
        const int Threads = 4, PerThread = 20_000;
        var workers = Enumerable.Range(0, Threads).Select(_ => new Thread(() =>
        {
            using var runner = prog.CreateRunner();
            for (int i = 0; i < PerThread; i++) runner.Run(0);
        })).ToArray();
        foreach (var t in workers) t.Start();
        foreach (var t in workers) t.Join();
        var v = new byte[8];
        counter.Map.Maps!.Lookup(BitConverter.GetBytes(0u), v);
        Assert.Equal((ulong)(Threads * PerThread), BitConverter.ToUInt64(v));
    }
}
