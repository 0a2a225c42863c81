namespace Ebpf.Bench;

/// <summary>
/// One benchmark suite, run as <c>dotnet run -c Release --project bench/Ebpf.Bench -- NAME [args]</c>.
/// Suites are discovered by reflection, so adding one is adding a file.
/// </summary>
public interface IBenchSuite
{
    string Name { get; }
    string Description { get; }
    int Run(string[] args);
}
