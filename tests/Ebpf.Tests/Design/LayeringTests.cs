using Ebpf.Layering;

namespace Ebpf.Tests.Design;

/// <summary>
/// The layering as it is: README's design section carries the dependency graph computed from src/
/// (tools/Ebpf.Layering), and the graph keeps architecture.md's direction rules. A rule broken today is listed in
/// <see cref="KnownViolations"/> with its reason, so the test is green now and fails on any new violation (and on a
/// known one that has been fixed, so the list shrinks with the code).
/// </summary>
public class LayeringTests(ITestOutputHelper output)
{
    /// <summary>(layer, forbidden layer it reaches) → why it is tolerated for now. Empty: no rule is broken today.</summary>
    private static readonly Dictionary<(string Layer, string Forbidden), string> KnownViolations = [];

    private static readonly Lazy<LayerGraph> Graph = new(() => LayerGraph.Scan(SharedData.RepoRoot));

    [Fact]
    public void Readme_shows_the_layering_computed_from_the_source()
    {
        string expected = LayerDiagram.Render(Graph.Value);
        string readme = File.ReadAllText(Path.Combine(SharedData.RepoRoot, "README.md"));
        string? actual = LayerDiagram.Extract(readme);
        Assert.True(actual is not null, $"README.md has no layering block; insert this in the design section:\n{expected}");
        Assert.True(actual == expected,
            $"README's layering block is stale; run `dotnet run --project tools/Ebpf.Layering -- --write` or paste:\n{expected}");
    }

    [Fact]
    public void Dependencies_point_the_way_architecture_md_says()
    {
        var graph = Graph.Value;
        var found = new Dictionary<(string, string), string>();
        foreach (var rule in LayerRule.Architecture)
            foreach (var (forbidden, path) in rule.Violations(graph))
                found[(rule.Layer, forbidden)] = $"{rule.Layer} reaches {forbidden} ({path}; first edge at {Where(graph, path)}): {rule.Why}";
        foreach (var v in found.Values)
            output.WriteLine(v);
        var unexpected = found.Where(f => !KnownViolations.ContainsKey(f.Key)).Select(f => f.Value).ToList();
        Assert.True(unexpected.Count == 0, "new layering violations:\n" + string.Join("\n", unexpected));
        var fixedNow = KnownViolations.Keys.Where(k => !found.ContainsKey(k)).Select(k => $"{k.Layer} → {k.Forbidden}").ToList();
        Assert.True(fixedNow.Count == 0, "known violations that no longer occur (remove them from KnownViolations): " + string.Join(", ", fixedNow));
    }

    [Fact]
    public void The_graph_sees_the_layers_and_edges_the_code_has()
    {
        var graph = Graph.Value;
        // Every layer folder that exists is scanned, and the bottom and top of the stack are where they must be.
        foreach (var name in new[] { "Isa", "Elf", "Btf", "Abi", "Loading", "CoRe", "Verification", "Execution", "Runtime", "Linux", "Cli" })
            Assert.Contains(name, graph.Layers);
        Assert.Empty(graph.DependenciesOf("Elf"));
        Assert.Contains("Runtime", graph.DependenciesOf("Cli"));
        Assert.Contains("Linux", graph.DependenciesOf("Cli"));
        // The scanner reads code, not comments or strings.
        string code = CSharpText.CodeOnly("using Ebpf.Isa; // Ebpf.Runtime.X\n/* Ebpf.Linux.Y */ var s = \"Ebpf.Cli.Z\"; var c = '\"'; var t = @\"a\"\"Ebpf.Elf.Q\";");
        Assert.Contains("Ebpf.Isa", code);
        Assert.DoesNotContain("Runtime", code);
        Assert.DoesNotContain("Linux", code);
        Assert.DoesNotContain("Cli", code);
        Assert.DoesNotContain("Elf", code);
    }

    private static string Where(LayerGraph graph, string path)
    {
        string[] chain = path.Split(" → ");
        var e = graph.Edges[(chain[0], chain[1])][0];
        return $"{e.File}:{e.Line} {e.Text}";
    }
}
