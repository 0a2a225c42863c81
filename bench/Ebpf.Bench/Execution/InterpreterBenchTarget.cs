using System.Diagnostics;
using Ebpf.Elf;
using Ebpf.Execution;
using Ebpf.Isa;

namespace Ebpf.Bench.Execution;

/// <summary>
/// One ../shared/bench program loaded into the interpreter with its packet in a low (MAP_32BIT) mapping:
/// a fake xdp_md at the start (data/data_end as u32, as the bench programs read them), the packet at +64.
/// Shared by the <c>interp</c> and <c>compare</c> suites: calibrate once, then time rounds in thread CPU time.
/// </summary>
public sealed unsafe class InterpreterBenchTarget : IDisposable
{
    private readonly Interpreter _interpreter;
    private readonly ExecutionRequest _request;
    private readonly byte* _low;
    private readonly nuint _length;
    private long _batch = 1;

    public string Name { get; }

    private InterpreterBenchTarget(string name, Interpreter interpreter, byte[] input)
    {
        Name = name;
        _interpreter = interpreter;
        _length = (nuint)(64 + input.Length + 4096);
        _low = LowMemory.Allocate(_length);
        byte* packet = _low + 64;
        input.CopyTo(new Span<byte>(packet, input.Length));
        ((uint*)_low)[0] = (uint)(ulong)packet;
        ((uint*)_low)[1] = (uint)((ulong)packet + (ulong)input.Length);
        _request = new ExecutionRequest { R1 = (ulong)_low };
        _request.AddRegion(new MemoryRegion((nuint)_low, 24, MemoryAccess.Read, "xdp_md"));
        _request.AddRegion(new MemoryRegion((nuint)packet, (nuint)input.Length, MemoryAccess.ReadWrite, "packet"));
    }

    /// <summary>Loads NAME's section xdp from <paramref name="benchRoot"/>/build and its packet from inputs/.</summary>
    public static InterpreterBenchTarget Load(string benchRoot, string name, ExecutionMode mode, bool jit = false)
    {
        var elf = ElfFile.Open(Path.Combine(benchRoot, "build", name + ".o"));
        var section = elf.FindSection("xdp") ?? throw new InvalidOperationException($"{name}.o has no xdp section");
        var instructions = InstructionStream.Read(section.Data.Span, $"{name}.o xdp");
        var interpreter = Interpreter.Load(instructions, new InterpreterOptions { Name = name, Mode = mode, Jit = jit });
        if (jit && !interpreter.IsCompiled)
            throw new InvalidOperationException($"{name}: the JIT did not take it: {interpreter.CompileFailure}");
        byte[] input = File.ReadAllBytes(Path.Combine(benchRoot, "inputs", name + ".in"));
        return new InterpreterBenchTarget(name, interpreter, input);
    }

    /// <summary>One run; XDP returns a u32, so callers compare the low half of r0.</summary>
    public ulong Run() => _interpreter.Run(_request);

    /// <summary>Finds a batch of about 10 ms, then warms up (tiering, PGO) for <paramref name="warmMs"/>.</summary>
    public void CalibrateAndWarm(int warmMs = 500)
    {
        _batch = 1;
        while (true)
        {
            long t = Stopwatch.GetTimestamp();
            for (long k = 0; k < _batch; k++)
                Run();
            if (Stopwatch.GetElapsedTime(t).TotalMilliseconds >= 10)
                break;
            _batch *= 2;
        }
        var warm = Stopwatch.StartNew();
        while (warm.ElapsedMilliseconds < warmMs)
            for (long k = 0; k < _batch; k++)
                Run();
    }

    /// <summary>Runs whole batches for about <paramref name="ms"/>: (thread CPU ns per run, wall ns per run).</summary>
    public (double CpuNs, double WallNs) MeasureRound(int ms)
    {
        long runs = 0;
        long start = Stopwatch.GetTimestamp();
        long cpuStart = ThreadCpuClock.Nanoseconds();
        TimeSpan elapsed;
        do
        {
            for (long k = 0; k < _batch; k++)
                Run();
            runs += _batch;
            elapsed = Stopwatch.GetElapsedTime(start);
        } while (elapsed.TotalMilliseconds < ms);
        return ((double)(ThreadCpuClock.Nanoseconds() - cpuStart) / runs, elapsed.TotalNanoseconds / runs);
    }

    public void Dispose() => LowMemory.Free(_low, _length);
}
