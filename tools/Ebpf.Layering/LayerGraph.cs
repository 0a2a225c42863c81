using System.Text.RegularExpressions;

namespace Ebpf.Layering;

/// <summary>One layer: a folder of the source tree and the namespace it declares (folders are namespaces).</summary>
public sealed record Layer(string Name, string Folder);

/// <summary>Why one layer depends on another: the first place in the source that says so.</summary>
public sealed record Evidence(string File, int Line, string Text);

/// <summary>
/// The dependency graph between the source layers (Isa, Elf, Btf, Abi, Loading, CoRe, Verification, Execution,
/// Collections, Runtime, Linux, Cli), computed from the source text: a layer depends on another when one of its
/// files has a <c>using</c> directive for the other's namespace (plain, static or alias), a fully-qualified
/// <c>Ebpf.Other.</c> name, or a partially-qualified <c>Other.Type</c> naming a type declared in that namespace.
/// Comments and literals are ignored. Types in the root namespace <c>Ebpf</c> (BpfException, Errno) belong to
/// no layer: every layer may use them.
/// </summary>
public sealed class LayerGraph
{
    /// <summary>Bottom to top, as architecture.md orders them. A layer whose folder does not exist is left out.</summary>
    public static readonly IReadOnlyList<Layer> KnownLayers =
    [
        new("Isa", "src/Ebpf/Isa"), new("Elf", "src/Ebpf/Elf"), new("Btf", "src/Ebpf/Btf"), new("Abi", "src/Ebpf/Abi"),
        new("Loading", "src/Ebpf/Loading"), new("CoRe", "src/Ebpf/CoRe"), new("Verification", "src/Ebpf/Verification"),
        new("Execution", "src/Ebpf/Execution"), new("Collections", "src/Ebpf/Collections"), new("Runtime", "src/Ebpf/Runtime"),
        new("Xdp", "src/Ebpf/Xdp"), new("Linux", "src/Ebpf.Linux"), new("Cli", "src/Ebpf.Cli"),
    ];

    private static readonly Regex UsingDirective = new(@"^\s*(?:global\s+)?using\s+(?:static\s+)?(?:\w+\s*=\s*)?(?:global::)?(Ebpf(?:\.\w+)*)[\s<;]", RegexOptions.Multiline);
    private static readonly Regex QualifiedName = new(@"(?<![\w.])(?:global::)?Ebpf\.(\w+)\.");
    private static readonly Regex PartialName = new(@"(?<![\w.:])(\w+)\.(\w+)");
    private static readonly Regex NamespaceDeclaration = new(@"^\s*namespace\s+([\w.]+)", RegexOptions.Multiline);
    private static readonly Regex TypeDeclaration = new(@"\b(?:class|struct|interface|enum|record|delegate\s+[\w<>\[\]?,. ]+?)\s+(\w+)");

    private readonly Dictionary<(string From, string To), List<Evidence>> _edges = [];

    public IReadOnlyList<string> Layers { get; }

    private LayerGraph(IReadOnlyList<string> layers) => Layers = layers;

    /// <summary>Direct dependencies: (user, used) pairs with the first places that show them.</summary>
    public IReadOnlyDictionary<(string From, string To), List<Evidence>> Edges => _edges;

    public IEnumerable<string> DependenciesOf(string layer) =>
        _edges.Keys.Where(e => e.From == layer).Select(e => e.To).OrderBy(Rank).ThenBy(n => n, StringComparer.Ordinal);

    /// <summary>Every layer <paramref name="layer"/> reaches through one or more edges.</summary>
    public IReadOnlySet<string> Reach(string layer)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var work = new Stack<string>(DependenciesOf(layer));
        while (work.TryPop(out var next))
            if (seen.Add(next))
                foreach (var d in DependenciesOf(next)) work.Push(d);
        return seen;
    }

    /// <summary>The layers that depend on each other, directly or not: each group has two or more members.</summary>
    public IReadOnlyList<IReadOnlyList<string>> Cycles() =>
        [.. Layers.Select(l => (IReadOnlyList<string>)[.. Layers.Where(m => m == l || (Reach(l).Contains(m) && Reach(m).Contains(l)))])
            .Where(g => g.Count > 1).DistinctBy(g => string.Join(",", g))];

    public int Rank(string layer)
    {
        for (int i = 0; i < KnownLayers.Count; i++)
            if (KnownLayers[i].Name == layer) return i;
        return KnownLayers.Count;
    }

    public static LayerGraph Scan(string repoRoot)
    {
        var present = KnownLayers.Where(l => Directory.Exists(Path.Combine(repoRoot, l.Folder))).ToList();
        var graph = new LayerGraph([.. present.Select(l => l.Name)]);
        var files = present.SelectMany(l => SourceFiles(repoRoot, l).Select(f => (Layer: l.Name, Path: f, Code: CSharpText.CodeOnly(File.ReadAllText(f))))).ToList();

        // Type names each layer's namespaces declare directly (Ebpf.X.Type) and its sub-namespace names (Ebpf.X.Sub),
        // for partially-qualified references such as Isa.Instruction written inside another Ebpf namespace.
        var members = present.ToDictionary(l => l.Name, _ => new HashSet<string>(StringComparer.Ordinal), StringComparer.Ordinal);
        foreach (var f in files)
            foreach (Match ns in NamespaceDeclaration.Matches(f.Code))
            {
                string[] parts = ns.Groups[1].Value.Split('.');
                if (parts.Length < 2 || parts[0] != "Ebpf" || LayerOfNamespace(ns.Groups[1].Value) is not { } owner || !members.ContainsKey(owner))
                    continue;
                if (parts.Length > 2)
                    members[owner].Add(parts[2]);
                else
                    foreach (Match t in TypeDeclaration.Matches(f.Code)) members[owner].Add(t.Groups[1].Value);
            }

        foreach (var f in files)
        {
            string relative = Path.GetRelativePath(repoRoot, f.Path).Replace('\\', '/');
            foreach (Match m in UsingDirective.Matches(f.Code))
                graph.Add(f.Layer, LayerOfNamespace(m.Groups[1].Value), relative, f.Code, m.Index, $"using {m.Groups[1].Value}");
            foreach (Match m in QualifiedName.Matches(f.Code))
                graph.Add(f.Layer, LayerOfNamespace("Ebpf." + m.Groups[1].Value), relative, f.Code, m.Index, m.Value.TrimEnd('.'));
            foreach (Match m in PartialName.Matches(f.Code))
            {
                string head = m.Groups[1].Value;
                // "spec.Btf.Types" is excluded by the lookbehind; "Btf.Types" naming a property counts only when the
                // second name is a type or sub-namespace of Ebpf.Btf, which member names are not.
                if (members.TryGetValue(head, out var declared) && declared.Contains(m.Groups[2].Value))
                    graph.Add(f.Layer, head, relative, f.Code, m.Index, m.Value);
            }
        }
        return graph;
    }

    /// <summary>The layer a namespace belongs to: Ebpf.Linux.* and Ebpf.Cli.* by assembly, Ebpf.X.* by folder.</summary>
    public static string? LayerOfNamespace(string ns)
    {
        string[] parts = ns.Split('.');
        if (parts.Length < 2 || parts[0] != "Ebpf")
            return null;
        return KnownLayers.FirstOrDefault(l => l.Name == parts[1])?.Name;
    }

    private static IEnumerable<string> SourceFiles(string repoRoot, Layer layer)
    {
        string root = Path.Combine(repoRoot, layer.Folder);
        return Directory.EnumerateFiles(root, "*.cs", SearchOption.AllDirectories).Where(p => !IsBuildOutput(root, p)).Order(StringComparer.Ordinal);
    }

    private static bool IsBuildOutput(string root, string path)
    {
        string first = Path.GetRelativePath(root, path).Split(Path.DirectorySeparatorChar, Path.AltDirectorySeparatorChar)[0];
        return first is "bin" or "obj";
    }

    private void Add(string from, string? to, string file, string code, int index, string text)
    {
        if (to is null || to == from || !Layers.Contains(to))
            return;
        if (!_edges.TryGetValue((from, to), out var list))
            _edges[(from, to)] = list = [];
        int line = 1 + code.AsSpan(0, index).Count('\n');
        if (list.Count < 3 && !list.Any(e => e.File == file && e.Line == line))
            list.Add(new Evidence(file, line, text.Trim()));
    }
}
