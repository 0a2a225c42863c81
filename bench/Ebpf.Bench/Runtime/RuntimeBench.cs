using System.Diagnostics;
using System.Runtime.InteropServices;
using Ebpf.Abi;
using Ebpf.Isa;
using Ebpf.Runtime;
using Ebpf.Runtime.Objects;
using static Ebpf.Isa.Instruction;

namespace Ebpf.Bench.Runtime;

/// <summary>
/// <c>runtime</c>: the cost of running programs through the runtime: an empty program and a program
/// doing one hash-map lookup, each verified (unchecked interpreter) and as an unverified twin
/// (AllowUnverified → checked), through <see cref="ProgramRunner"/> (direct host invocation), the
/// executor, and BPF_PROG_TEST_RUN's repeat loop (XDP context construction amortised). Median of rounds,
/// thread CPU time (the minimum is printed too: on a shared machine it is the better estimate of the
/// uncontended cost). Args: [rounds] (default 5) [case-name filter].
/// </summary>
public sealed class RuntimeBench : IBenchSuite
{
    public string Name => "runtime";
    public string Description => "program invocation overhead and hash lookup from a program (unchecked vs checked)";

    public int Run(string[] args)
    {
        int rounds = args.Length > 0 && int.TryParse(args[0], out var r) ? r : 5;
        s_filter = args.Length > 1 ? args[1] : null;
        var rt = new BpfRuntime();
        var unverified = new ProgramLoadOptions { AllowUnverified = true };
        using var empty = rt.LoadProgram(new ProgramDefinition(ProgramType.Xdp, [Mov64(0, 2), Exit()], "empty"));
        // A verified program always runs unchecked; the checked twin has the same hot path plus dead code
        // the verifier rejects (unreachable insn), loaded with AllowUnverified.
        using var emptyChecked = rt.LoadProgram(new ProgramDefinition(ProgramType.Xdp, [Mov64(0, 2), Exit(), Mov64Reg(0, 9), Exit()], "empty_chk"), options: unverified);
        using var map = rt.CreateMap(new MapDefinition(MapType.Hash, 4, 8, 1024, Name: "h"));
        for (uint k = 0; k < 1024; k++)
            map.Update(k, 0UL);
        var (l1, l2) = LoadImm64(1, 0, LoadImm64Source.MapIndex);
        Instruction[] lookup =
        [
            StoreImm(AccessSize.Word, 10, -4, 7),
            Mov64Reg(2, 10),
            Alu64(AluOperation.Add, 2, -4),
            l1, l2,
            CallHelper(1),
            Mov64(0, 2),
            Exit(),
        ];
        using var lookupProg = rt.LoadProgram(new ProgramDefinition(ProgramType.Xdp, lookup, "lookup"), [map]);
        using var lookupChecked = rt.LoadProgram(new ProgramDefinition(ProgramType.Xdp, [.. lookup, Mov64Reg(0, 9), Exit()], "lookup_chk"), [map], options: unverified);
        var packet = new byte[64];
        var executor = rt.Executor!;
        using var emptyRunner = empty.CreateRunner();
        using var emptyCheckedRunner = emptyChecked.CreateRunner();
        using var lookupRunner = lookupProg.CreateRunner();
        using var lookupCheckedRunner = lookupChecked.CreateRunner();

        Console.WriteLine($"runtime: median of {rounds} rounds; ns/op = thread CPU time");
        Console.WriteLine($"modes: empty={empty.Program.ExecutionMode} empty_chk={emptyChecked.Program.ExecutionMode} lookup={lookupProg.Program.ExecutionMode} lookup_chk={lookupChecked.Program.ExecutionMode}");
        Console.WriteLine($"{"case",-56} {"ns/op",9} {"min",9}");
        Report("empty program, ProgramRunner.Run, unchecked (verified)", rounds, n => { for (int i = 0; i < n; i++) emptyRunner.Run(0); }, 2_000_000);
        Report("empty program, ProgramRunner.Run, checked", rounds, n => { for (int i = 0; i < n; i++) emptyCheckedRunner.Run(0); }, 2_000_000);
        Report("hash lookup program, ProgramRunner.Run, unchecked", rounds, n => { for (int i = 0; i < n; i++) lookupRunner.Run(0); }, 2_000_000);
        Report("hash lookup program, ProgramRunner.Run, checked", rounds, n => { for (int i = 0; i < n; i++) lookupCheckedRunner.Run(0); }, 1_000_000);
        var bare = Ebpf.Execution.Interpreter.Load([Mov64(0, 2), Exit()], new Ebpf.Execution.InterpreterOptions { Mode = Ebpf.Execution.ExecutionMode.Unchecked });
        var bareRequest = new Ebpf.Execution.ExecutionRequest();
        Report("floor: bare Interpreter.Run(request), unchecked", rounds, n => { for (int i = 0; i < n; i++) bare.Run(bareRequest); }, 2_000_000);
        Report("floor: bare Interpreter.Run(r1), unchecked", rounds, n => { for (int i = 0; i < n; i++) bare.Run(0); }, 2_000_000);
        Report("floor: EpochManager.Enter + Exit", rounds, n => { for (int i = 0; i < n; i++) { Ebpf.Runtime.Memory.EpochManager.Enter(); Ebpf.Runtime.Memory.EpochManager.Exit(); } }, 2_000_000);
        Report("empty program, executor.Run (ctx = 0), unchecked", rounds, n => { for (int i = 0; i < n; i++) executor.Run(empty.Program, 0); });
        Report("empty program, test_run repeat, unchecked", rounds, n => rt.TestRun(empty, new TestRunOptions { DataIn = packet, Repeat = (uint)n }), 2_000_000);
        Report("empty program, test_run repeat, checked", rounds, n => rt.TestRun(emptyChecked, new TestRunOptions { DataIn = packet, Repeat = (uint)n }), 1_000_000);
        Report("hash lookup program, test_run repeat, unchecked", rounds, n => rt.TestRun(lookupProg, new TestRunOptions { DataIn = packet, Repeat = (uint)n }), 2_000_000);
        Report("hash lookup program, test_run repeat, checked", rounds, n => rt.TestRun(lookupChecked, new TestRunOptions { DataIn = packet, Repeat = (uint)n }), 1_000_000);
        Report("test_run single run (XDP ctx built each time)", rounds, n => { for (int i = 0; i < n; i++) rt.TestRun(empty, new TestRunOptions { DataIn = packet }); }, 20_000);
        return 0;
    }

    private static string? s_filter;

    private static void Report(string name, int rounds, Action<int> body, int n = 200_000)
    {
        if (s_filter is not null && !name.Contains(s_filter, StringComparison.OrdinalIgnoreCase))
            return;
        var warm = Stopwatch.StartNew();
        while (warm.ElapsedMilliseconds < 300) body(n / 20);
        var samples = new double[rounds];
        for (int i = 0; i < rounds; i++)
        {
            long c0 = ThreadCpuClock.Nanoseconds();
            body(n);
            samples[i] = (ThreadCpuClock.Nanoseconds() - c0) / (double)n;
        }
        Array.Sort(samples);
        Console.WriteLine($"{name,-56} {samples[rounds / 2],9:F1} {samples[0],9:F1}");
    }

}
