using Ebpf.Execution;

namespace Ebpf.Bench.Execution;

/// <summary>
/// The five programs of ../shared/bench in the interpreter (checked and unchecked) and JIT-compiled: ns per
/// run and BPF instructions per second, median of several timed rounds, r0 checked against the expected value.
/// Args: [--rounds N] [--ms MS per round] [--mode checked|unchecked|jit|both] [program names…] (both = all three)
/// </summary>
public sealed class InterpreterBench : IBenchSuite
{
    public string Name => "interp";
    public string Description => "Interpreter and JIT on ../shared/bench programs (ns/run, BPF insns/s; checked, unchecked, jit)";

    private sealed record BenchProgram(string Name, ulong ExpectedR0, long InstructionsPerRun);

    private static readonly BenchProgram[] Programs =
    [
        new("empty", 0x2, 2),
        new("loop_sum", 0x2a06b551, 400005),
        new("fnv1a", 0x4235dbe6, 8204),
        new("parser", 0xc26b000f, 279),
        new("bubble", 0x7afe3991, 17813),
    ];

    public int Run(string[] args)
    {
        int rounds = 7, ms = 300;
        string mode = "both";
        var names = new List<string>();
        for (int a = 0; a < args.Length; a++)
        {
            switch (args[a])
            {
                case "--rounds": rounds = int.Parse(args[++a]); break;
                case "--ms": ms = int.Parse(args[++a]); break;
                case "--mode": mode = args[++a]; break;
                default: names.Add(args[a]); break;
            }
        }

        string root = FindBenchRoot();
        if (!LowMemory.IsSupported)
        {
            Console.WriteLine("interp: skipped: the bench programs need their packet below 4 GiB (mmap MAP_32BIT, Linux x86-64 only) until ctx rewriting exists");
            return 0;
        }

        Console.WriteLine($"{"program",-10} {"mode",-10} {"ns/run",12} {"M insns/s",10} {"min ns",12} {"max ns",12} {"wall ns",12}");
        Console.WriteLine("(ns = thread CPU time per run, median/min/max of the rounds; wall = median wall-clock time per run)");
        int failures = 0;
        foreach (var program in Programs.Where(p => names.Count == 0 || names.Contains(p.Name)))
        {
            foreach (var (m, jit, label) in new[] { (ExecutionMode.Unchecked, true, "jit"), (ExecutionMode.Unchecked, false, "unchecked"), (ExecutionMode.Checked, false, "checked") })
            {
                if (mode != "both" && !string.Equals(mode, label, StringComparison.OrdinalIgnoreCase))
                    continue;
                if (!RunOne(root, program, m, jit, label, rounds, ms))
                    failures++;
            }
        }
        return failures == 0 ? 0 : 1;
    }

    private static bool RunOne(string root, BenchProgram program, ExecutionMode mode, bool jit, string label, int rounds, int ms)
    {
        using var target = InterpreterBenchTarget.Load(root, program.Name, mode, jit);
        ulong r0 = target.Run();
        if ((uint)r0 != program.ExpectedR0) // XDP returns a u32: the upper half of r0 is whatever the program left there
        {
            Console.WriteLine($"{program.Name,-10} {label,-10} WRONG r0 0x{r0:x}, expected 0x{program.ExpectedR0:x}");
            return false;
        }
        target.CalibrateAndWarm();
        var perRun = new List<double>();
        var wallPerRun = new List<double>();
        for (int round = 0; round < rounds; round++)
        {
            var (cpu, wall) = target.MeasureRound(ms);
            perRun.Add(cpu);
            wallPerRun.Add(wall);
        }
        perRun.Sort();
        wallPerRun.Sort();
        double median = perRun[perRun.Count / 2];
        double mips = program.InstructionsPerRun / median * 1e3; // insns per ns * 1e3 = M insns/s
        Console.WriteLine($"{program.Name,-10} {label,-10} {median,12:F1} {mips,10:F0} {perRun[0],12:F1} {perRun[^1],12:F1} {wallPerRun[wallPerRun.Count / 2],12:F1}");
        return true;
    }

    private static string FindBenchRoot()
    {
        if (Environment.GetEnvironmentVariable("EBPF_SHARED") is { Length: > 0 } shared)
            return Path.Combine(shared, "bench");
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Ebpf.slnx")))
                return Path.GetFullPath(Path.Combine(dir.FullName, "..", "shared", "bench"));
        }
        throw new InvalidOperationException("cannot find ../shared/bench (set EBPF_SHARED)");
    }
}
