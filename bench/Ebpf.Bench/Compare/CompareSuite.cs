using System.Globalization;
using Ebpf.Bench.Execution;
using Ebpf.Bench.Linux;
using Ebpf.Execution;
using Ebpf.Linux.Probes;

namespace Ebpf.Bench.Compare;

/// <summary>
/// `compare`: the five ../shared/bench programs in our interpreter (unchecked), our JIT and the running kernel
/// (its JIT, BPF_PROG_TEST_RUN with repeat), in one process, rounds interleaved (interpreter, JIT, kernel, next
/// program…) so that all engines see the same machine load. Per program: the median ns per run of each engine
/// and ours/kernel, raw and net of each engine's own `empty` cost (its per-invocation overhead).
/// Ours is thread CPU time per run; the kernel's is test_run's own per-run duration.
/// Args: [--rounds N] [--ms MS per interpreter round] [--kernel-ms MS per kernel round] [NAME…]
/// </summary>
public sealed class CompareSuite : IBenchSuite
{
    public string Name => "compare";
    public string Description => "bench programs side by side: our interpreter (unchecked), our JIT, the kernel JIT (test_run)";

    private sealed class Entry(string name, uint expected, InterpreterBenchTarget ours, InterpreterBenchTarget jit, KernelBenchSession kernel) : IDisposable
    {
        public string Name { get; } = name;
        public uint Expected { get; } = expected;
        public InterpreterBenchTarget Ours { get; } = ours;
        public InterpreterBenchTarget Jit { get; } = jit;
        public KernelBenchSession Kernel { get; } = kernel;
        public List<double> OursNs { get; } = [];
        public List<double> JitNs { get; } = [];
        public List<double> KernelNs { get; } = [];

        public void Dispose()
        {
            Ours.Dispose();
            Jit.Dispose();
            Kernel.Dispose();
        }
    }

    public int Run(string[] args)
    {
        int rounds = 7, ms = 100;
        double kernelMs = 50;
        var only = new List<string>();
        for (int i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--rounds" when i + 1 < args.Length: rounds = int.Parse(args[++i], CultureInfo.InvariantCulture); break;
                case "--ms" when i + 1 < args.Length: ms = int.Parse(args[++i], CultureInfo.InvariantCulture); break;
                case "--kernel-ms" when i + 1 < args.Length: kernelMs = double.Parse(args[++i], CultureInfo.InvariantCulture); break;
                default: only.Add(args[i]); break;
            }
        }

        var bpf = KernelFeatures.Bpf;
        if (!bpf.Supported)
        {
            Console.Error.WriteLine($"compare: bpf(2) not usable: {bpf.Detail} ({bpf.Errno})");
            return 1;
        }
        if (!LowMemory.IsSupported)
        {
            Console.Error.WriteLine("compare: the interpreter side needs the packet below 4 GiB (mmap MAP_32BIT, Linux x86-64 only)");
            return 1;
        }
        string? root = BenchData.Find();
        if (root is null)
        {
            Console.Error.WriteLine("compare: ../shared/bench not found (set EBPF_SHARED)");
            return 1;
        }

        // `empty` is always measured: it is the baseline the net columns subtract.
        var selected = KernelSuite.Programs.Where(p => only.Count == 0 || only.Contains(p.Name) || p.Name == "empty").ToList();
        var entries = new List<Entry>();
        try
        {
            foreach (var (name, expected) in selected)
            {
                var ours = InterpreterBenchTarget.Load(root, name, ExecutionMode.Unchecked);
                InterpreterBenchTarget? jit = null;
                KernelBenchSession kernel;
                try
                {
                    jit = InterpreterBenchTarget.Load(root, name, ExecutionMode.Unchecked, jit: true);
                    var insns = KernelBenchRunner.ReadSection(Path.Combine(root, "build", name + ".o"));
                    var input = File.ReadAllBytes(Path.Combine(root, "inputs", name + ".in"));
                    kernel = KernelBenchSession.Load(name, insns, input, new KernelBenchOptions { TargetRoundMs = kernelMs });
                }
                catch
                {
                    ours.Dispose();
                    jit?.Dispose();
                    throw;
                }
                entries.Add(new Entry(name, expected, ours, jit, kernel));
            }

            int failures = 0;
            foreach (var e in entries)
            {
                uint oursR0 = (uint)e.Ours.Run(); // XDP retval is a u32
                uint jitR0 = (uint)e.Jit.Run();
                e.Kernel.RunRound();
                if (oursR0 != e.Expected || jitR0 != e.Expected || e.Kernel.ReturnValue != e.Expected)
                {
                    Console.WriteLine($"{e.Name}: WRONG r0: interpreter 0x{oursR0:x8}, JIT 0x{jitR0:x8}, kernel 0x{e.Kernel.ReturnValue:x8}, expected 0x{e.Expected:x8}");
                    failures++;
                }
                e.Ours.CalibrateAndWarm(warmMs: 300);
                e.Jit.CalibrateAndWarm(warmMs: 300);
            }
            if (failures > 0)
                return 1;

            for (int r = 0; r < rounds; r++)
            {
                foreach (var e in entries)
                {
                    e.OursNs.Add(e.Ours.MeasureRound(ms).CpuNs);
                    e.JitNs.Add(e.Jit.MeasureRound(ms).CpuNs);
                    e.KernelNs.Add(e.Kernel.RunRound());
                }
            }

            Print(entries, rounds);
            return 0;
        }
        finally
        {
            foreach (var e in entries)
                e.Dispose();
        }
    }

    private static void Print(List<Entry> entries, int rounds)
    {
        var empty = entries.First(e => e.Name == "empty");
        double oursEmpty = Median(empty.OursNs), jitEmpty = Median(empty.JitNs), kernelEmpty = Median(empty.KernelNs);
        Console.WriteLine($"Ebpf.NET interpreter (unchecked) and JIT vs Linux kernel JIT (BPF_PROG_TEST_RUN), median of {rounds} interleaved rounds");
        Console.WriteLine($"{DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC; {MachineInfo.CpuModel()}, {Environment.ProcessorCount} CPUs; Linux {MachineInfo.KernelRelease()}; .NET {Environment.Version}");
        Console.WriteLine();
        Console.WriteLine("| program | interp ns/run | JIT ns/run | kernel ns/run | interp/kernel | JIT/kernel | net interp/kernel | net JIT/kernel |");
        Console.WriteLine("|---|---:|---:|---:|---:|---:|---:|---:|");
        foreach (var e in entries)
        {
            double ours = Median(e.OursNs), jit = Median(e.JitNs), kernel = Median(e.KernelNs);
            string head = $"| {e.Name} | {ours:F1} | {jit:F1} | {kernel:F1} | {Ratio(ours, kernel)} | {Ratio(jit, kernel)} |";
            if (e == empty)
            {
                Console.WriteLine($"{head} (baseline) | (baseline) |");
                continue;
            }
            double kernelNet = kernel - kernelEmpty;
            Console.WriteLine($"{head} {Ratio(ours - oursEmpty, kernelNet)} | {Ratio(jit - jitEmpty, kernelNet)} |");
        }
        Console.WriteLine();
        Console.WriteLine("ours = thread CPU ns per run (batches of ~10 ms); kernel = test_run's per-run duration (repeat calibrated to the round);");
        Console.WriteLine("net = minus the same engine's `empty` median (its per-invocation overhead).");
    }

    private static string Ratio(double a, double b) => b > 0 && a >= 0 ? $"{a / b:F1}×" : "n/a";

    private static double Median(List<double> values)
    {
        var sorted = values.Order().ToArray();
        return sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[sorted.Length / 2 - 1] + sorted[sorted.Length / 2]) / 2;
    }
}

/// <summary>The machine line of a benchmark table: CPU model (as lscpu shows it) and kernel release.</summary>
internal static class MachineInfo
{
    public static string CpuModel()
    {
        try
        {
            foreach (string line in File.ReadLines("/proc/cpuinfo"))
                if (line.StartsWith("model name", StringComparison.Ordinal) && line.IndexOf(':') is int colon and > 0)
                    return line[(colon + 1)..].Trim();
        }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
        return "unknown CPU";
    }

    public static string KernelRelease()
    {
        try { return File.ReadAllText("/proc/sys/kernel/osrelease").Trim(); }
        catch (IOException) { return Environment.OSVersion.VersionString; }
    }
}
