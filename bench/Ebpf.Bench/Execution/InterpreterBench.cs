using System.Diagnostics;
using Ebpf.Elf;
using Ebpf.Execution;
using Ebpf.Isa;

namespace Ebpf.Bench.Execution;

/// <summary>
/// The five programs of ../shared/bench in the interpreter (checked and unchecked): ns per run and
/// BPF instructions per second, median of several timed rounds, r0 checked against the expected value.
/// Args: [--rounds N] [--ms MS per round] [--mode checked|unchecked|both] [program names…]
/// </summary>
public sealed unsafe class InterpreterBench : IBenchSuite
{
    public string Name => "interp";
    public string Description => "Interpreter on ../shared/bench programs (ns/run, BPF insns/s; checked and unchecked)";

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
            foreach (var m in new[] { ExecutionMode.Unchecked, ExecutionMode.Checked })
            {
                if (mode != "both" && !string.Equals(mode, m.ToString(), StringComparison.OrdinalIgnoreCase))
                    continue;
                if (!RunOne(root, program, m, rounds, ms))
                    failures++;
            }
        }
        return failures == 0 ? 0 : 1;
    }

    private static bool RunOne(string root, BenchProgram program, ExecutionMode mode, int rounds, int ms)
    {
        var elf = ElfFile.Open(Path.Combine(root, "build", program.Name + ".o"));
        var section = elf.FindSection("xdp") ?? throw new InvalidOperationException($"{program.Name}.o has no xdp section");
        var instructions = InstructionStream.Read(section.Data.Span, $"{program.Name}.o xdp");
        var interpreter = Interpreter.Load(instructions, new InterpreterOptions { Name = program.Name, Mode = mode });
        byte[] input = File.ReadAllBytes(Path.Combine(root, "inputs", program.Name + ".in"));

        // One low mapping: a fake xdp_md at the start, the packet at +64.
        nuint length = (nuint)(64 + input.Length + 4096);
        byte* low = LowMemory.Allocate(length);
        try
        {
            byte* packet = low + 64;
            input.CopyTo(new Span<byte>(packet, input.Length));
            ((uint*)low)[0] = (uint)(ulong)packet;
            ((uint*)low)[1] = (uint)((ulong)packet + (ulong)input.Length);
            var request = new ExecutionRequest { R1 = (ulong)low };
            request.AddRegion(new MemoryRegion((nuint)low, 24, MemoryAccess.Read, "xdp_md"));
            request.AddRegion(new MemoryRegion((nuint)packet, (nuint)input.Length, MemoryAccess.ReadWrite, "packet"));

            ulong r0 = interpreter.Run(request);
            if ((uint)r0 != program.ExpectedR0) // XDP returns a u32: the upper half of r0 is whatever the program left there
            {
                Console.WriteLine($"{program.Name,-10} {mode,-10} WRONG r0 0x{r0:x}, expected 0x{program.ExpectedR0:x}");
                return false;
            }

            // Calibrate a batch size of about 10 ms, warm up (tiering, PGO), then time rounds.
            long batch = 1;
            while (true)
            {
                long t = Stopwatch.GetTimestamp();
                for (long k = 0; k < batch; k++)
                    interpreter.Run(request);
                if (Stopwatch.GetElapsedTime(t).TotalMilliseconds >= 10)
                    break;
                batch *= 2;
            }
            var warm = Stopwatch.StartNew();
            while (warm.ElapsedMilliseconds < 500)
                for (long k = 0; k < batch; k++)
                    interpreter.Run(request);

            var perRun = new List<double>();
            var wallPerRun = new List<double>();
            for (int round = 0; round < rounds; round++)
            {
                long runs = 0;
                long start = Stopwatch.GetTimestamp();
                long cpuStart = LowMemory.ThreadCpuNanoseconds();
                TimeSpan elapsed;
                do
                {
                    for (long k = 0; k < batch; k++)
                        interpreter.Run(request);
                    runs += batch;
                    elapsed = Stopwatch.GetElapsedTime(start);
                } while (elapsed.TotalMilliseconds < ms);
                perRun.Add((double)(LowMemory.ThreadCpuNanoseconds() - cpuStart) / runs);
                wallPerRun.Add(elapsed.TotalNanoseconds / runs);
            }
            perRun.Sort();
            wallPerRun.Sort();
            double median = perRun[perRun.Count / 2];
            double mips = program.InstructionsPerRun / median * 1e3; // insns per ns * 1e3 = M insns/s
            Console.WriteLine($"{program.Name,-10} {mode,-10} {median,12:F1} {mips,10:F0} {perRun[0],12:F1} {perRun[^1],12:F1} {wallPerRun[wallPerRun.Count / 2],12:F1}");
            return true;
        }
        finally
        {
            LowMemory.Free(low, length);
        }
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
