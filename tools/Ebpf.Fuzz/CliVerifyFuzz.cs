using System.Globalization;
using System.Text;
using Ebpf.Abi;
using Ebpf.Cli;
using Ebpf.Isa;
using Ebpf.Loading;
using Ebpf.Verification;

namespace Ebpf.Fuzz;

/// <summary>What the `prog verify` robustness run is asked to do (no kernel needed).</summary>
public sealed record CliFuzzOptions
{
    public int Seed { get; init; } = 1;
    public int Count { get; init; } = 1000;
    public ProgramType? Type { get; init; }
    public string? SeedDirectory { get; init; }
    public string? OutputDirectory { get; init; }
    /// <summary>A step taking longer is a hang (the run stops there: the step's thread cannot be taken back).</summary>
    public TimeSpan HangLimit { get; init; } = TimeSpan.FromSeconds(120);
}

/// <summary>One way a step ended that it must never end: an exception other than BpfException, "internal error", a hang.</summary>
public sealed record CliFuzzFinding(string Step, string Detail, FuzzProgram Program);

/// <summary>The counts of a robustness run and the first finding of each (step, exception) signature.</summary>
public sealed class CliFuzzSummary
{
    public int Programs { get; set; }
    public int ObjectsLoaded { get; set; }
    public int Steps { get; set; }
    public bool Hung { get; set; }
    public TimeSpan Elapsed { get; set; }
    public Dictionary<string, (int Count, CliFuzzFinding First)> Findings { get; } = [];

    public int FindingCount => Findings.Values.Sum(f => f.Count);

    public IEnumerable<string> Report()
    {
        yield return $"prog verify robustness: {Programs} programs ({ObjectsLoaded} objects our loader read), {Steps} steps in {Elapsed.TotalSeconds:F1}s: " +
            $"{FindingCount} aborts{(Hung ? ", stopped by a hang" : "")}";
        foreach (var (sig, (n, first)) in Findings.OrderByDescending(f => f.Value.Count))
            yield return $"  {n,6}  {sig}";
    }
}

/// <summary>
/// `ebpf prog verify` must never abort, whatever the object and the log level. Each random or mutated program (and
/// now and then its ELF image with bytes flipped) goes through the CLI verb at --log-level 0, 1 and 2 (text and JSON),
/// through our loader and verifier directly at each level, through the verifier on the raw instructions, and through
/// the disassemblers (the kernel's style per instruction, and the `disasm` verb in its three styles). A step may
/// refuse (BpfException, "Error: …"), never throw anything else, print "internal error" or hang.
/// </summary>
public static class CliVerifyFuzz
{
    public static CliFuzzSummary Run(CliFuzzOptions options, Action<string>? progress = null)
    {
        var random = new Random(options.Seed);
        var seeds = FuzzRun.LoadSeeds(options.SeedDirectory);
        var generators = new Dictionary<ProgramType, ProgramGenerator>
        {
            [ProgramType.SocketFilter] = new(random, ProgramType.SocketFilter),
            [ProgramType.Xdp] = new(random, ProgramType.Xdp),
        };
        var mutator = new ProgramMutator(random, seeds);
        var summary = new CliFuzzSummary();
        string dir = Directory.CreateTempSubdirectory("ebpf-cli-fuzz-").FullName;
        var clock = System.Diagnostics.Stopwatch.StartNew();
        try
        {
            for (int n = 0; n < options.Count && !summary.Hung; n++)
            {
                var type = options.Type ?? (n % 2 == 0 ? ProgramType.SocketFilter : ProgramType.Xdp);
                var program = random.Next(8) switch
                {
                    0 => RandomWords(random, type),
                    1 or 2 => mutator.Mutate(type, generators[type]),
                    _ => generators[type].Next(),
                };
                summary.Programs++;
                byte[] elf = MiniElf.Write(program);
                if (random.Next(8) == 0)
                    for (int f = 0, flips = 1 + random.Next(4); f < flips; f++)
                        elf[random.Next(elf.Length)] ^= (byte)(1 << random.Next(8));
                string path = Path.Combine(dir, $"p{n}.o");
                File.WriteAllBytes(path, elf);
                Check(summary, options, program, "verifier on raw instructions", () =>
                {
                    foreach (int level in new[] { 0, 1, 2 })
                        Verifier.Verify(new VerifierInput { Instructions = program.Instructions, ProgramType = program.Type, LogLevel = level });
                }, progress);
                ObjectSpec? obj = null;
                Check(summary, options, program, "loader", () =>
                {
                    obj = ObjectSpec.Load(path);
                    summary.ObjectsLoaded++;
                }, progress);
                foreach (int level in new[] { 0, 1, 2 })
                    if (obj is not null)
                        Check(summary, options, program, $"loader and verifier, log level {level}", () =>
                        {
                            foreach (var prog in obj.Programs)
                                Verifier.Verify(ProgramSpecInput.Create(obj, prog, logLevel: level));
                        }, progress);
                Check(summary, options, program, "kernel disassembler", () =>
                {
                    for (int i = 0; i < program.Instructions.Length; i++)
                        KernelDisassembler.Format(program.Instructions, i);
                }, progress);
                foreach (string[] args in new[]
                {
                    new[] { "prog", "verify", path },
                    ["prog", "verify", path, "--log-level", "1"],
                    ["prog", "verify", path, "--log-level", "2"],
                    ["-j", "prog", "verify", path, "--log-level", "2"],
                    ["disasm", path, "--style", "kernel"],
                    ["disasm", path, "--style", "llvm"],
                    ["disasm", path, "--style", "conformance"],
                })
                {
                    Check(summary, options, program, "ebpf " + string.Join(' ', args.Select(a => a == path ? "OBJ" : a)), () =>
                    {
                        var stdout = new StringWriter(CultureInfo.InvariantCulture);
                        var stderr = new StringWriter(CultureInfo.InvariantCulture);
                        EbpfCli.Run(args, stdout, stderr);
                        string err = stderr.ToString();
                        int at = err.IndexOf("internal error", StringComparison.Ordinal);
                        if (at >= 0)
                            throw new CliInternalError(err[at..].Split('\n')[0]);
                    }, progress);
                }
                File.Delete(path);
            }
        }
        finally
        {
            summary.Elapsed = clock.Elapsed;
            if (!summary.Hung)
                Directory.Delete(dir, recursive: true);
        }
        if (options.OutputDirectory is { } outDir)
        {
            Directory.CreateDirectory(outDir);
            File.WriteAllLines(Path.Combine(outDir, "cli-summary.txt"), summary.Report());
            int i = 0;
            foreach (var (sig, (_, first)) in summary.Findings)
                File.WriteAllText(Path.Combine(outDir, $"Abort-{i++:D3}.txt"), Reproducer(sig, first));
        }
        return summary;
    }

    private sealed class CliInternalError(string message) : Exception(message);

    /// <summary>Runs one step under the hang limit; anything it throws but BpfException is a finding.</summary>
    private static void Check(CliFuzzSummary summary, CliFuzzOptions options, FuzzProgram program, string step, Action body, Action<string>? progress)
    {
        summary.Steps++;
        Exception? failure = null;
        var task = Task.Run(() =>
        {
            try { body(); }
            catch (BpfException) { }
            catch (Exception e) { failure = e; }
        });
        if (!task.Wait(options.HangLimit))
        {
            summary.Hung = true;
            Record(summary, new CliFuzzFinding(step, $"no answer within {options.HangLimit.TotalSeconds:0}s", program), $"{step}: hang", progress);
            return;
        }
        if (failure is not null)
        {
            string where = failure.StackTrace?.Split('\n').Select(l => l.Trim()).FirstOrDefault(l => l.StartsWith("at Ebpf.", StringComparison.Ordinal)) ?? "";
            Record(summary, new CliFuzzFinding(step, $"{failure.GetType().Name}: {failure.Message}\n{failure}", program),
                $"{step}: {failure.GetType().Name} {where}", progress);
        }
    }

    private static void Record(CliFuzzSummary summary, CliFuzzFinding finding, string signature, Action<string>? progress)
    {
        if (summary.Findings.TryGetValue(signature, out var entry))
        {
            summary.Findings[signature] = (entry.Count + 1, entry.First);
            return;
        }
        summary.Findings[signature] = (1, finding);
        progress?.Invoke(Reproducer(signature, finding));
    }

    public static string Reproducer(string signature, CliFuzzFinding f)
    {
        var s = new StringBuilder();
        s.AppendLine(CultureInfo.InvariantCulture, $"# {signature}");
        s.AppendLine(CultureInfo.InvariantCulture, $"# {KernelNames.Of(f.Program.Type)} ({f.Program.Origin}), step: {f.Step}");
        foreach (var insn in f.Program.Instructions)
            s.AppendLine(insn.ToRaw().ToString("x16", CultureInfo.InvariantCulture));
        s.AppendLine(f.Detail);
        return s.ToString();
    }

    /// <summary>Instruction words with random fields: opcodes the kernel never defined, registers past r10, any offset.</summary>
    private static FuzzProgram RandomWords(Random random, ProgramType type)
    {
        var insns = new Instruction[1 + random.Next(24)];
        for (int i = 0; i < insns.Length; i++)
            insns[i] = new Instruction((byte)random.Next(256), (byte)random.Next(16), (byte)random.Next(16),
                (short)(random.Next(4) == 0 ? random.Next(short.MinValue, short.MaxValue + 1) : random.Next(-8, 9)),
                random.Next(3) == 0 ? random.Next() : random.Next(-4, 5));
        if (random.Next(2) == 0) insns[^1] = Instruction.Exit();
        return new FuzzProgram(type, insns, "random words", true);
    }
}
