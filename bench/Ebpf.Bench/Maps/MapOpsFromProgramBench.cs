using System.Globalization;
using Ebpf.Abi;
using Ebpf.Isa;
using Ebpf.Linux;
using Ebpf.Linux.Probes;
using Ebpf.Runtime;
using Ebpf.Runtime.Objects;
using static Ebpf.Isa.Instruction;

namespace Ebpf.Bench.Maps;

/// <summary>
/// `mapops`: map lookups and updates made by a BPF program, ns per operation, in our runtime (JIT, map calls bound
/// to their map; and the interpreter) and in the running kernel, side by side. One XDP program per (map type,
/// operation) runs a bounded loop of <see cref="Iterations"/> operations over keys 0..1023 of a map holding all of
/// them; both sides run it through BPF_PROG_TEST_RUN with repeat and report test_run's own per-run duration,
/// divided by the loop count (the loop's own few instructions are included, as they are in the kernel's figure).
/// Rounds are interleaved. Args: [--rounds N] [--repeat N].
/// </summary>
public sealed class MapOpsFromProgramBench : IBenchSuite
{
    private const int Iterations = 256;
    private const uint Keys = 1024;

    public string Name => "mapops";
    public string Description => "map lookup/update ns per op from a BPF program: our JIT, our interpreter, the kernel (test_run)";

    public int Run(string[] args)
    {
        int rounds = 7;
        uint repeat = 2000;
        for (int i = 0; i < args.Length; i++)
        {
            if (args[i] == "--rounds" && i + 1 < args.Length) rounds = int.Parse(args[++i], CultureInfo.InvariantCulture);
            else if (args[i] == "--repeat" && i + 1 < args.Length) repeat = uint.Parse(args[++i], CultureInfo.InvariantCulture);
        }
        bool kernel = KernelFeatures.Bpf.Supported;
        if (!kernel)
            Console.Error.WriteLine($"mapops: bpf(2) not usable ({KernelFeatures.Bpf.Detail}): kernel column left out");

        var jit = new BpfRuntime();
        var interpreter = new BpfRuntime { JitEnabled = false };
        Console.WriteLine($"mapops: {Iterations} ops per run, keys 0..{Keys - 1}, value 8 bytes; median of {rounds} rounds of {repeat} runs; ns per op");
        Console.WriteLine($"{"map",-9} {"op",-7} {"JIT",8} {"interp",8} {"kernel",8} {"JIT/kernel",11}");
        foreach (var type in new[] { MapType.Array, MapType.Hash, MapType.LruHash })
        {
            foreach (bool update in new[] { false, true })
            {
                using var ours = Side.Managed(jit, type, update);
                using var slow = Side.Managed(interpreter, type, update);
                using var theirs = kernel ? Side.Kernel(type, update) : null;
                var (a, b, c) = (new List<double>(), new List<double>(), new List<double>());
                for (int r = 0; r < rounds + 1; r++)
                {
                    double x = ours.NsPerRun(repeat), y = slow.NsPerRun(repeat / 10), z = theirs?.NsPerRun(repeat) ?? double.NaN;
                    if (r == 0) continue; // warm-up round (JIT tiering, caches)
                    a.Add(x / Iterations); b.Add(y / Iterations); c.Add(z / Iterations);
                }
                double ja = Median(a), ib = Median(b), kc = Median(c);
                Console.WriteLine($"{MapName(type),-9} {(update ? "update" : "lookup"),-7} {ja,8:F1} {ib,8:F1} {kc,8:F1} {ja / kc,10:F2}×  {ours.Describe()}");
            }
        }
        return 0;
    }

    private static string MapName(MapType type) => type switch { MapType.LruHash => "lru_hash", _ => type.ToString().ToLowerInvariant() };

    private static double Median(List<double> xs)
    {
        xs.Sort();
        return xs.Count == 0 ? double.NaN : xs[xs.Count / 2];
    }

    /// <summary>
    /// for (i = 0; i &lt; Iterations; i++) { key = i &amp; 1023; lookup(map, &amp;key) | update(map, &amp;key, &amp;value, BPF_ANY); }
    /// <paramref name="mapRef"/> is the program's lddw of the map (a map index for the runtime, an fd for the kernel).
    /// </summary>
    private static Instruction[] LoopProgram((Instruction, Instruction) mapRef, bool update)
    {
        var (m1, m2) = mapRef;
        var body = new List<Instruction>
        {
            Mov64Reg(7, 6), Alu64(AluOperation.And, 7, (int)Keys - 1),
            StoreMem(AccessSize.Word, 10, 7, -4),
            m1, m2,
            Mov64Reg(2, 10), Alu64(AluOperation.Add, 2, -4),
        };
        if (update)
            body.AddRange([Mov64Reg(3, 10), Alu64(AluOperation.Add, 3, -16), Mov64(4, 0), CallHelper(2)]);
        else
            body.Add(CallHelper(1));
        body.Add(Alu64(AluOperation.Add, 6, 1));
        body.Add(Jump(JumpOperation.Jlt, 6, Iterations, (short)-(body.Count + 1)));
        return
        [
            StoreImm(AccessSize.DoubleWord, 10, -16, 1),
            Mov64(6, 0),
            .. body,
            Mov64(0, 2),
            Exit(),
        ];
    }

    private static readonly byte[] Packet = new byte[64];

    private abstract class Side : IDisposable
    {
        public abstract double NsPerRun(uint repeat);
        public abstract void Dispose();
        public virtual string Describe() => "";

        public static Side Managed(BpfRuntime rt, MapType type, bool update) => new ManagedSide(rt, type, update);
        public static Side Kernel(MapType type, bool update) => new KernelSide(type, update);
    }

    private sealed class ManagedSide : Side
    {
        private readonly BpfRuntime _rt;
        private readonly BpfMap _map;
        private readonly BpfProgram _prog;

        public ManagedSide(BpfRuntime rt, MapType type, bool update)
        {
            _rt = rt;
            _map = rt.CreateMap(new MapDefinition(type, 4, 8, Keys, Name: "bench"));
            for (uint k = 0; k < Keys; k++)
                _map.Update(k, (ulong)k);
            _prog = rt.LoadProgram(new ProgramDefinition(ProgramType.Xdp, LoopProgram(LoadImm64(1, 0, LoadImm64Source.MapIndex), update), "mapops"), [_map]);
        }

        public override string Describe() =>
            _prog.Program.IsJitCompiled ? $"(JIT, {_prog.Program.JitBoundMapCalls} bound call)" : $"({_prog.Program.ExecutionMode}: {_prog.Program.JitFailure ?? _prog.Program.ExecutionModeReason})";

        public override double NsPerRun(uint repeat) =>
            _rt.TestRun(_prog, new TestRunOptions { DataIn = Packet, Repeat = Math.Max(1, repeat) }).Duration;

        public override void Dispose()
        {
            _prog.Dispose();
            _map.Dispose();
        }
    }

    private sealed class KernelSide : Side
    {
        private readonly KernelMap _map;
        private readonly KernelProgram _prog;

        public KernelSide(MapType type, bool update)
        {
            _map = KernelMap.Create(new MapCreateAttributes { Type = type, KeySize = 4, ValueSize = 8, MaxEntries = Keys, Name = "bench" });
            for (uint k = 0; k < Keys; k++)
                _map.Update(BitConverter.GetBytes(k), BitConverter.GetBytes((ulong)k));
            int fd = (int)_map.Fd.DangerousGetHandle();
            _prog = KernelProgram.Load(new ProgramLoadAttributes
            {
                Type = ProgramType.Xdp,
                Instructions = LoopProgram(LoadImm64(1, fd, LoadImm64Source.MapFd), update),
                Name = "mapops",
            });
        }

        public override double NsPerRun(uint repeat) =>
            _prog.TestRun(new TestRunOptions { DataIn = Packet, Repeat = repeat, DataSizeOut = 0 }).Duration;

        public override void Dispose()
        {
            _prog.Dispose();
            _map.Dispose();
        }
    }
}
