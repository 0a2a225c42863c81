using System.Diagnostics;
using Ebpf.Abi;
using Ebpf.Isa;

namespace Ebpf.Fuzz;

/// <summary>What a fuzz run is asked to do.</summary>
public sealed record FuzzOptions
{
    public int Seed { get; init; } = 1;
    public int Count { get; init; } = 1000;
    /// <summary>Socket filter, XDP, or both alternately (null).</summary>
    public ProgramType? Type { get; init; }
    /// <summary>Where reproducers and the summary go; null writes nothing.</summary>
    public string? OutputDirectory { get; init; }
    /// <summary>Directory of conformance .data files used as mutation seeds (optional).</summary>
    public string? SeedDirectory { get; init; }
    /// <summary>Reproducers minimised per signature (the rest are only counted).</summary>
    public int MinimisePerSignature { get; init; } = 1;
    /// <summary>Cap on minimisations per run, so a run full of one new bug stays bounded.</summary>
    public int MaxMinimisations { get; init; } = 60;
    /// <summary>Skip the runs and compare verdicts only (faster; for agreement statistics).</summary>
    public bool VerdictsOnly { get; init; }
}

/// <summary>The counts of a run, and the findings grouped by signature with one minimised reproducer each.</summary>
public sealed class FuzzSummary
{
    public int Programs { get; set; }
    public int BothAccept { get; set; }
    public int BothReject { get; set; }
    public int KnownEnvironmentDifferences { get; set; }
    public TimeSpan Elapsed { get; set; }
    public Dictionary<FindingKind, int> Counts { get; } = Enum.GetValues<FindingKind>().ToDictionary(k => k, _ => 0);
    public Dictionary<string, (int Count, string? Reproducer)> Signatures { get; } = [];

    public int Count(FindingKind kind) => Counts[kind];
    /// <summary>Programs where the verdicts agree, over all programs.</summary>
    public double Agreement => Programs == 0 ? 1 : 1 - (double)(Count(FindingKind.FalseAccept) + Count(FindingKind.FalseReject)) / Programs;
    public double ProgramsPerSecond => Programs / Math.Max(Elapsed.TotalSeconds, 1e-3);

    public IEnumerable<string> Report()
    {
        yield return $"{Programs} programs in {Elapsed.TotalSeconds:F1}s ({ProgramsPerSecond:F0}/s): verdict agreement {Agreement:P2}; " +
            $"both accept {BothAccept}, both reject {BothReject}; known environment differences {KnownEnvironmentDifferences}";
        foreach (var (kind, n) in Counts)
            yield return $"  {kind}: {n}";
        foreach (var (sig, (n, _)) in Signatures.OrderBy(s => s.Key.Split(':')[0]).ThenByDescending(s => s.Value.Count))
            yield return $"  {n,6}  {sig}";
    }
}

/// <summary>The fuzz loop: generate or mutate, judge, minimise new signatures, write reproducers.</summary>
public static class FuzzRun
{
    public static FuzzSummary Run(FuzzOptions options, Action<string>? progress = null)
    {
        var random = new Random(options.Seed);
        var seeds = LoadSeeds(options.SeedDirectory);
        using var kernel = new KernelBackend();
        // Like with like: our verifier and runtime behave as the kernel they are compared with (its probed profile).
        using var managed = new ManagedBackend(Ebpf.Linux.LinuxKernel.Profile);
        var differential = new Differential(kernel, managed);
        var generators = new Dictionary<ProgramType, ProgramGenerator>
        {
            [ProgramType.SocketFilter] = new(random, ProgramType.SocketFilter),
            [ProgramType.Xdp] = new(random, ProgramType.Xdp),
        };
        var mutator = new ProgramMutator(random, seeds);
        var summary = new FuzzSummary();
        int minimisations = 0;
        if (options.OutputDirectory is { } dir)
            Directory.CreateDirectory(dir);
        var clock = Stopwatch.StartNew();
        for (int n = 0; n < options.Count; n++)
        {
            var type = options.Type ?? (n % 2 == 0 ? ProgramType.SocketFilter : ProgramType.Xdp);
            var program = random.Next(4) == 0 ? mutator.Mutate(type, generators[type]) : generators[type].Next();
            var finding = options.VerdictsOnly ? VerdictOnly(differential, program) : differential.Check(program);
            summary.Programs++;
            var (oursAccepted, kernelAccepted) = differential.LastVerdicts;
            if (oursAccepted && kernelAccepted) summary.BothAccept++;
            if (!oursAccepted && !kernelAccepted) summary.BothReject++;
            if (finding is null)
            {
                // Verdict agreement: both accepted, or both rejected with the same line.
                continue;
            }
            summary.Counts[finding.Kind]++;
            string sig = finding.Signature;
            summary.Signatures.TryGetValue(sig, out var entry);
            string? reproducer = entry.Reproducer;
            if (reproducer is null && minimisations < options.MaxMinimisations && finding.Kind != FindingKind.MessageMismatch)
            {
                minimisations++;
                // Verdict disagreements need only the verdicts to re-check, which is much faster than running.
                bool runs = finding.Kind is not (FindingKind.FalseAccept or FindingKind.FalseReject);
                var minimal = Minimizer.Minimise(program.Instructions, candidate =>
                    differential.Check(program with { Instructions = candidate }, runs) is { } f && f.Signature == sig);
                reproducer = Finding.Reproducer(finding, program, minimal);
                if (options.OutputDirectory is { } outDir)
                    File.WriteAllText(Path.Combine(outDir, $"{finding.Kind}-{summary.Signatures.Count(s => s.Key.StartsWith(finding.Kind.ToString(), StringComparison.Ordinal)):D3}.txt"), reproducer);
                progress?.Invoke(reproducer);
            }
            // A message mismatch is not minimised (a shorter program often fails elsewhere), but its first program is kept.
            if (reproducer is null && finding.Kind == FindingKind.MessageMismatch)
            {
                reproducer = Finding.Reproducer(finding, program, program.Instructions);
                if (options.OutputDirectory is { } outDir)
                    File.WriteAllText(Path.Combine(outDir, $"{finding.Kind}-{summary.Signatures.Count(s => s.Key.StartsWith(finding.Kind.ToString(), StringComparison.Ordinal)):D3}.txt"), reproducer);
            }
            summary.Signatures[sig] = (entry.Count + 1, reproducer);
        }
        summary.Elapsed = clock.Elapsed;
        summary.KnownEnvironmentDifferences = differential.KnownEnvironmentDifferences;
        if (options.OutputDirectory is { } d)
            File.WriteAllLines(Path.Combine(d, "summary.txt"), summary.Report());
        return summary;
    }

    /// <summary>Verdicts only: the agreement statistics without running anything.</summary>
    private static Finding? VerdictOnly(Differential differential, FuzzProgram program) =>
        differential.Check(program, run: false);

    internal static List<Instruction[]> LoadSeeds(string? directory)
    {
        var seeds = new List<Instruction[]>();
        if (directory is null || !Directory.Exists(directory))
            return seeds;
        foreach (var file in Directory.EnumerateFiles(directory, "*.data").Order(StringComparer.Ordinal))
        {
            try { seeds.Add(ConformanceDataFile.Load(file).Instructions); }
            catch (BpfException) { }
        }
        return seeds;
    }
}
