using Ebpf.Abi;
using Ebpf.Abi.Contexts;
using Ebpf.Execution;
using Ebpf.Loading;
using Ebpf.Runtime;
using Ebpf.Runtime.ProgramTypes;

namespace Ebpf.Tests.Verification;

/// <summary>What one accepted program did on one input in the checked interpreter.</summary>
public enum SoundnessOutcome
{
    Ran,
    /// <summary>The checked interpreter refused an access (or a helper was handed memory outside every region): a verifier bug.</summary>
    Fault,
    /// <summary>The checked-mode instruction budget ran out: not a fault, but listed.</summary>
    Budget,
    /// <summary>A helper the runtime does not implement: not a fault, counted.</summary>
    HelperNotImplemented,
    /// <summary>Any other error of the runtime (not the verifier's business): counted and listed.</summary>
    RuntimeError,
}

/// <summary>One (program, input) run or one program that could not be run, for the report.</summary>
public sealed record SoundnessRecord(string File, string Program, string Type, string Input, SoundnessOutcome Outcome, string Detail)
{
    public string Key => $"{File} {Program}";
    public override string ToString() => $"{File} {Program} ({Type}) [{Input}] {Outcome}: {Detail}";
}

/// <summary>
/// Loads every corpus object into a fresh managed runtime with every program in the checked interpreter
/// (<see cref="ObjectLoadOptions.AlwaysChecked"/>; rejected programs are loaded too so prog arrays keep their
/// slots, but never run directly) and runs each program the verifier accepted through test_run (skb, xdp,
/// raw_tracepoint) or a runner over a plain-memory ctx (kprobe, tracepoint, perf_event, tracing, cgroup_sock) on
/// several inputs. A fault is attributed to the program it happened in: one inside an unverified tail-call target is
/// not the verifier's fault and is listed as a runtime error.
/// </summary>
public sealed class CorpusSoundnessRun
{
    public List<SoundnessRecord> Runs { get; } = [];
    /// <summary>Programs not run, with the reason class (counted per reason in the report).</summary>
    public List<(string Key, string Reason, string Detail)> NotRun { get; } = [];
    public int ProgramsRun { get; private set; }
    /// <summary>Programs that would have run unchecked (AlwaysChecked ignored): the run would prove nothing about them.</summary>
    public List<string> UncheckedPrograms { get; } = [];
    /// <summary>Wall time per object (load with verification, then the runs): the slowest go into the report.</summary>
    public List<(string File, TimeSpan Elapsed)> ObjectTimes { get; } = [];
    public int ProgramsRejected { get; private set; }

    public IEnumerable<SoundnessRecord> Faults => Runs.Where(r => r.Outcome == SoundnessOutcome.Fault);

    /// <summary>Types run over a plain block of the layout's size: their ctx has no pointer fields the runtime would have to fill.</summary>
    private static readonly HashSet<ProgramType> PlainContextTypes =
        [ProgramType.Kprobe, ProgramType.Tracepoint, ProgramType.PerfEvent, ProgramType.Tracing, ProgramType.CgroupSock];

    public void Run(string objectsRoot, string verdictsTsv, int verifierBudget)
    {
        // The harness that produced the kernel verdicts loaded sections that name no program type with one type per file.
        var typeByFile = File.ReadAllLines(verdictsTsv).Skip(1).Select(l => l.Split('\t')).Where(c => c.Length > 3)
            .GroupBy(c => c[0]).ToDictionary(g => g.Key, g => g.Select(c => c[3]).Distinct().ToArray());
        foreach (string path in SharedData.CorpusObjects())
        {
            string file = Path.GetRelativePath(objectsRoot, path);
            ObjectSpec spec;
            try { spec = ObjectSpec.Load(path); }
            catch (BpfException e) { NotRun.Add((file, "object does not parse", e.Message)); continue; }
            NormaliseEventMaps(spec);
            long start = System.Diagnostics.Stopwatch.GetTimestamp();
            RunObject(file, spec, typeByFile.GetValueOrDefault(file), verifierBudget);
            ObjectTimes.Add((file, System.Diagnostics.Stopwatch.GetElapsedTime(start)));
        }
    }

    private void RunObject(string file, ObjectSpec spec, string[]? kernelTypes, int verifierBudget)
    {
        var runtime = new BpfRuntime();
        var stubsCalled = new SortedSet<int>();
        InstallStubHelpers(runtime, stubsCalled);
        var denials = new List<CheckedHelperAccessDenial>();
        runtime.CheckedHelperAccessDenied += denials.Add;
        // A fresh runtime per object: its pins, maps and ids are its own.
        var options = new ObjectLoadOptions { AllowUnverified = true, AlwaysChecked = true, LogLevel = 0, VerifierInstructionLimit = verifierBudget };
        BpfCollection collection;
        try
        {
            collection = runtime.Load(spec, options);
        }
        catch (BpfException first) when (kernelTypes is [var name] && ParseType(name) is { } type)
        {
            try { collection = runtime.Load(spec, options with { ProgramType = type }); }
            catch (BpfException e) { NotRunObject(file, spec, "object does not load", e); return; }
            _ = first;
        }
        catch (BpfException e)
        {
            NotRunObject(file, spec, "object does not load", e);
            return;
        }
        using (collection)
        {
            // Interpreter names are the (truncated) object names: map them back to their verdicts for fault attribution.
            var verifiedByName = collection.Programs.Values.GroupBy(p => p.Program.Name)
                .ToDictionary(g => g.Key, g => g.All(p => p.Program.Verification?.Accepted == true));
            foreach (var (name, program) in collection.Programs.OrderBy(p => p.Key, StringComparer.Ordinal))
            {
                var prog = program.Program;
                string key = $"{file} {name}";
                if (prog.Verification is not { Accepted: true } verdict)
                {
                    ProgramsRejected++;
                    continue;
                }
                var inputs = InputsFor(prog, out string? whyNot);
                if (inputs is null)
                {
                    NotRun.Add((key, whyNot!, ""));
                    continue;
                }
                ProgramsRun++;
                if (prog.ExecutionMode != ExecutionMode.Checked)
                    UncheckedPrograms.Add(key);
                foreach (var input in inputs)
                {
                    denials.Clear();
                    stubsCalled.Clear();
                    var (outcome, detail) = RunOnce(runtime, program, input, verifiedByName);
                    if (stubsCalled.Count > 0)
                        detail = $"{detail} (stub helpers called: {string.Join(", ", stubsCalled.Select(id => "#" + id))})".TrimStart();
                    foreach (var d in denials)
                    {
                        if (d.Program?.Verification?.Accepted == true)
                            (outcome, detail) = (SoundnessOutcome.Fault, "helper argument: " + d);
                    }
                    Runs.Add(new SoundnessRecord(file, name, prog.Type.ToString(), input.Name, outcome, detail));
                }
            }
        }
    }

    /// <summary>
    /// Helpers the runtime does not implement would end a run at their first call. Their prototypes promise a scalar,
    /// nothing, or a pointer-or-NULL, so "return 0" is one of the behaviours the verifier had to allow for: the stub
    /// lets the run go on past the call without assuming anything the verifier did not.
    /// </summary>
    private static void InstallStubHelpers(BpfRuntime runtime, SortedSet<int> called)
    {
        foreach (var proto in Abi.Helpers.HelperPrototypes.All)
        {
            int id = (int)proto.Id;
            if (runtime.Helpers.Find(id) is not null || !ReturnsZeroSafely(proto.Return))
                continue;
            runtime.Helpers.SetBuiltin(proto.Id, "soundness_stub_" + id, (_, _, _, _, _) =>
            {
                called.Add(id);
                return 0;
            });
        }
    }

    private static bool ReturnsZeroSafely(Abi.Helpers.HelperReturnKind kind) => kind is Abi.Helpers.HelperReturnKind.Integer
        or Abi.Helpers.HelperReturnKind.Void or Abi.Helpers.HelperReturnKind.MapValueOrNull or Abi.Helpers.HelperReturnKind.RingbufMemOrNull
        or Abi.Helpers.HelperReturnKind.SocketOrNull or Abi.Helpers.HelperReturnKind.TcpSockOrNull or Abi.Helpers.HelperReturnKind.SockCommonOrNull
        or Abi.Helpers.HelperReturnKind.BtfIdOrNull or Abi.Helpers.HelperReturnKind.MemOrNull;

    /// <summary>
    /// As the harness that produced the kernel verdicts (and cilium/ebpf) does: perf event arrays get 4-byte keys and
    /// values and, when max_entries is 0, one slot per CPU (libbpf's rule); ring buffers get no key or value size.
    /// </summary>
    private static void NormaliseEventMaps(ObjectSpec spec)
    {
        foreach (var m in spec.Maps)
        {
            if (m.Type == MapType.PerfEventArray)
            {
                m.KeySize = m.ValueSize = 4;
                if (m.MaxEntries == 0)
                    m.MaxEntries = (uint)Environment.ProcessorCount;
            }
            else if (m.Type == MapType.Ringbuf)
                m.KeySize = m.ValueSize = 0;
        }
    }

    private void NotRunObject(string file, ObjectSpec spec, string reason, BpfException e)
    {
        foreach (var p in spec.Programs)
            NotRun.Add(($"{file} {p.Name}", reason, e.Message.Split('\n')[0]));
    }

    private static IReadOnlyList<SoundnessInput>? InputsFor(Ebpf.Runtime.Objects.ProgramObject prog, out string? whyNot)
    {
        whyNot = null;
        switch (prog.TypeInfo.TestRun)
        {
            case TestRunKind.Skb:
            case TestRunKind.Xdp:
                return SoundnessInputs.Packets;
            case TestRunKind.RawTracepoint:
                return SoundnessInputs.Contexts(96);
            case TestRunKind.Syscall:
                return SoundnessInputs.Contexts(4096);
        }
        if (PlainContextTypes.Contains(prog.Type) && ContextLayouts.For(prog.Type, prog.ExpectedAttachType) is { } layout)
            return SoundnessInputs.Contexts(layout.Size);
        whyNot = $"no runtime context for {prog.Type}";
        return null;
    }

    private static unsafe (SoundnessOutcome, string) RunOnce(BpfRuntime runtime, BpfProgram program, SoundnessInput input, Dictionary<string, bool> verifiedByName)
    {
        var prog = program.Program;
        try
        {
            switch (prog.TypeInfo.TestRun)
            {
                case TestRunKind.Skb:
                case TestRunKind.Xdp:
                    runtime.TestRun(program, new TestRunOptions { DataIn = input.Bytes, DataSizeOut = 0 });
                    break;
                case TestRunKind.RawTracepoint:
                case TestRunKind.Syscall:
                    runtime.TestRun(program, new TestRunOptions { ContextIn = input.Bytes });
                    break;
                default:
                    fixed (byte* ctx = input.Bytes.AsSpan().ToArray())
                    {
                        using var runner = program.CreateRunner(input.Bytes.Length);
                        runner.Run((nint)ctx);
                    }
                    break;
            }
            return (SoundnessOutcome.Ran, "");
        }
        catch (BpfException e)
        {
            return Classify(e, verifiedByName);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            return (SoundnessOutcome.RuntimeError, $"{e.GetType().Name}: {e.Message}");
        }
    }

    /// <summary>The checked interpreter's fault messages (InterpreterLoop): memory violations and the structural faults a verified program can never reach.</summary>
    private static readonly string[] FaultMarkers =
    [
        "invalid memory access", "misaligned atomic", "fell off the end", "second half of an ldimm64", "too deep", "callx to",
    ];

    internal static (SoundnessOutcome, string) Classify(BpfException e, IReadOnlyDictionary<string, bool> verifiedByName)
    {
        string message = e.Message.Split('\n')[0];
        if (e.Errno == Errno.ETIME)
            return (SoundnessOutcome.Budget, message);
        if (message.Contains("invalid func unknown#", StringComparison.Ordinal))
            return (SoundnessOutcome.HelperNotImplemented, message);
        if (FaultMarkers.Any(m => message.Contains(m, StringComparison.Ordinal)))
        {
            // "NAME: invalid memory access at insn N: …": the program it happened in may be an unverified tail-call target.
            string where = message[..Math.Max(0, message.IndexOf(':'))];
            if (verifiedByName.TryGetValue(where, out bool verified) && !verified)
                return (SoundnessOutcome.RuntimeError, "fault in an unverified tail-call target: " + message);
            return (SoundnessOutcome.Fault, message);
        }
        return (SoundnessOutcome.RuntimeError, $"{e.Errno}: {message}");
    }

    /// <summary>"sched_cls" → SchedCls (the verdict table's lowercase names).</summary>
    private static ProgramType? ParseType(string name) =>
        Enum.TryParse<ProgramType>(name.Replace("_", "", StringComparison.Ordinal), ignoreCase: true, out var t) && t != ProgramType.Unspec ? t : null;

    /// <summary>The report: counts first, then every fault, budget, helper gap, runtime error and not-run program.</summary>
    public IEnumerable<string> Report(int verifierBudget, TimeSpan elapsed)
    {
        yield return $"corpus soundness: {ProgramsRun} accepted programs run on {Runs.Count} inputs in the checked interpreter; " +
            $"{Faults.Count()} faults; {ProgramsRejected} programs rejected by our verifier (budget {verifierBudget} insns) not run; " +
            $"{NotRun.Count} programs not runnable; {elapsed.TotalSeconds:F1}s";
        foreach (var g in Runs.GroupBy(r => r.Outcome).OrderBy(g => g.Key))
            yield return $"  outcome {g.Key}: {g.Count()} runs over {g.Select(r => r.Key).Distinct().Count()} programs";
        foreach (var g in NotRun.GroupBy(n => n.Reason).OrderByDescending(g => g.Count()))
        {
            yield return $"  not runnable, {g.Key}: {g.Count()}";
            foreach (var d in g.Where(n => n.Detail.Length > 0).GroupBy(n => System.Text.RegularExpressions.Regex.Replace(n.Detail, @"load program \S+ \([^)]*\): ", ""))
                .OrderByDescending(d => d.Count()))
                yield return $"    {d.Count(),4} {d.Key}";
        }
        var stubbed = Runs.Where(r => r.Detail.Contains("stub helpers", StringComparison.Ordinal)).ToList();
        var stubIds = stubbed.SelectMany(r => System.Text.RegularExpressions.Regex.Matches(r.Detail, @"#(\d+)").Select(m => m.Value))
            .GroupBy(id => id).OrderByDescending(g => g.Count()).Select(g => $"{g.Key} in {g.Count()} runs");
        yield return $"  runs that called stub helpers (unimplemented in the runtime, returned 0): {stubbed.Count} over " +
            $"{stubbed.Select(r => r.Key).Distinct().Count()} programs ({string.Join(", ", stubIds)})";
        foreach (var (f, t) in ObjectTimes.OrderByDescending(o => o.Elapsed).Take(10))
            yield return $"  slow object {f}: {t.TotalSeconds:F1}s";
        foreach (var g in Runs.GroupBy(r => r.Type).OrderBy(g => g.Key, StringComparer.Ordinal))
            yield return $"  type {g.Key}: {g.Select(r => r.Key).Distinct().Count()} programs, {g.Count()} runs";
        foreach (var outcome in new[] { SoundnessOutcome.Fault, SoundnessOutcome.Budget, SoundnessOutcome.HelperNotImplemented, SoundnessOutcome.RuntimeError })
            foreach (var r in Runs.Where(r => r.Outcome == outcome))
                yield return r.ToString();
        foreach (var (key, reason, detail) in NotRun)
            yield return $"NOT RUN {key}: {reason}{(detail.Length > 0 ? ": " + detail : "")}";
    }
}
