using System.Text;

namespace Ebpf.Layering;

/// <summary>
/// The README's layering block, between the marker comments the test and <c>--write</c> look for: a mermaid flowchart
/// of <see cref="LayerGraph"/> drawn without the arrows another path already implies (so the picture stays readable),
/// and every direct dependency as a table.
/// </summary>
public static class LayerDiagram
{
    public const string Begin = "<!-- layering:begin (generated: dotnet run --project tools/Ebpf.Layering -- --write) -->";
    public const string End = "<!-- layering:end -->";

    public static string Render(LayerGraph graph)
    {
        var s = new StringBuilder();
        s.Append(Begin).Append('\n');
        s.Append("```mermaid\nflowchart TD\n");
        var ordered = graph.Layers.OrderByDescending(graph.Rank).ToList();
        foreach (string layer in ordered)
            foreach (string used in graph.DependenciesOf(layer).Where(u => !ImpliedByAnotherPath(graph, layer, u)).OrderByDescending(graph.Rank))
                s.Append("  ").Append(layer).Append(" --> ").Append(used).Append('\n');
        foreach (string layer in ordered.Where(l => !graph.DependenciesOf(l).Any() && !graph.Edges.Keys.Any(e => e.To == l)))
            s.Append("  ").Append(layer).Append('\n');
        s.Append("```\n\n");
        s.Append("| Layer | uses (directly) |\n|---|---|\n");
        foreach (string layer in ordered)
        {
            var uses = graph.DependenciesOf(layer).ToList();
            s.Append("| ").Append(layer).Append(" | ").Append(uses.Count == 0 ? "—" : string.Join(", ", uses)).Append(" |\n");
        }
        var cycles = graph.Cycles();
        if (cycles.Count > 0)
            s.Append("\nLayers that depend on each other: ").Append(string.Join("; ", cycles.Select(c => string.Join(" ⇄ ", c)))).Append(".\n");
        s.Append(End);
        return s.ToString();
    }

    // from → to is implied when another layer from uses reaches to.
    private static bool ImpliedByAnotherPath(LayerGraph graph, string from, string to) =>
        graph.DependenciesOf(from).Any(via => via != to && graph.Reach(via).Contains(to));

    /// <summary>The block currently in <paramref name="readme"/>, or null when its markers are missing.</summary>
    public static string? Extract(string readme)
    {
        int begin = readme.IndexOf("<!-- layering:begin", StringComparison.Ordinal);
        int end = readme.IndexOf(End, StringComparison.Ordinal);
        return begin < 0 || end < begin ? null : readme[begin..(end + End.Length)].Replace("\r\n", "\n");
    }

    /// <summary><paramref name="readme"/> with its block replaced by <paramref name="block"/>.</summary>
    public static string Replace(string readme, string block)
    {
        int begin = readme.IndexOf("<!-- layering:begin", StringComparison.Ordinal);
        int end = readme.IndexOf(End, StringComparison.Ordinal);
        if (begin < 0 || end < begin)
            throw new InvalidOperationException($"README has no '{Begin}' … '{End}' block to replace");
        return readme[..begin] + block + readme[(end + End.Length)..];
    }
}
