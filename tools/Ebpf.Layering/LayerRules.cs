namespace Ebpf.Layering;

/// <summary>
/// A direction rule of architecture.md: <see cref="Layer"/> must not reach (directly or through other layers) any of
/// <see cref="Forbidden"/>.
/// </summary>
public sealed record LayerRule(string Layer, IReadOnlyList<string> Forbidden, string Why)
{
    /// <summary>The rules as architecture.md states them ("Dependencies point one way").</summary>
    public static readonly IReadOnlyList<LayerRule> Architecture =
    [
        new("Isa", Above("Isa", "Elf", "Btf"), "Isa, Elf and Btf know nothing above them"),
        new("Elf", Above("Isa", "Elf", "Btf"), "Isa, Elf and Btf know nothing above them"),
        new("Btf", Above("Isa", "Elf", "Btf"), "Isa, Elf and Btf know nothing above them"),
        new("Abi", Above("Isa", "Elf", "Btf", "Abi"), "Abi knows Isa and Btf"),
        new("Loading", ["Verification", "Execution", "Collections", "Runtime", "Linux", "Cli"], "Loading produces plain specs and never reaches the runtime"),
        new("CoRe", ["Verification", "Execution", "Collections", "Runtime", "Linux", "Cli"], "CoRe is pure (local BTF + target BTFs + instructions) and never reaches the runtime"),
        new("Verification", ["Execution", "Collections", "Runtime", "Linux", "Cli"], "Verification reads Abi, not Runtime"),
        new("Execution", ["Collections", "Runtime", "Linux", "Cli"], "Execution runs what Verification produced; Runtime ties it in"),
        new("Xdp", ["Runtime", "Linux", "Cli"], "the XDP dispatcher protocol is written over the backend interface, so it runs on either backend"),
        new("Linux", ["Runtime", "Xdp", "Cli"], "the Linux backend implements Collections' backend interface with Loading, Abi and Btf, never Runtime"),
        new("Runtime", ["Linux", "Xdp", "Cli"], "the managed kernel is one backend; it knows neither the other nor the CLI"),
        new("Collections", ["Linux", "Runtime", "Xdp", "Cli"], "Collections defines the backend interface both backends implement"),
    ];

    private static string[] Above(params string[] allowed) =>
        [.. LayerGraph.KnownLayers.Select(l => l.Name).Where(n => !allowed.Contains(n))];

    /// <summary>Each forbidden layer this rule's layer reaches, with the path that reaches it.</summary>
    public IEnumerable<(string Forbidden, string Path)> Violations(LayerGraph graph)
    {
        if (!graph.Layers.Contains(Layer))
            yield break;
        foreach (string target in Forbidden)
            if (PathTo(graph, Layer, target) is { } path)
                yield return (target, path);
    }

    /// <summary>The shortest chain of direct dependencies from one layer to another ("A → B → C"), or null.</summary>
    public static string? PathTo(LayerGraph graph, string from, string to)
    {
        var previous = new Dictionary<string, string>(StringComparer.Ordinal) { [from] = "" };
        var queue = new Queue<string>([from]);
        while (queue.TryDequeue(out var at))
        {
            if (at == to)
            {
                var chain = new List<string>();
                for (string s = to; s != ""; s = previous[s]) chain.Add(s);
                chain.Reverse();
                return string.Join(" → ", chain);
            }
            foreach (var next in graph.DependenciesOf(at))
                if (previous.TryAdd(next, at)) queue.Enqueue(next);
        }
        return null;
    }
}
