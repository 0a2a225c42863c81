using System.Text;
using Ebpf.Abi;
using Ebpf.Execution;
using Ebpf.Isa;
using Ebpf.Runtime;
using Ebpf.Runtime.Objects;
using Ebpf.Verification;

namespace Ebpf.Tests.Runtime.Robustness;

/// <summary>
/// "Nothing a program does can crash the host": a fixed-seed stream of dangerous random programs (and of
/// mutated conformance programs) goes through every entry point — the verifier at log levels 0, 1 and 2,
/// verified and unverified loads, JIT on and off, unchecked, always-checked and checked runs, test_run.
/// Every outcome must be a result or a <see cref="BpfException"/>; any other exception is a defect, and a
/// process abort fails the run by definition. The stream is bounded (a few thousand programs, small
/// instruction budgets), so it is quick; its seed is fixed, so the programs' shapes repeat (the live map
/// handles it embeds depend on what ran before in the process, so every failure prints its program).
/// </summary>
public class RandomProgramStreamTests(ITestOutputHelper output)
{
    private const int Seed = 12;

    /// <summary>4000 in the suite; <c>EBPF_ROBUSTNESS_PROGRAMS=100000</c> makes the long run (the README's figure).</summary>
    private static readonly int RandomPrograms =
        int.TryParse(Environment.GetEnvironmentVariable("EBPF_ROBUSTNESS_PROGRAMS"), out int n) && n > 0 ? n : 4000;
    private const int MutantsPerConformanceTest = 6;

    private static readonly ProgramType[] Types = [ProgramType.Xdp, ProgramType.SchedCls, ProgramType.SocketFilter];

    [Fact]
    public void Random_dangerous_programs_end_in_a_result_or_a_BpfException()
    {
        // One runtime per program type: a prog array belongs to one type, and every program uses every map.
        var compiled = Types.Select(t => new Harness(t, jit: true)).ToArray();
        var interpreted = Types.Select(t => new Harness(t, jit: false)).ToArray();
        var generator = new DangerousProgramGenerator(Seed, compiled[0].Maps.Count, compiled[0].HelperIds, compiled[0].InterestingValues);
        var failures = new List<string>();
        var counts = new OutcomeCounts();
        try
        {
            for (int i = 0; i < RandomPrograms; i++)
            {
                var program = generator.Next();
                compiled[i % Types.Length].RunEverything(program, $"random #{i}", failures, counts, verifierLogLevel: i % 3);
                interpreted[i % Types.Length].RunEverything(program, $"random #{i} (no JIT)", failures, counts, verifierLogLevel: -1);
            }
        }
        finally
        {
            foreach (var h in compiled.Concat(interpreted))
                h.Dispose();
        }
        output.WriteLine($"{RandomPrograms} programs: {counts}");
        Assert.True(failures.Count == 0, Summarize(failures));
        // The stream must reach the interesting places, or it proves nothing.
        Assert.True(counts.VerifiedRuns > 400, counts.ToString());
        Assert.True(counts.CheckedRuns > 2000, counts.ToString());
        Assert.True(counts.CheckedFaults > 500, counts.ToString());
    }

    [Fact]
    public void Mutated_conformance_programs_end_in_a_result_or_a_BpfException()
    {
        string directory = SharedData.Require(Path.Combine("conformance", "tests"));
        using var harness = new Harness(ProgramType.Xdp, jit: true);
        var generator = new DangerousProgramGenerator(Seed, harness.Maps.Count, harness.HelperIds, harness.InterestingValues);
        var random = generator.Random;
        var failures = new List<string>();
        var counts = new OutcomeCounts();
        foreach (string path in Directory.GetFiles(directory, "*.data").Order(StringComparer.Ordinal))
        {
            var test = ConformanceDataFile.Load(path); // every file of the suite parses: none leaves the stream
            for (int m = 0; m < MutantsPerConformanceTest; m++)
            {
                var mutant = Mutate(test.Instructions, random, generator);
                string where = $"{Path.GetFileName(path)} mutant {m}";
                harness.RunEverything(mutant, where, failures, counts, verifierLogLevel: m % 3);
                RunConformanceStyle(mutant, test.Memory, where, failures);
            }
        }
        Assert.True(failures.Count == 0, Summarize(failures));
        Assert.True(counts.CheckedRuns > 300, counts.ToString());
    }

    /// <summary>A few changes to a copy: a field of a random slot rewritten, or a dangerous piece spliced in.</summary>
    private static Instruction[] Mutate(Instruction[] original, Random random, DangerousProgramGenerator generator)
    {
        var code = original.ToList();
        int changes = random.Next(1, 4);
        for (int c = 0; c < changes && code.Count > 0; c++)
        {
            int at = random.Next(code.Count);
            var insn = code[at];
            code[at] = random.Next(5) switch
            {
                0 => new Instruction((byte)random.Next(256), insn.Dst, insn.Src, insn.Offset, insn.Imm),
                1 => new Instruction(insn.Opcode, (byte)random.Next(12), (byte)random.Next(12), insn.Offset, insn.Imm),
                2 => new Instruction(insn.Opcode, insn.Dst, insn.Src, (short)random.Next(-600, 600), insn.Imm),
                3 => new Instruction(insn.Opcode, insn.Dst, insn.Src, insn.Offset, random.Next()),
                _ => insn,
            };
            if (random.Next(3) == 0)
                code.InsertRange(random.Next(code.Count + 1), generator.Next().SkipLast(2));
        }
        return code.ToArray();
    }

    /// <summary>The conformance runner's own path: the interpreter, checked, with the test's memory as the only region.</summary>
    private static void RunConformanceStyle(Instruction[] program, byte[] memory, string where, List<string> failures)
    {
        try
        {
            var options = ConformanceRunner.DefaultOptions(where);
            ConformanceRunner.Execute(program, memory, new InterpreterOptions
            {
                Name = options.Name, Mode = ExecutionMode.Checked, Helpers = options.Helpers, Validation = options.Validation,
                InstructionBudget = 10_000,
            });
        }
        catch (BpfException)
        {
        }
        catch (Exception e)
        {
            failures.Add(Describe(where + " (conformance runner)", program, e));
        }
    }

    /// <summary>One example per distinct defect (exception type and throwing frame), with how often it happened.</summary>
    private static string Summarize(List<string> failures) =>
        $"{failures.Count} failures\n" + string.Join("\n\n", failures
            .GroupBy(f => Signature(f))
            .Select(g => $"[{g.Count()}x] {g.First()}"));

    private static string Signature(string failure)
    {
        int type = failure.IndexOf(": ", StringComparison.Ordinal);
        int at = failure.IndexOf("   at ", StringComparison.Ordinal);
        string exception = failure[(type + 2)..failure.IndexOf(':', type + 2)];
        if (at < 0)
            return exception;
        int end = failure.IndexOf('\n', at);
        return exception + (end < 0 ? failure[at..] : failure[at..end]);
    }

    internal static string Describe(string where, IReadOnlyList<Instruction> program, Exception e)
    {
        var text = new StringBuilder($"{where}: {e.GetType().Name}: {e.Message}\n");
        for (int pc = 0; pc < program.Count; pc++)
            text.Append($"  {pc,3}: {program[pc]}\n");
        text.Append(e.StackTrace);
        return text.ToString();
    }

    private sealed class OutcomeCounts
    {
        public int VerifiedRuns;
        public int CheckedRuns;
        public int CheckedFaults;

        public override string ToString() => $"verified runs {VerifiedRuns}, checked runs {CheckedRuns}, checked faults {CheckedFaults}";
    }

    /// <summary>A runtime with one map of each kind the helpers care about, and the entry points to drive.</summary>
    private sealed class Harness : IDisposable
    {
        private readonly BpfRuntime _runtime;
        private readonly List<BpfMap> _maps = [];
        private readonly BpfProgram _tailTarget;

        private readonly ProgramType _type;

        public Harness(ProgramType type, bool jit)
        {
            _type = type;
            _runtime = new BpfRuntime { JitEnabled = jit };
            var inner = Add(new MapDefinition(MapType.Array, 4, 8, 2, Name: "inner"));
            Add(new MapDefinition(MapType.Array, 4, 16, 4, Name: "array"));
            Add(new MapDefinition(MapType.Hash, 4, 8, 8, Name: "hash"));
            Add(new MapDefinition(MapType.PercpuArray, 4, 8, 2, Name: "percpu"));
            Add(new MapDefinition(MapType.Ringbuf, 0, 0, 4096, Name: "ring"));
            Add(new MapDefinition(MapType.Queue, 0, 8, 4, Name: "queue"));
            var progs = Add(new MapDefinition(MapType.ProgArray, 4, 4, 4, Name: "progs"));
            var outer = Add(new MapDefinition(MapType.ArrayOfMaps, 4, 4, 2, Name: "outer", InnerMapId: inner.Map.Id));
            outer.Map.Maps!.Update(BitConverter.GetBytes(0), BitConverter.GetBytes(inner.Map.Id));
            Add(new MapDefinition(MapType.PerfEventArray, 4, 4, 2, Name: "perf"));
            _tailTarget = _runtime.LoadProgram(new ProgramDefinition(type, [Instruction.Mov64(0, 2), Instruction.Exit()], "tail"));
            progs.Map.ProgramSlots!.Set(0, _tailTarget.Program);
            HelperIds = _runtime.Helpers.All.Select(h => h.Id).Order().ToArray();
            var values = new List<ulong>();
            foreach (var map in _maps)
            {
                values.Add((ulong)map.Map.NativeHandle);
                if (map.Map.Maps is { } storage)
                    values.Add((ulong)storage.NativeHandle);
            }
            InterestingValues = values;
        }

        public IReadOnlyList<BpfMap> Maps => _maps;
        public IReadOnlyList<int> HelperIds { get; }
        public IReadOnlyList<ulong> InterestingValues { get; }

        private BpfMap Add(MapDefinition definition)
        {
            var map = _runtime.CreateMap(definition);
            _maps.Add(map);
            return map;
        }

        /// <summary>The verifier (when <paramref name="verifierLogLevel"/> ≥ 0), then verified, always-checked and unverified loads and runs.</summary>
        public void RunEverything(Instruction[] program, string where, List<string> failures, OutcomeCounts counts, int verifierLogLevel)
        {
            if (verifierLogLevel >= 0)
                Guard(where + $" (Verifier.Verify, log level {verifierLogLevel})", program, failures, () => Verifier.Verify(new VerifierInput
                {
                    Instructions = program,
                    ProgramType = _type,
                    Name = "fuzz",
                    LogLevel = verifierLogLevel,
                    InstructionLimit = 20_000,
                    MapsByIndex = _maps.Select(m => (IVerifierMapInfo)new MapVerifierInfo(m.Map)).ToArray(),
                }));
            Guard(where + " (verified load)", program, failures, () =>
            {
                using var loaded = Load(program, unverified: false, alwaysChecked: false);
                counts.VerifiedRuns++;
                Run(loaded, counts);
            });
            Guard(where + " (verified, always checked)", program, failures, () =>
            {
                using var loaded = Load(program, unverified: false, alwaysChecked: true);
                Run(loaded, counts);
            });
            Guard(where + " (unverified load)", program, failures, () =>
            {
                using var loaded = Load(program, unverified: true, alwaysChecked: false);
                counts.CheckedRuns++;
                try
                {
                    Run(loaded, counts);
                }
                catch (BpfException)
                {
                    counts.CheckedFaults++;
                    throw;
                }
            });
        }

        private BpfProgram Load(Instruction[] program, bool unverified, bool alwaysChecked) =>
            _runtime.LoadProgram(new ProgramDefinition(_type, program, "fuzz"), _maps, options: new ProgramLoadOptions
            {
                AllowUnverified = unverified,
                AlwaysChecked = alwaysChecked,
                VerifierInstructionLimit = 20_000,
                CheckedInstructionBudget = 10_000,
                LogLevel = 0,
            });

        private void Run(BpfProgram program, OutcomeCounts counts) =>
            _runtime.TestRun(program, new TestRunOptions { DataIn = new byte[64] });

        private static void Guard(string where, Instruction[] program, List<string> failures, Action action)
        {
            try
            {
                action();
            }
            catch (BpfException)
            {
            }
            catch (Exception e)
            {
                failures.Add(Describe(where, program, e));
            }
        }

        public void Dispose()
        {
            _tailTarget.Dispose();
            foreach (var map in _maps)
                map.Dispose();
        }
    }
}
