using System.Runtime.InteropServices;
using Ebpf.Abi;
using Ebpf.Execution;
using Ebpf.Isa;
using Ebpf.Verification;

namespace Ebpf.Tests.Verification;

/// <summary>
/// Soundness: a program the verifier accepts must run in the checked interpreter without a fault. The conformance
/// suite's programs take r1 = a memory buffer, which is what a BPF_PROG_TYPE_SYSCALL program's context is (a
/// read-write blob the verifier lets the program access at constant offsets anywhere in [0, 65535)). Each is verified
/// as a syscall program and, when accepted, run with r1 = a 65535-byte buffer holding the test's memory (so every
/// access the verifier allowed is in bounds) and the checked interpreter's region checks on. Any fault is a verifier bug.
/// </summary>
public class SoundnessTests(ITestOutputHelper output)
{
    private const int SyscallCtxSize = 65535;

    /// <summary>README's status table: the conformance suite's 313 programs, 292 of them accepted as syscall programs.</summary>
    private const int ConformanceFiles = 313, ConformanceAccepted = 292;

    [Fact]
    public unsafe void Accepted_conformance_programs_run_without_faults()
    {
        string dir = Path.Combine(SharedData.Require("conformance"), "tests");
        int accepted = 0, rejected = 0, files = 0;
        var faults = new List<string>();
        byte* buffer = (byte*)NativeMemory.AllocZeroed(SyscallCtxSize);
        try
        {
            foreach (string path in Directory.EnumerateFiles(dir, "*.data").Order(StringComparer.Ordinal))
            {
                files++;
                var test = ConformanceDataFile.Load(path); // every file of the suite parses (ConformanceSuiteTests); none leaves the count
                var result = Verifier.Verify(new VerifierInput
                {
                    Instructions = test.Instructions, ProgramType = ProgramType.Syscall, Sleepable = true, Name = test.Name,
                });
                if (!result.Accepted) { rejected++; continue; }
                accepted++;
                var span = new Span<byte>(buffer, SyscallCtxSize);
                span.Clear();
                test.Memory.AsSpan(0, Math.Min(test.Memory.Length, SyscallCtxSize)).CopyTo(span);
                try
                {
                    var interpreter = Interpreter.Load(test.Instructions, ConformanceRunner.DefaultOptions(test.Name));
                    var request = new ExecutionRequest { R1 = (ulong)buffer, R2 = (ulong)test.Memory.Length };
                    request.AddRegion(new MemoryRegion((nuint)buffer, SyscallCtxSize, MemoryAccess.ReadWrite, "ctx"));
                    interpreter.Run(request);
                }
                catch (BpfException e)
                {
                    faults.Add($"{test.Name}: {e.Message}");
                }
            }
        }
        finally
        {
            NativeMemory.Free(buffer);
        }
        output.WriteLine($"conformance programs: {accepted} accepted and run, {rejected} rejected, {faults.Count} faults");
        File.WriteAllLines(Path.Combine(Path.GetTempPath(), "ebpf-soundness-conformance.txt"),
            [$"conformance soundness: {accepted} accepted programs run checked (as syscall programs), {rejected} rejected, {faults.Count} faults", .. faults.Select(f => "FAULT " + f)]);
        foreach (var f in faults) output.WriteLine("FAULT " + f);
        // README: "292 run, 0 faults" — exactly, out of the whole suite.
        Assert.Equal(ConformanceFiles, files);
        Assert.Equal(ConformanceAccepted, accepted);
        Assert.Equal(ConformanceFiles - ConformanceAccepted, rejected);
        Assert.True(faults.Count == 0, "accepted programs faulted in the checked interpreter (verifier bugs):\n" + string.Join("\n", faults));
    }
}

/// <summary>
/// Soundness over the corpus: every program our verifier accepts runs in the checked interpreter on packets or contexts
/// fit for its type (<see cref="CorpusSoundnessRun"/>); a fault there is a verifier bug. The report goes to
/// /tmp/ebpf-soundness.txt (runs, inputs, faults, budget exhaustions, helper gaps, not-runnable programs by reason).
/// </summary>
public class CorpusSoundnessTests(ITestOutputHelper output)
{
    /// <summary>
    /// Per-program verifier budget (processed instructions). Programs needing more are rejected and not run, which keeps
    /// the test near a minute in Release; EBPF_SOUNDNESS_BUDGET overrides it (1000000 = the kernel's).
    /// </summary>
    private static readonly int VerifierBudget =
        int.TryParse(Environment.GetEnvironmentVariable("EBPF_SOUNDNESS_BUDGET"), out int b) && b > 0 ? b : 30_000;

    /// <summary>
    /// Faults known at the time they were listed ("file program" → why): the verifier owners fix them and remove the
    /// entry. Any fault not listed here fails the test; a listed program that no longer faults is reported as stale.
    /// </summary>
    private static readonly Dictionary<string, string> KnownVerifierBugs = new(StringComparer.Ordinal)
    {
    };

    /// <summary>README's status table: accepted corpus programs run checked (30,000-insn budget), and the rest.</summary>
    private const int CorpusProgramsRun = 404, CorpusRuns = 2710, CorpusRejected = 67, CorpusNotRunnable = 155;

    [Fact]
    public void Accepted_corpus_programs_run_checked_without_faults()
    {
        string corpus = SharedData.Require("corpus");
        var run = new CorpusSoundnessRun();
        var watch = System.Diagnostics.Stopwatch.StartNew();
        run.Run(Path.Combine(corpus, "objects"), Path.Combine(corpus, "kernel_verdicts.tsv"), VerifierBudget);
        var faulted = run.Faults.Select(f => f.Key).ToHashSet(StringComparer.Ordinal);
        var report = run.Report(VerifierBudget, watch.Elapsed).ToList();
        foreach (var (key, why) in KnownVerifierBugs)
            report.Insert(1, $"  known verifier bug {(faulted.Contains(key) ? "still faults" : "STALE (no fault any more: remove it)")}: {key}: {why}");
        File.WriteAllLines(Path.Combine(Path.GetTempPath(), "ebpf-soundness.txt"), report);
        foreach (var line in report.Take(40)) output.WriteLine(line);

        // The figures README's status table reports, exactly: a program that stops running (or starts) changes them.
        // Programs that cannot run are counted too (by reason in the report), so none leaves the denominator quietly.
        Assert.True(VerifierBudget != 30_000 || (run.ProgramsRun, run.Runs.Count, run.ProgramsRejected, run.NotRun.Count) == (CorpusProgramsRun, CorpusRuns, CorpusRejected, CorpusNotRunnable),
            $"README reports {CorpusProgramsRun} programs run on {CorpusRuns} inputs ({CorpusRejected} rejected at the budget, {CorpusNotRunnable} not runnable); this run: " +
            $"{run.ProgramsRun} on {run.Runs.Count} ({run.ProgramsRejected} rejected, {run.NotRun.Count} not runnable)\n{string.Join("\n", report.Take(30))}");
        Assert.True(run.UncheckedPrograms.Count == 0, "programs ran without the checked interpreter's checks:\n" + string.Join("\n", run.UncheckedPrograms));
        var fresh = run.Faults.Where(f => !KnownVerifierBugs.ContainsKey(f.Key)).ToList();
        Assert.True(fresh.Count == 0, "accepted corpus programs faulted in the checked interpreter (verifier bugs):\n" + string.Join("\n", fresh));
    }
}

/// <summary>The soundness harness must recognise a fault when there is one: it is what makes the corpus test able to fail.</summary>
public class SoundnessClassificationTests
{
    [Fact]
    public void A_checked_memory_fault_is_classified_as_a_fault_and_attributed_to_its_program()
    {
        var rt = new Ebpf.Runtime.BpfRuntime();
        // r0 = *(u64 *)(r10 + 64): above the BPF stack's top, host stack memory no region covers (ctx + 4000 may land
        // in another native allocation); the verifier refuses it, AllowUnverified runs it checked.
        Instruction[] far = [Instruction.LoadMem(AccessSize.DoubleWord, 0, 10, 64), Instruction.Exit()];
        using var prog = rt.LoadProgram(new ProgramDefinition(ProgramType.Xdp, far, "far"),
            options: new ProgramLoadOptions { AllowUnverified = true });
        var e = Assert.Throws<BpfException>(() => rt.TestRun(prog, new TestRunOptions { DataIn = new byte[64] }));

        var (outcome, detail) = CorpusSoundnessRun.Classify(e, new Dictionary<string, bool> { ["far"] = true });
        Assert.Equal(SoundnessOutcome.Fault, outcome);
        Assert.Contains("invalid memory access at insn 0", detail);
        // The same fault inside a program the verifier rejected (reached through a tail call) is not the verifier's.
        Assert.Equal(SoundnessOutcome.RuntimeError, CorpusSoundnessRun.Classify(e, new Dictionary<string, bool> { ["far"] = false }).Item1);
        Assert.Equal(SoundnessOutcome.Budget, CorpusSoundnessRun.Classify(new BpfException(Errno.ETIME, "p: insn 3: instruction budget of 5 exhausted"), new Dictionary<string, bool>()).Item1);
        Assert.Equal(SoundnessOutcome.HelperNotImplemented, CorpusSoundnessRun.Classify(new BpfException(Errno.EINVAL, "p: insn 2: invalid func unknown#34"), new Dictionary<string, bool>()).Item1);
    }

    [Fact]
    public void Soundness_packets_are_well_formed_frames()
    {
        var packets = SoundnessInputs.Packets.ToDictionary(p => p.Name, p => p.Bytes);
        Assert.Equal(14, packets["eth-only"].Length);
        var tcp = packets["ipv4-tcp"];
        Assert.Equal(0x45, tcp[14]);
        Assert.Equal(6, tcp[14 + 9]);
        Assert.Equal(tcp.Length - 14, tcp[14 + 2] << 8 | tcp[14 + 3]); // IPv4 total length
        uint sum = 0;
        for (int i = 0; i < 20; i += 2) sum += (uint)(tcp[14 + i] << 8 | tcp[14 + i + 1]);
        while (sum > 0xffff) sum = (sum & 0xffff) + (sum >> 16);
        Assert.Equal(0xffffu, sum); // the header checksum verifies
        Assert.Equal(0x60, packets["ipv6-tcp"][14] & 0xf0);
        var options = packets["ipv4-options-udp"];
        Assert.Equal(0x46, options[14]); // ihl 6: 4 bytes of options before UDP
        Assert.Equal(4789, options[14 + 24 + 2] << 8 | options[14 + 24 + 3]);
        Assert.Equal(0x0800, packets["vlan-ipv4-tcp"][16] << 8 | packets["vlan-ipv4-tcp"][17]);
        Assert.True(packets["tcp-truncated"].Length < 14 + 20 + 20);
    }
}
