using System.Text;
using Ebpf.Loading;
using Ebpf.Verification;

namespace Ebpf.Tests.Verification;

/// <summary>
/// Every refusal for lack of modelling names the feature ("… is not supported by this verifier: FEATURE"), and the
/// README's verifier status lists each feature with the number of corpus and fixture programs refused for it. This
/// test verifies every program of the corpus (rows with a kernel verdict) and of tests/fixtures, counts the refusals by
/// feature and requires the README's block to say exactly that (EBPF_UPDATE_README=1 rewrites the block).
/// </summary>
public class UnsupportedFeatureCensusTests(ITestOutputHelper output)
{
    private const string Begin = "<!-- unsupported:begin (generated: EBPF_UPDATE_README=1 dotnet test --filter UnsupportedFeatureCensus) -->";
    private const string End = "<!-- unsupported:end -->";

    [Fact]
    public void Unsupported_features_are_named_and_counted_in_the_readme()
    {
        var corpus = new SortedDictionary<string, int>(StringComparer.Ordinal);
        var fixtures = new SortedDictionary<string, int>(StringComparer.Ordinal);
        foreach (string feature in UnsupportedFeatures.All) corpus[feature] = fixtures[feature] = 0;
        string tsv = Path.Combine(SharedData.Require("corpus"), "kernel_verdicts.tsv");
        string objects = SharedData.Require("corpus/objects");
        var rows = File.ReadAllLines(tsv).Skip(1).Select(l => l.Split('\t')).Where(c => c.Length >= 6 && c[5] is "accepted" or "rejected").ToList();
        var cache = new Dictionary<string, ObjectSpec?>();
        foreach (var c in rows)
        {
            if (!cache.TryGetValue(c[0], out var obj))
            {
                try { obj = ObjectSpec.Load(Path.Combine(objects, c[0])); } catch (BpfException) { obj = null; }
                cache[c[0]] = obj;
            }
            var prog = obj?.Programs.FirstOrDefault(p => p.Name == c[2]) ?? obj?.Programs.FirstOrDefault(p => p.SectionName == c[1]);
            if (obj is null || prog is null) continue;
            Ebpf.Tests.Loading.CorpusProgramTypes.GiveTypeIfUntyped(prog, c[3]);
            Count(corpus, obj, prog);
        }
        foreach (string path in Directory.EnumerateFiles(Path.Combine(SharedData.RepoRoot, "tests", "fixtures"), "*.bpf.o", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
        {
            ObjectSpec obj;
            try { obj = ObjectSpec.Load(path); } catch (BpfException) { continue; }
            foreach (var prog in obj.Programs) Count(fixtures, obj, prog);
        }

        var table = new StringBuilder();
        table.Append(Begin).Append('\n');
        table.Append("| Not supported by this verifier | Corpus programs | Fixture programs |\n|---|---|---|\n");
        foreach (string feature in corpus.Keys.Union(fixtures.Keys).Order(StringComparer.Ordinal))
            table.Append($"| {feature} | {corpus.GetValueOrDefault(feature)} | {fixtures.GetValueOrDefault(feature)} |\n");
        table.Append(End);
        string expected = table.ToString();
        output.WriteLine(expected);

        string readmePath = Path.Combine(SharedData.RepoRoot, "README.md");
        string readme = File.ReadAllText(readmePath);
        int b = readme.IndexOf(Begin, StringComparison.Ordinal), e = readme.IndexOf(End, StringComparison.Ordinal);
        Assert.True(b >= 0 && e > b, "README.md has no unsupported-feature block");
        string actual = readme[b..(e + End.Length)];
        if (Environment.GetEnvironmentVariable("EBPF_UPDATE_README") == "1" && actual != expected)
        {
            File.WriteAllText(readmePath, readme[..b] + expected + readme[(e + End.Length)..]);
            actual = expected;
        }
        Assert.Equal(expected, actual);
    }

    [Fact]
    public void A_program_using_an_unmodelled_feature_is_refused_naming_it()
    {
        // bpf_user_ringbuf_drain hands its callback a const dynptr, which is not modelled.
        var result = Verifier.Verify(new VerifierInput
        {
            Instructions = [new Ebpf.Isa.Instruction(Ebpf.Isa.Opcodes.Call, 0, 0, 0, 209), Ebpf.Isa.Instruction.Mov64(0, 0), Ebpf.Isa.Instruction.Exit()],
            ProgramType = Ebpf.Abi.ProgramType.SocketFilter,
            LogLevel = 1,
        });
        Assert.False(result.Accepted);
        Assert.Equal(Errno.ENOTSUPP, result.Errno);
        Assert.Equal("helper bpf_user_ringbuf_drain#209 is not supported by this verifier: dynptr helpers", result.Error);
        Assert.Equal("dynptr helpers", result.UnsupportedFeature);
        // A local dynptr is modelled now: over a stack buffer it gets the kernel's own refusal, naming no feature.
        var obj = ObjectSpec.Load(SharedData.Fixture("verifier/ver17a/unsupported.bpf.o"));
        var local = Verifier.Verify(ProgramSpecInput.Create(obj, obj.FindProgram("dynptr_local")!, logLevel: 1));
        Assert.Equal("Unsupported reg type fp for bpf_dynptr_from_mem data", local.Error);
        Assert.Null(local.UnsupportedFeature);
        // A verdict on the kernel's rules names no feature.
        Assert.Null(Verifier.Verify(new VerifierInput { Instructions = [Ebpf.Isa.Instruction.Exit()], ProgramType = Ebpf.Abi.ProgramType.SocketFilter }).UnsupportedFeature);
    }

    /// <summary>check_struct_ops_btf_id's own ENOTSUPP verdicts (the kernel's, not a feature we lack): no attach_btf_id
    /// (no line), a struct that is no struct_ops type, a member whose cfi stub is NULL.</summary>
    private static bool IsKernelStructOpsRefusal(ProgramSpec prog, VerificationResult result) =>
        prog.Type == Ebpf.Abi.ProgramType.StructOps && result.UnsupportedFeature is null
        && (string.IsNullOrEmpty(result.Error) || result.Error.StartsWith("attach to unsupported member ", StringComparison.Ordinal)
            || result.Error.StartsWith("attach_btf_id ", StringComparison.Ordinal));

    private static void Count(SortedDictionary<string, int> counts, ObjectSpec obj, ProgramSpec prog)
    {
        VerificationResult result;
        try
        {
            result = Verifier.Verify(ProgramSpecInput.Create(obj, prog, logLevel: 0));
        }
        catch (BpfException)
        {
            return; // an object our loader cannot relocate is the loader's refusal, not the verifier's
        }
        // Every ENOTSUPP refusal names its feature the one way.
        if (result.Errno == Errno.ENOTSUPP && !IsKernelStructOpsRefusal(prog, result))
            Assert.True(result.UnsupportedFeature is not null, $"{prog.Name}: ENOTSUPP without a named feature: {result.Error}");
        if (result.UnsupportedFeature is { } feature)
            counts[feature] = counts.GetValueOrDefault(feature) + 1;
    }
}
