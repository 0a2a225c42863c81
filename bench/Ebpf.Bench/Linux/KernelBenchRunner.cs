using System.Diagnostics;
using Ebpf.Abi;
using Ebpf.Elf;
using Ebpf.Isa;
using Ebpf.Linux;

namespace Ebpf.Bench.Linux;

/// <summary>How one program is timed in the kernel.</summary>
public sealed record KernelBenchOptions
{
    /// <summary>Measured rounds (after one warm-up round); the median is reported.</summary>
    public int Rounds { get; init; } = 5;
    /// <summary>test_run repeat per round; 0 calibrates so that one round takes about <see cref="TargetRoundMs"/>.</summary>
    public uint Repeat { get; init; }
    public double TargetRoundMs { get; init; } = 50;
    public ProgramType Type { get; init; } = ProgramType.Xdp;
}

/// <summary>One program's kernel figures: the kernel's own per-run duration (test_run's duration field).</summary>
public sealed record KernelBenchResult(
    string Name,
    uint ReturnValue,
    double MedianNs,
    double MinNs,
    IReadOnlyList<uint> RoundNs,
    uint Repeat,
    double LoadMs,
    string VerifierStats);

/// <summary>
/// Loads a raw program into the kernel and times it with BPF_PROG_TEST_RUN (repeat), as the reference
/// driver kern_bench.c does. Reusable by cross-engine suites: give it instructions and a packet.
/// </summary>
public static class KernelBenchRunner
{
    /// <summary>The instructions of an object's program section (default "xdp"), as raw slots with no relocation.</summary>
    public static Instruction[] ReadSection(string objectPath, string section = "xdp")
    {
        var elf = ElfFile.Open(objectPath);
        var s = elf.FindSection(section)
            ?? throw new BpfException(Errno.ENOENT, $"{objectPath}: no section '{section}'");
        return InstructionStream.Read(s.Data.Span, $"{objectPath} section {section}");
    }

    public static KernelBenchResult Run(string name, ReadOnlyMemory<Instruction> instructions, byte[] input, KernelBenchOptions? options = null)
    {
        options ??= new KernelBenchOptions();
        using var session = KernelBenchSession.Load(name, instructions, input, options);
        session.RunRound(); // warm-up
        var rounds = new List<uint>();
        for (int r = 0; r < options.Rounds; r++)
            rounds.Add(session.RunRound());
        var sorted = rounds.Order().ToArray();
        double median = sorted.Length % 2 == 1
            ? sorted[sorted.Length / 2]
            : (sorted[sorted.Length / 2 - 1] + (double)sorted[sorted.Length / 2]) / 2;
        return new KernelBenchResult(name, session.ReturnValue, median, sorted[0], rounds, session.Repeat, session.LoadMs, session.VerifierStats);
    }

    /// <summary>Grows repeat ×4 until one call spends ≥ 1/10 of the target in the kernel, then scales to the target.</summary>
    internal static uint Calibrate(KernelProgram program, byte[] input, double targetMs)
    {
        uint n = 16;
        while (true)
        {
            var r = program.TestRun(new TestRunOptions { DataIn = input, Repeat = n, DataSizeOut = 0 });
            double elapsedNs = (double)r.Duration * n;
            if (elapsedNs >= targetMs * 1e5 || n >= 1u << 28)
            {
                double scaled = n * (targetMs * 1e6 / Math.Max(elapsedNs, 1));
                return (uint)Math.Clamp(scaled, 2, 1e9);
            }
            n *= 4;
        }
    }
}

/// <summary>
/// A program loaded into the kernel with a calibrated repeat, timed one round at a time, so that a
/// cross-engine suite can interleave kernel rounds with its own.
/// </summary>
public sealed class KernelBenchSession : IDisposable
{
    private readonly KernelProgram _program;
    private readonly byte[] _input;

    public uint Repeat { get; }
    public double LoadMs { get; }
    public string VerifierStats { get; }
    /// <summary>The return value of the latest round.</summary>
    public uint ReturnValue { get; private set; }

    private KernelBenchSession(KernelProgram program, byte[] input, uint repeat, double loadMs, string stats)
    {
        _program = program;
        _input = input;
        Repeat = repeat;
        LoadMs = loadMs;
        VerifierStats = stats;
    }

    public static KernelBenchSession Load(string name, ReadOnlyMemory<Instruction> instructions, byte[] input, KernelBenchOptions? options = null)
    {
        options ??= new KernelBenchOptions();
        var sw = Stopwatch.StartNew();
        var program = KernelProgram.Load(new ProgramLoadAttributes
        {
            Type = options.Type,
            Instructions = instructions,
            Name = name,
            LogLevel = VerifierLogLevel.Stats | VerifierLogLevel.Level1,
        });
        try
        {
            double loadMs = sw.Elapsed.TotalMilliseconds;
            string stats = string.Join("; ", (program.VerifierLog ?? "").Split('\n', StringSplitOptions.RemoveEmptyEntries));
            uint repeat = options.Repeat == 0 ? KernelBenchRunner.Calibrate(program, input, options.TargetRoundMs) : options.Repeat;
            return new KernelBenchSession(program, input, repeat, loadMs, stats);
        }
        catch
        {
            program.Dispose();
            throw;
        }
    }

    /// <summary>One BPF_PROG_TEST_RUN with <see cref="Repeat"/>: the kernel's mean ns per run.</summary>
    public uint RunRound()
    {
        var result = _program.TestRun(new TestRunOptions { DataIn = _input, Repeat = Repeat, DataSizeOut = 0 });
        ReturnValue = result.ReturnValue;
        return result.Duration;
    }

    public void Dispose() => _program.Dispose();
}
