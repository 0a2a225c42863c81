using Ebpf.Abi.Profiles;
using Ebpf.Elf;
using Ebpf.Linux;
using Ebpf.Linux.Probes;
using Ebpf.Loading;
using Ebpf.Tests.Linux;
using Ebpf.Verification;

namespace Ebpf.Tests.Differential;

/// <summary>
/// The corpus three ways: the kernel's verdict computed live here (our loader's linked ObjectSpec
/// program loaded by <see cref="BpfCollection"/> with its maps created), the verdict recorded in
/// corpus/kernel_verdicts.tsv (libbpf on the reference machine), and our verifier's.
/// <para>
/// Live verdicts: "accepted"; "rejected" when BPF_PROG_LOAD itself failed (the verifier or the
/// kernel's program checks); "loader-error" when anything before it failed (BTF, map creation, relocation).
/// Objects without a license are loaded as GPL, as the harness that produced the tsv did.
/// </para>
/// Like with like: the live kernel is compared with our verifier under the live kernel's probed profile (asserted);
/// the recording is compared with the live kernel only as a report (kernel builds differ, and this test is not a
/// test of the machine). The recording itself is compared with our verifier under the reference profile,
/// deterministically, by Verification/CorpusAgreementTests.
/// Our verifier runs on every row with a live verdict, with the kernel's own instruction limit (1,000,000): the
/// whole corpus takes it seconds.
/// </summary>
public class CorpusDifferentialTests(ITestOutputHelper output)
{

    /// <summary>BPF_COMPLEXITY_LIMIT_INSNS: our verifier gets exactly the budget the kernel had.</summary>
    private const int OurInstructionBudget = 1_000_000;

    /// <summary>
    /// falco's probe declares its per-CPU scratch maps with max_entries 0 and its loader sizes them to the number of
    /// CPUs before creating them (libbpf refuses a zero-sized map); the harness does what that loader does.
    /// </summary>
    private static void SizeAsTheObjectsOwnLoaderDoes(ObjectSpec spec)
    {
        foreach (var map in spec.Maps)
            if (map.MaxEntries == 0 && map.Name is "frame_scratch_map" or "tmp_scratch_map" or "local_state_map")
                map.MaxEntries = (uint)PossibleCpus.Count;
    }

    [Fact]
    public void Live_kernel_verdicts_against_recorded_verdicts_and_our_verifier()
    {
        KernelRequirement.Require();
        var profile = LiveKernelProfile.Current;
        string tsv = Path.Combine(SharedData.Require("corpus"), "kernel_verdicts.tsv");
        string objects = SharedData.Require("corpus/objects");
        var rows = File.ReadAllLines(tsv).Skip(1).Select(l => l.Split('\t')).Where(c => c.Length >= 6).ToList();

        var cache = new Dictionary<string, (ElfFile Elf, ObjectSpec Spec)?>();
        int liveMatches = 0, liveTotal = 0, explainedByProfiles = 0, oursAgree = 0, oursTotal = 0, oursSkipped = 0, notFound = 0;
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
                    SizeAsTheObjectsOwnLoaderDoes(spec);
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
                    // Each load on a fresh private bpffs: maps pinned by name neither touch the host's /sys/fs/bpf nor
                    // carry over from one object to the next.
                    using var pins = new TemporaryBpfFs();
                    using var collection = LinuxKernel.Load(l.Spec, new ObjectLoadOptions { Elf = l.Elf, PinRoot = pins.Path, ProgramFilter = p => ReferenceEquals(p, prog) });
                    live = "accepted";
                }
                catch (BpfException e)
                {
                    // Rejected = the verifier ran and said no; a refusal before verification (EPERM for a type this kernel
                    // cannot load, no log) is a loader error, as the recording counts it.
                    live = e.Message.Contains("BPF_PROG_LOAD", StringComparison.Ordinal) && !string.IsNullOrWhiteSpace(e.Log) ? "rejected" : "loader-error";
                    liveDetail = ConformanceDifferentialTests.Reason(e);
                }
            }

            liveTotal++;
            if (live == recorded)
                liveMatches++;
            else
            {
                // A difference between two kernels is explained when our verifier, given each kernel's profile, gives each
                // kernel's verdict: the reference profile the recording's, the live profile the live one's.
                string explained = "";
                if (prog is not null && recorded is "accepted" or "rejected" && live is "accepted" or "rejected")
                {
                    var under = Verifier.Verify(ProgramSpecInput.Create(loaded!.Value.Spec, prog, logLevel: 0, profile: KernelProfile.Reference));
                    bool byReference = under.Accepted == (recorded == "accepted");
                    explained = byReference ? " [explained by the profiles]" : " [not explained by the profiles]";
                    if (byReference)
                        explainedByProfiles++;
                }
                liveDiffs.Add($"{file} {name}: recorded {recorded} {(c.Length > 9 ? c[9] : "")} | live {live} {liveDetail}{explained}");
            }

            string ours = "-";
            bool runOurs = prog is not null && live is "accepted" or "rejected";
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
                        Sleepable = input.Sleepable, InstructionLimit = OurInstructionBudget, Profile = profile,
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
        output.WriteLine($"live kernel {profile.KernelRelease} = recorded verdict: {liveMatches}/{liveTotal} = {liveRate:P1} ({notFound} rows our loader could not produce); reported, not asserted; {explainedByProfiles} of the {liveTotal - liveMatches} differences explained by the reference and live profiles");
        output.WriteLine($"our verifier = live kernel: {oursAgree}/{oursTotal} = {oursRate:P1}; false accepts {falseAccepts.Count}, false rejects {falseRejects.Count}; not run {oursSkipped} (no live verdict: the object's maps or BTF could not be loaded)");
        foreach (var d in falseAccepts) output.WriteLine("FALSE ACCEPT " + d);
        foreach (var d in falseRejects) output.WriteLine("FALSE REJECT " + d);
        foreach (var d in liveDiffs) output.WriteLine("LIVE≠RECORDED " + d);
        File.WriteAllLines(Path.Combine(Path.GetTempPath(), "ebpf-corpus-differential.tsv"), ["file\tprogram\trecorded\tlive\tours", .. table]);
        Assert.True(oursTotal > 0, "our verifier ran on no program");
        // Soundness: a program the kernel rejects here must not pass our verifier under that kernel's profile.
        Assert.True(falseAccepts.Count == 0, "our verifier accepts programs the live kernel rejects:\n" + string.Join("\n", falseAccepts));
        Assert.True(falseRejects.Count == 0, "our verifier rejects programs the live kernel accepts:\n" + string.Join("\n", falseRejects));
        Assert.Equal(oursTotal, oursAgree);
    }
}
