namespace Ebpf.Tests;

/// <summary>
/// Locates the repository and ../shared (the conformance suite, the corpus, the design docs, the
/// benchmark programs). Tests that need ../shared call <see cref="Require"/>, which skips the test
/// with the reason when it is absent rather than passing vacuously.
/// </summary>
public static class SharedData
{
    private static readonly Lazy<string> RepoRootLazy = new(FindRepoRoot);

    public static string RepoRoot => RepoRootLazy.Value;

    /// <summary>The shared folder: $EBPF_SHARED, else ../shared beside the repository.</summary>
    public static string SharedRoot =>
        Environment.GetEnvironmentVariable("EBPF_SHARED") is { Length: > 0 } env
            ? env
            : Path.GetFullPath(Path.Combine(RepoRoot, "..", "shared"));

    /// <summary>A path under ../shared, or a skip of the calling test when it is not there.</summary>
    public static string Require(string relative)
    {
        string path = Path.Combine(SharedRoot, relative);
        if (!Directory.Exists(path) && !File.Exists(path))
            Requirement.Missing(Requirement.Shared, $"shared data not found: {path} (place the shared folder beside the repository or set EBPF_SHARED)");
        return path;
    }

    /// <summary>A committed fixture under tests/fixtures.</summary>
    public static string Fixture(string relative)
    {
        string path = Path.Combine(RepoRoot, "tests", "fixtures", relative);
        if (!File.Exists(path) && !Directory.Exists(path))
            throw new FileNotFoundException($"fixture missing: {path} (rebuild with tests/fixtures/build.sh)", path);
        return path;
    }

    /// <summary>Every corpus object (excluding invalid/ unless asked).</summary>
    public static IEnumerable<string> CorpusObjects(bool includeInvalid = false)
    {
        string root = Require("corpus/objects");
        return Directory.EnumerateFiles(root, "*.o", SearchOption.AllDirectories)
            .Where(p => includeInvalid || !p.Contains($"{Path.DirectorySeparatorChar}invalid{Path.DirectorySeparatorChar}"))
            .Order(StringComparer.Ordinal);
    }

    private static string FindRepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Ebpf.slnx")))
                return dir.FullName;
        }
        throw new InvalidOperationException($"cannot find Ebpf.slnx above {AppContext.BaseDirectory}");
    }
}
