using Ebpf.Elf;
using Ebpf.Linux;
using Ebpf.Linux.Collections;
using Ebpf.Loading;
using Ebpf.Tests.Linux;
using Ebpf.Verification;

namespace Ebpf.Tests.Differential;

/// <summary>
/// The corpus three ways: the kernel's verdict computed live here (our loader's linked ObjectSpec
/// program loaded by <see cref="LinuxCollection"/> with its maps created), the verdict recorded in
/// corpus/kernel_verdicts.tsv (libbpf on the reference machine), and our verifier's.
/// <para>
/// Live verdicts: "accepted"; "rejected" when BPF_PROG_LOAD itself failed (the verifier or the
/// kernel's program checks); "loader-error" when anything before it failed (BTF, map creation, relocation).
/// Objects without a license are loaded as GPL, as the harness that produced the tsv did.
/// </para>
/// Our verifier runs by default on the programs the kernel verified in ≤ 4000 processed instructions
/// (like Verification/CorpusAgreementTests; the rest take our verifier minutes): set
/// EBPF_DIFF_CORPUS=all to run it on every row (slow: tens of minutes).
/// </summary>
public class CorpusDifferentialTests(ITestOutputHelper output)
{
    /// <summary>Live kernel vs kernel_verdicts.tsv, measured when written; see the output for the rows that differ.</summary>
    private const double LiveMatchesRecordedFloor = 0.95;

    /// <summary>Our verifier vs the live kernel, on the rows both reached a verdict for.</summary>
    private const double OursMatchesLiveFloor = 0.92;

    private const int DefaultMaxKernelProcessed = 4000;
    private const int OurInstructionBudget = 50_000;

    [Fact]
    public void Live_kernel_verdicts_against_recorded_verdicts_and_our_verifier()
    {
        KernelRequirement.Require();
        string tsv = Path.Combine(SharedData.Require("corpus"), "kernel_verdicts.tsv");
        string objects = SharedData.Require("corpus/objects");
        bool all = Environment.GetEnvironmentVariable("EBPF_DIFF_CORPUS") == "all";
        var rows = File.ReadAllLines(tsv).Skip(1).Select(l => l.Split('\t')).Where(c => c.Length >= 6).ToList();

        var cache = new Dictionary<string, (ElfFile Elf, ObjectSpec Spec)?>();
        int liveMatches = 0, liveTotal = 0, oursAgree = 0, oursTotal = 0, oursSkipped = 0, notFound = 0, coreRefused = 0;
        var liveDiffs = new List<string>();
        var falseAccepts = new List<string>();
        var falseRejects = new List<string>();
        var table = new List<string>();
        foreach (var c in rows)
        {
            string file = c[0], section = c[1], name = c[2], recorded = c[5];
            if (!cache.TryGetValue(file, out var loaded))
            {
                try
                {
                    var elf = ElfFile.Open(Path.Combine(objects, file));
                    var spec = ObjectSpec.Parse(elf.Image, file);
                    spec.Name = ObjectSpec.ObjectNameFromPath(file);
                    if (string.IsNullOrEmpty(spec.License))
                        spec.License = "GPL";
                    loaded = (elf, spec);
                }
                catch (BpfException)
                {
                    loaded = null;
                }
                cache[file] = loaded;
            }
            var prog = loaded?.Spec.Programs.FirstOrDefault(p => p.Name == name) ?? loaded?.Spec.Programs.FirstOrDefault(p => p.SectionName == section);
            string live, liveDetail = "";
            if (loaded is not { } l || prog is null)
            {
                live = "loader-error";
                liveDetail = loaded is null ? "our loader refused the object" : "program not found";
                notFound++;
            }
            else
            {
                Loading.CorpusProgramTypes.GiveTypeIfUntyped(prog, c[3]);
                try
                {
                    using var collection = LinuxCollection.Load(l.Spec, new LinuxCollectionOptions { Elf = l.Elf, ProgramFilter = p => ReferenceEquals(p, prog) });
                    live = "accepted";
                }
                catch (BpfException e) when (e.Errno == Errno.EOPNOTSUPP && prog.CoreRelocations.Count > 0)
                {
                    // CO-RE is not applied yet: our loader refuses the program before the kernel sees it.
                    live = "refused-core";
                    coreRefused++;
                }
                catch (BpfException e)
                {
                    live = e.Message.Contains("BPF_PROG_LOAD", StringComparison.Ordinal) ? "rejected" : "loader-error";
                    liveDetail = ConformanceDifferentialTests.Reason(e);
                }
            }

            if (live == "refused-core")
            {
                table.Add($"{file}\t{name}\t{recorded}\t{live}\t-");
                continue;
            }
            liveTotal++;
            if (live == recorded)
                liveMatches++;
            else
                liveDiffs.Add($"{file} {name}: recorded {recorded} {(c.Length > 9 ? c[9] : "")} | live {live} {liveDetail}");

            string ours = "-";
            bool runOurs = prog is not null && live is "accepted" or "rejected"
                && (all || (int.TryParse(c.Length > 6 ? c[6] : "", out int processed) && processed <= DefaultMaxKernelProcessed) || live == "rejected" && recorded == "rejected");
            if (!runOurs)
                oursSkipped++;
            else
            {
                var input = ProgramSpecInput.Create(loaded!.Value.Spec, prog!, logLevel: 0);
                try
                {
                    var result = Verifier.Verify(new VerifierInput
                    {
                        Instructions = input.Instructions, ProgramType = input.ProgramType, ExpectedAttachType = input.ExpectedAttachType,
                        MapsByIndex = input.MapsByIndex, Functions = input.Functions, GplCompatible = true,
                        Sleepable = input.Sleepable, InstructionLimit = OurInstructionBudget,
                    });
                    ours = result.Accepted ? "accepted" : "rejected";
                    oursTotal++;
                    if ((live == "accepted") == result.Accepted)
                        oursAgree++;
                    else if (result.Accepted)
                        falseAccepts.Add($"{file} {name}: live kernel {liveDetail}");
                    else
                        falseRejects.Add($"{file} {name}: ours {result.Error?.Split('\n')[0]} @{result.ErrorInstruction}");
                }
                catch (OperationCanceledException)
                {
                    ours = "over-budget";
                    oursTotal++;
                    falseRejects.Add($"{file} {name}: ours over the {OurInstructionBudget} budget");
                }
            }
            table.Add($"{file}\t{name}\t{recorded}\t{live}\t{ours}");
        }

        double liveRate = (double)liveMatches / Math.Max(1, liveTotal);
        double oursRate = (double)oursAgree / Math.Max(1, oursTotal);
        output.WriteLine($"live kernel = recorded verdict: {liveMatches}/{liveTotal} = {liveRate:P1} ({notFound} rows our loader could not produce, {coreRefused} refused for CO-RE relocations)");
        output.WriteLine($"our verifier = live kernel: {oursAgree}/{oursTotal} = {oursRate:P1}; false accepts {falseAccepts.Count}, false rejects {falseRejects.Count}; not run {oursSkipped}{(all ? "" : $" (kernel processed > {DefaultMaxKernelProcessed} or no live verdict; EBPF_DIFF_CORPUS=all runs them)")}");
        foreach (var d in falseAccepts) output.WriteLine("FALSE ACCEPT " + d);
        foreach (var d in falseRejects) output.WriteLine("FALSE REJECT " + d);
        foreach (var d in liveDiffs) output.WriteLine("LIVE≠RECORDED " + d);
        File.WriteAllLines(Path.Combine(Path.GetTempPath(), "ebpf-corpus-differential.tsv"), ["file\tprogram\trecorded\tlive\tours", .. table]);
        Assert.True(liveRate >= LiveMatchesRecordedFloor, $"live kernel verdicts match the recorded ones for only {liveRate:P1}");
        Assert.True(oursTotal > 0, "our verifier ran on no program");
        Assert.True(oursRate >= OursMatchesLiveFloor, $"our verifier agrees with the live kernel on only {oursRate:P1}");
        // Soundness: a program the kernel rejects here must not pass our verifier.
        Assert.True(falseAccepts.Count == 0, "our verifier accepts programs the live kernel rejects:\n" + string.Join("\n", falseAccepts));
    }
}
