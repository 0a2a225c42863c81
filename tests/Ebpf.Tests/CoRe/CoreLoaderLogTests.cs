using Ebpf.Collections;
using Ebpf.Runtime;

namespace Ebpf.Tests.CoRe;

/// <summary>
/// libbpf's CO-RE lines (kernel-semantics.md §4.10) from the collection loader, at libbpf's levels: debug lines
/// through <see cref="ObjectLoadOptions.CoreDebugLog"/> in libbpf's order (a root type's candidates when first
/// searched, then per relocation its spec, each candidate tried, and the patch), warnings in the failure's log.
/// </summary>
public class CoreLoaderLogTests(ITestOutputHelper output)
{
    private static string Scenario(string name) => SharedData.Fixture($"core/scenarios/{name}");

    [Fact]
    public void Debug_lines_come_in_libbpfs_order_for_every_relocation()
    {
        var lines = new List<string>();
        var runtime = new BpfRuntime();
        using var collection = BpfCollection.LoadFile(runtime.Backend, Scenario("flavors.bpf.o"),
            new ObjectLoadOptions { BtfCustomPath = Scenario("targets/flavors.btf"), CoreDebugLog = lines.Add });
        foreach (var l in lines)
            output.WriteLine(l);
        Assert.StartsWith("CO-RE relocating [", lines[0]);
        Assert.Contains(": found target candidate [", lines[0]);
        Assert.EndsWith(" in [flavors.btf]", lines[0]);
        var relocations = lines.Where(l => l.StartsWith("prog '", StringComparison.Ordinal))
            .GroupBy(l => l[..(l.IndexOf(": ", l.IndexOf("relo #", StringComparison.Ordinal), StringComparison.Ordinal))])
            .ToList();
        Assert.NotEmpty(relocations);
        int expected = 0;
        foreach (var relo in relocations)
        {
            var group = relo.ToList();
            Assert.EndsWith($"relo #{expected++}", relo.Key);
            Assert.Contains(": <", group[0]); // the spec: "<byte_off> [id] struct name.field (0:1 @ offset 4)"
            Assert.Contains(group.Skip(1).SkipLast(1), l => l.Contains(": matching candidate #", StringComparison.Ordinal));
            Assert.Matches(": (patched insn|substituting insn) #", group[^1]);
        }
        // A root's candidate lines come right before the spec of the first relocation on that root.
        for (int i = 0; i < lines.Count; i++)
        {
            if (!lines[i].Contains("found target candidate", StringComparison.Ordinal))
                continue;
            string next = lines.Skip(i + 1).First(l => !l.Contains("found target candidate", StringComparison.Ordinal));
            Assert.Matches(@"^prog '\w+': relo #\d+: <", next);
        }
    }

    [Fact]
    public void A_failed_relocation_carries_libbpfs_warnings_in_order()
    {
        var runtime = new BpfRuntime();
        var e = Assert.Throws<BpfException>(() => BpfCollection.LoadFile(runtime.Backend, Scenario("nesting.bpf.o"),
            new ObjectLoadOptions { BtfCustomPath = Scenario("targets/nesting___err_dup_incompat_types.btf") }));
        output.WriteLine(e.Message);
        output.WriteLine(e.Log ?? "");
        var warnings = e.Log!.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(2, warnings.Length);
        Assert.Matches(@"^prog '\w+': relo #\d+: (relocation decision|field offset) ambiguity: ", warnings[0]);
        Assert.Matches(@"^prog '\w+': relo #\d+: failed to relocate: -22$", warnings[1]);
        Assert.Contains("failed to perform CO-RE relocations", e.Message);
        Assert.Equal(Errno.EINVAL, e.Errno);
    }
}
