using Ebpf.Btf;
using Ebpf.CoRe;
using Ebpf.Loading;

namespace Ebpf.Tests.CoRe.Scenarios;

/// <summary>
/// `gen min_core_btf` tested the way upstream's core_reloc_btfgen pass does: every scenario (except those whose
/// failure is a relocation error, which BTFGen reports too) runs again against the minimal BTF made from its target
/// and must end the same way; and the minimal BTF is compared with bpftool's for the same inputs.
/// </summary>
public class CoreScenarioMinBtfTests(ITestOutputHelper output) : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("ebpf-minbtf-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    public static TheoryData<string> Names() => new(CoreScenarios.All.Where(s => !s.BtfgenFails).Select(s => s.Name));

    [Theory]
    [MemberData(nameof(Names))]
    public void The_scenario_ends_the_same_against_the_minimal_btf(string name)
    {
        var s = CoreScenarios.Get(name);
        string min = Path.Combine(_dir, "min.btf");
        var full = BtfElf.LoadAny(s.TargetPath);
        File.WriteAllBytes(min, MinimalCoreBtf.Generate(full, [ObjectSpec.Load(s.ObjectPath)]));
        var minimal = BtfSpec.LoadFile(min);
        Assert.True(minimal.MaxTypeId <= full.MaxTypeId, $"{name}: the minimal BTF has more types ({minimal.MaxTypeId}) than its source ({full.MaxTypeId})");
        // type_id's target ids are those of the minimal BTF now.
        var expected = ScenarioExpectations.Output(s, min);
        var outcome = ScenarioRunner.Run(s.ObjectPath, s.Program, min, File.ReadAllBytes(s.InputPath), expected.Length);
        if (s.Failure is { } failure)
        {
            ScenarioRunner.AssertFails(failure, outcome.Failure, name);
            return;
        }
        Assert.True(outcome.Failure is null, $"{name}: {outcome.Failure?.Message}\n{outcome.Failure?.Log}");
        Assert.Equal(Convert.ToHexString(expected), Convert.ToHexString(outcome.Output!));
    }

    /// <summary>
    /// TYPE_MATCHES keeps every member of the type it asks about, recursively, but not the members of a struct behind
    /// a pointer (types_match only compares the pointee's kind and name there), as BTFGen does.
    /// </summary>
    [Fact]
    public void Type_matches_keeps_members_but_not_those_behind_a_pointer()
    {
        var s = CoreScenarios.Get("type_based");
        var min = BtfSpec.Parse(MinimalCoreBtf.Generate(BtfElf.LoadAny(s.TargetPath), [ObjectSpec.Load(s.ObjectPath)]));
        BtfComposite Behind(string typedef, bool pointer)
        {
            uint id = ((BtfTypedef)min.AllTypes.Single(t => t.Kind == BtfKind.Typedef && t.Name == typedef)).Type;
            if (pointer)
                id = ((BtfPtr)min.GetType(id)).Type;
            return (BtfComposite)min.GetType(id);
        }
        Assert.Equal(3, Behind("anon_struct_typedef", pointer: false).Members.Count);
        Assert.Empty(Behind("struct_ptr_typedef", pointer: true).Members);
        Assert.Equal(12u, Behind("struct_ptr_typedef", pointer: true).Size); // the type itself stays, only its members go
    }

    /// <summary>
    /// bpftool's BTFGen on the same inputs: our runtime must pass every scenario against bpftool's minimal BTF as well
    /// (the two agree on what is needed), and ours is exactly as large (the same types and members are kept).
    /// </summary>
    [Fact]
    public void Bpftools_minimal_btf_serves_our_loader_too_and_the_sizes_compare()
    {
        string bpftool = ExternalTool.Require(Requirement.Bpftool, "bpftool", "bpftool gen min_core_btf is the reference");
        long ours = 0, theirs = 0, source = 0;
        int compared = 0;
        foreach (var s in CoreScenarios.All.Where(s => !s.Fails))
        {
            string mine = Path.Combine(_dir, s.Name.Replace(':', '_') + ".ours.btf"), ref_ = Path.Combine(_dir, s.Name.Replace(':', '_') + ".bpftool.btf");
            File.WriteAllBytes(mine, MinimalCoreBtf.Generate(BtfElf.LoadAny(s.TargetPath), [ObjectSpec.Load(s.ObjectPath)]));
            var r = ExternalTool.Run(bpftool, ["gen", "min_core_btf", s.TargetPath, ref_, s.ObjectPath]);
            Assert.True(r.ExitCode == 0, $"{s.Name}: bpftool gen min_core_btf: {r.Stderr}");
            var expected = ScenarioExpectations.Output(s, ref_);
            var outcome = ScenarioRunner.Run(s.ObjectPath, s.Program, ref_, File.ReadAllBytes(s.InputPath), expected.Length);
            Assert.True(outcome.Failure is null, $"{s.Name} against bpftool's minimal BTF: {outcome.Failure?.Message}");
            Assert.Equal(Convert.ToHexString(expected), Convert.ToHexString(outcome.Output!));
            long a = new FileInfo(mine).Length, b = new FileInfo(ref_).Length, src = new FileInfo(s.TargetPath).Length;
            output.WriteLine($"{s.Name,-40} source {src,6}  ours {a,6}  bpftool {b,6}");
            // Same types, members and order as BTFGen keeps: the same number of bytes.
            Assert.True(a == b, $"{s.Name}: our minimal BTF is {a} bytes, bpftool's {b}");
            ours += a;
            theirs += b;
            source += src;
            compared++;
        }
        output.WriteLine($"{compared} scenarios: source {source} bytes, ours {ours} bytes, bpftool {theirs} bytes");
        Assert.Equal(52, compared);
    }
}
