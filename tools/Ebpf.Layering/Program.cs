namespace Ebpf.Layering;

/// <summary>
/// dotnet run --project tools/Ebpf.Layering [-- --write]: prints the README's layering block computed from src/,
/// every direction rule broken today and the evidence for each edge (stderr); --write replaces the block in
/// README.md (tests/Ebpf.Tests/Design/LayeringTests.cs fails until README matches).
/// </summary>
public static class Program
{
    public static int Main(string[] args)
    {
        string root = FindRepoRoot();
        var graph = LayerGraph.Scan(root);
        string block = LayerDiagram.Render(graph);
        Console.WriteLine(block);
        foreach (var rule in LayerRule.Architecture)
            foreach (var (forbidden, path) in rule.Violations(graph))
                Console.Error.WriteLine($"rule broken: {rule.Layer} reaches {forbidden} ({path}): {rule.Why}");
        foreach (var ((from, to), evidence) in graph.Edges.OrderBy(e => graph.Rank(e.Key.From)).ThenBy(e => graph.Rank(e.Key.To)))
            Console.Error.WriteLine($"{from} -> {to}: {string.Join("; ", evidence.Select(e => $"{e.File}:{e.Line} {e.Text}"))}");
        if (args.Contains("--write"))
        {
            string readme = Path.Combine(root, "README.md");
            File.WriteAllText(readme, LayerDiagram.Replace(File.ReadAllText(readme), block));
            Console.Error.WriteLine($"written to {readme}");
        }
        return 0;
    }

    private static string FindRepoRoot()
    {
        for (var dir = new DirectoryInfo(Directory.GetCurrentDirectory()); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Ebpf.slnx")))
                return dir.FullName;
        throw new InvalidOperationException("run inside the repository (no Ebpf.slnx above the current directory)");
    }
}
