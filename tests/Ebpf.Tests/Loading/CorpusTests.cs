using Ebpf.Abi;
using Ebpf.Loading;

namespace Ebpf.Tests.Loading;

/// <summary>
/// The object corpus against the kernel's verdicts: every program the kernel saw must be in our program list with
/// the same type and the same instruction count after linking; malformed objects open or fail cleanly.
/// </summary>
public sealed class CorpusTests(ITestOutputHelper output)
{
    private sealed record Row(string File, string Section, string Program, string ProgType, int? InsnCount, string Verdict, string Reason);

    private static List<Row> ReadVerdicts()
    {
        string path = SharedData.Require("corpus/kernel_verdicts.tsv");
        var rows = new List<Row>();
        foreach (var line in File.ReadLines(path).Skip(1))
        {
            var f = line.Split('\t');
            Assert.True(f.Length >= 9, $"kernel_verdicts.tsv: malformed row (every row counts): {line}");
            rows.Add(new Row(f[0], f[1], f[2], f[3], int.TryParse(f[4], out int n) ? n : null, f[5], f[8]));
        }
        return rows;
    }

    private static readonly Dictionary<string, ProgramType> TypeByName = Enum.GetValues<ProgramType>()
        .ToDictionary(t => ToSnake(t), t => t);

    private static string ToSnake(ProgramType t) => t == ProgramType.LwtSeg6Local ? "lwt_seg6local"
        : string.Concat(t.ToString().Select((c, i) => char.IsUpper(c) && i > 0 ? "_" + char.ToLowerInvariant(c) : char.ToLowerInvariant(c).ToString()));

    [Fact]
    public void EveryProgramTheKernelSawIsListedWithItsLinkedInstructionCountAndType()
    {
        string root = SharedData.Require("corpus/objects");
        var rows = ReadVerdicts();
        var specs = new Dictionary<string, ObjectSpec?>();
        var openErrors = new Dictionary<string, string>();
        int considered = 0, listed = 0, countMatch = 0, countCompared = 0, typeMatch = 0, explicitType = 0;
        var failures = new List<string>();
        foreach (var row in rows)
        {
            bool kernelSaw = row.Verdict is "accepted" or "rejected" || (row.Verdict == "loader-error" && row.InsnCount is not null);
            if (!kernelSaw)
                continue;
            considered++;
            if (!specs.TryGetValue(row.File, out var spec))
            {
                try
                {
                    spec = ObjectSpec.Load(Path.Combine(root, row.File));
                }
                catch (BpfException e)
                {
                    spec = null;
                    openErrors[row.File] = e.Message;
                }
                specs[row.File] = spec;
            }
            if (spec is null)
            {
                failures.Add($"{row.File}: does not open: {openErrors[row.File]}");
                failures = [.. failures.Distinct()];
                continue;
            }
            var prog = spec.Programs.FirstOrDefault(p => p.Name == row.Program && p.SectionName == row.Section);
            if (prog is null)
            {
                failures.Add($"{row.File}: program {row.Program} ({row.Section}) missing; have {string.Join(", ", spec.Programs.Select(p => p.Name + "@" + p.SectionName))}");
                continue;
            }
            listed++;
            prog.EnsureResolved();
            if (row.InsnCount is { } expected)
            {
                countCompared++;
                if (prog.Instructions.Length == expected)
                    countMatch++;
                else
                    failures.Add($"{row.File}: {row.Program}: {prog.Instructions.Length} insns, kernel got {expected}");
            }
            bool known = TypeByName.TryGetValue(row.ProgType, out var type);
            if (known && type == prog.Type)
                typeMatch++;
            else if (known && prog.Type == ProgramType.Unspec)
                explicitType++; // a section libbpf has no rule for: its loader was given the type (the tsv's prog_type)
            else
                failures.Add($"{row.File}: {row.Program} ({row.Section}): type {prog.Type}, kernel got {row.ProgType}");
        }
        output.WriteLine($"programs the kernel saw: {considered}; listed: {listed}; insn count equal: {countMatch}/{countCompared}; type equal: {typeMatch}/{considered}; untyped sections given their type explicitly: {explicitType}");
        foreach (var f in failures.Take(60))
            output.WriteLine(f);
        // README's status table: 592/592 (program lists, linked instruction counts, types vs the kernel's view).
        Assert.True((considered, listed, countMatch) == (592, 592, countCompared), $"README claims 592/592; this run: {listed} listed of {considered}, {countMatch}/{countCompared} counts equal");
        Assert.Empty(failures);
    }

    [Fact]
    public void ProgramsTheLoaderRejectedForUnresolvedExternsFailWithTheSymbolName()
    {
        string root = SharedData.Require("corpus/objects");
        var spec = ObjectSpec.Load(Path.Combine(root, "falco", "probe.o"));
        var rejected = ReadVerdicts().Where(r => r.File == "falco/probe.o" && r.Reason == "loader:unresolved-extern").ToList();
        Assert.Equal(81, rejected.Count);
        foreach (var row in rejected)
        {
            var prog = spec.FindProgram(row.Program) ?? throw new Xunit.Sdk.XunitException($"{row.Program} missing");
            var e = Assert.Throws<BpfException>(prog.EnsureResolved);
            Assert.Contains("relocation against undefined symbol 'memset' at insn ", e.Message);
            Assert.EndsWith($" of program {row.Program}", e.Message);
            Assert.Equal(Errno.ENOENT, e.Errno);
        }
        // The programs the kernel accepted from the same object have nothing unresolved.
        var accepted = ReadVerdicts().Where(r => r.File == "falco/probe.o" && r.Verdict == "accepted").ToList();
        Assert.NotEmpty(accepted);
        Assert.All(accepted, row => spec.FindProgram(row.Program)!.EnsureResolved());
    }

    [Fact]
    public void SamplesLayoutInnerMapIndexCountsAcrossPerMapSections()
    {
        // PREVAIL's map_in_map_legacy.o puts each 28-byte definition in its own "maps/NAME" section; inner_map_idx 1
        // names the second legacy map of the object, not the second of the outer map's own section.
        string root = SharedData.Require("corpus/objects");
        var spec = ObjectSpec.Load(Path.Combine(root, "build", "map_in_map_legacy.o"));
        var outer = spec.FindMap("array_of_maps")!;
        Assert.Equal(MapType.ArrayOfMaps, outer.Type);
        var inner = Assert.IsType<MapSpec>(outer.InnerMap);
        Assert.Equal((MapType.Array, 4u, 8u, 1u), (inner.Type, inner.KeySize, inner.ValueSize, inner.MaxEntries));
        Assert.Null(spec.FindMap("inner_map")!.InnerMap);
    }

    [Fact]
    public void EveryCorpusObjectOpensOrFailsWithABpfException()
    {
        string root = SharedData.Require("corpus/objects");
        int opened = 0, failed = 0;
        foreach (var file in Directory.EnumerateFiles(root, "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
        {
            try
            {
                var spec = ObjectSpec.Load(file);
                opened++;
                Assert.All(spec.Programs, p => Assert.NotEmpty(p.Instructions));
            }
            catch (BpfException e)
            {
                failed++;
                Assert.False(string.IsNullOrWhiteSpace(e.Message));
                output.WriteLine($"{Path.GetRelativePath(root, file)}: {e.Message} ({e.Errno})");
            }
        }
        output.WriteLine($"opened {opened}, clean errors {failed}");
        Assert.True(opened > 150);
    }

    /// <summary>
    /// What the kernel demands of func_info after linking — one record per function, at its first instruction, in
    /// order — holds for every corpus program with .BTF.ext; line_info and CO-RE records land inside the program.
    /// </summary>
    [Fact]
    public void BtfExtRecordsAreRebasedOntoTheLinkedPrograms()
    {
        int withFuncInfo = 0, withCore = 0, lineInfos = 0;
        foreach (var file in SharedData.CorpusObjects())
        {
            ObjectSpec spec;
            try
            {
                spec = ObjectSpec.Load(file);
            }
            catch (BpfException)
            {
                continue;
            }
            foreach (var prog in spec.Programs)
            {
                if (prog.FuncInfos.Count > 0)
                {
                    withFuncInfo++;
                    Assert.Equal(prog.Functions.Select(f => f.Offset), prog.FuncInfos.Select(f => f.InstructionIndex));
                }
                lineInfos += prog.LineInfos.Count;
                Assert.All(prog.LineInfos, l => Assert.InRange(l.InstructionIndex, 0, prog.Instructions.Length - 1));
                if (prog.CoreRelocations.Count > 0)
                    withCore++;
                Assert.All(prog.CoreRelocations, c => Assert.InRange(c.InstructionIndex, 0, prog.Instructions.Length - 1));
            }
        }
        output.WriteLine($"programs with func_info: {withFuncInfo}; line_info records: {lineInfos}; programs with CO-RE relocations: {withCore}");
        Assert.True(withFuncInfo > 100);
        Assert.True(withCore > 0);
    }
}
