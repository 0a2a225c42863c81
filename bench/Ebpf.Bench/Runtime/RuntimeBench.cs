using System.Diagnostics;
using System.Runtime.InteropServices;
using Ebpf.Abi;
using Ebpf.Isa;
using Ebpf.Runtime;
using Ebpf.Runtime.Objects;
using static Ebpf.Isa.Instruction;

namespace Ebpf.Bench.Runtime;

/// <summary>
/// <c>runtime</c>: the cost of running programs through the runtime (checked interpreter):
/// an empty program via the executor, the same via BPF_PROG_TEST_RUN's repeat loop (XDP context
/// construction amortised), and a program doing one hash-map lookup per run. Median of rounds,
/// thread CPU time. Args: [rounds] (default 5).
/// </summary>
public sealed class RuntimeBench : IBenchSuite
{
    public string Name => "runtime";
    public string Description => "program invocation overhead and hash lookup from a program (checked interpreter)";

    public int Run(string[] args)
    {
        int rounds = args.Length > 0 && int.TryParse(args[0], out var r) ? r : 5;
        var rt = new BpfRuntime();
        using var empty = rt.LoadProgram(new ProgramDefinition(ProgramType.Xdp, [Mov64(0, 2), Exit()], "empty"));
        using var map = rt.CreateMap(new MapDefinition(MapType.Hash, 4, 8, 1024, Name: "h"));
        for (uint k = 0; k < 1024; k++)
            map.Map.Maps!.Update(BitConverter.GetBytes(k), new byte[8]);
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
        var packet = new byte[64];
        var executor = rt.Executor!;

        Console.WriteLine($"runtime: median of {rounds} rounds; ns/op = thread CPU time");
        Console.WriteLine($"{"case",-52} {"ns/op",9}");
        Report("empty program, executor.Run (ctx = 0)", rounds, n => { for (int i = 0; i < n; i++) executor.Run(empty.Program, 0); });
        Report("empty program, test_run repeat (XDP ctx reused)", rounds, n => rt.TestRun(empty, new TestRunOptions { DataIn = packet, Repeat = (uint)n }));
        Report("hash lookup program, test_run repeat", rounds, n => rt.TestRun(lookupProg, new TestRunOptions { DataIn = packet, Repeat = (uint)n }));
        Report("test_run single run (XDP ctx built each time)", rounds, n => { for (int i = 0; i < n; i++) rt.TestRun(empty, new TestRunOptions { DataIn = packet }); }, 20_000);
        return 0;
    }

    private static void Report(string name, int rounds, Action<int> body, int n = 200_000)
    {
        var warm = Stopwatch.StartNew();
        while (warm.ElapsedMilliseconds < 300) body(n / 20);
        var samples = new double[rounds];
        for (int i = 0; i < rounds; i++)
        {
            long c0 = ThreadCpuNs();
            body(n);
            samples[i] = (ThreadCpuNs() - c0) / (double)n;
        }
        Array.Sort(samples);
        Console.WriteLine($"{name,-52} {samples[rounds / 2],9:F1}");
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct Timespec { public long Sec; public long Nsec; }

    [DllImport("libc", EntryPoint = "clock_gettime")]
    private static extern int ClockGettime(int clock, out Timespec ts);

    private static long ThreadCpuNs()
    {
        if (OperatingSystem.IsLinux() && ClockGettime(3, out var ts) == 0) return ts.Sec * 1_000_000_000 + ts.Nsec;
        return (long)(Stopwatch.GetTimestamp() * (1e9 / Stopwatch.Frequency));
    }
}
