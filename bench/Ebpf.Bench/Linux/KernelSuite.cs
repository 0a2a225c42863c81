using System.Globalization;
using Ebpf.Linux.Probes;

namespace Ebpf.Bench.Linux;

/// <summary>
/// `kernel`: the five benchmark programs of ../shared/bench as XDP in the running kernel (JIT), timed with
/// BPF_PROG_TEST_RUN. Args: [NAME...] [--rounds N] [--round-ms MS].
/// </summary>
public sealed class KernelSuite : IBenchSuite
{
    /// <summary>The benchmark programs and the r0 their README expects.</summary>
    public static readonly IReadOnlyList<(string Name, uint Expected)> Programs =
    [
        ("empty", 0x2),
        ("loop_sum", 0x2a06b551),
        ("fnv1a", 0x4235dbe6),
        ("parser", 0xc26b000f),
        ("bubble", 0x7afe3991),
    ];

    public string Name => "kernel";
    public string Description => "bench programs in the Linux kernel via BPF_PROG_TEST_RUN (needs root)";

    public int Run(string[] args)
    {
        int rounds = 5;
        double roundMs = 50;
        var only = new List<string>();
        for (int i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--rounds" when i + 1 < args.Length:
                    rounds = int.Parse(args[++i], CultureInfo.InvariantCulture);
                    break;
                case "--round-ms" when i + 1 < args.Length:
                    roundMs = double.Parse(args[++i], CultureInfo.InvariantCulture);
                    break;
                default:
                    only.Add(args[i]);
                    break;
            }
        }

        var bpf = KernelFeatures.Bpf;
        if (!bpf.Supported)
        {
            Console.Error.WriteLine($"kernel: bpf(2) not usable: {bpf.Detail} ({bpf.Errno})");
            return 1;
        }
        string? benchDir = BenchData.Find();
        if (benchDir is null)
        {
            Console.Error.WriteLine("kernel: ../shared/bench not found (set EBPF_SHARED)");
            return 1;
        }

        Console.WriteLine($"{"program",-10} {"median ns",12} {"min ns",10} {"repeat",10} {"load ms",8}  ret");
        int failures = 0;
        foreach (var (name, expected) in Programs.Where(p => only.Count == 0 || only.Contains(p.Name)))
        {
            var insns = KernelBenchRunner.ReadSection(Path.Combine(benchDir, "build", name + ".o"));
            var input = File.ReadAllBytes(Path.Combine(benchDir, "inputs", name + ".in"));
            var r = KernelBenchRunner.Run(name, insns, input, new KernelBenchOptions { Rounds = rounds, TargetRoundMs = roundMs });
            bool ok = r.ReturnValue == expected;
            if (!ok)
                failures++;
            Console.WriteLine($"{name,-10} {r.MedianNs,12:F1} {r.MinNs,10:F1} {r.Repeat,10} {r.LoadMs,8:F1}  0x{r.ReturnValue:x8} {(ok ? "ok" : $"MISMATCH (expected 0x{expected:x8})")}");
            Console.WriteLine($"           verifier: {r.VerifierStats}");
        }
        return failures == 0 ? 0 : 1;
    }
}

/// <summary>Finds ../shared/bench: $EBPF_SHARED/bench, else shared/bench beside the repository root.</summary>
public static class BenchData
{
    public static string? Find()
    {
        if (Environment.GetEnvironmentVariable("EBPF_SHARED") is { Length: > 0 } env)
            return Directory.Exists(Path.Combine(env, "bench")) ? Path.Combine(env, "bench") : null;
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Ebpf.slnx")))
            {
                string candidate = Path.GetFullPath(Path.Combine(dir.FullName, "..", "shared", "bench"));
                return Directory.Exists(candidate) ? candidate : null;
            }
        }
        return null;
    }
}
