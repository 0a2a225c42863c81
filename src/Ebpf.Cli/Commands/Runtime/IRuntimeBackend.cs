namespace Ebpf.Cli.Commands.Runtime;

/// <summary>
/// Where a parsed bpftool-style command runs. Both backends take the same <see cref="RuntimeCommand"/>
/// records (one parser) and print through <see cref="BpftoolFormat"/> (one output shape), so a
/// script gives the same text/JSON on the managed runtime and on the kernel, ids and times aside.
/// </summary>
internal interface IRuntimeBackend
{
    /// <summary>Runs the command, printing as bpftool; returns the exit code.</summary>
    int Execute(RuntimeCommand command);
}

/// <summary>
/// Picks the backend named by --backend (inside `batch file`, the batch's choice wins). Verbs outside
/// the runtime grammar (btf show, prog verify) call <see cref="Resolve"/> themselves: with "linux",
/// `prog verify` should load the object into the kernel (LinuxKernel.Load with a log level) and report
/// the kernel's verdict and verifier log instead of the managed verifier's.
/// </summary>
internal static class RuntimeBackends
{
    private static readonly AsyncLocal<string?> BatchBackend = new();

    public static string Resolve(System.CommandLine.ParseResult pr) => BatchBackend.Value ?? pr.GetValue(CliOptions.Backend) ?? CliOptions.ManagedBackend;

    public static IRuntimeBackend Create(string backend, TextWriter output, bool json) => backend switch
    {
        CliOptions.LinuxBackend => new Linux.LinuxCommandRunner(output, json),
        _ => new RuntimeCommandRunner(CliRuntime.Current, output, json),
    };

    /// <summary>Makes every line of a batch run on <paramref name="backend"/> (AsyncLocal: parallel in-process runs stay apart).</summary>
    public static IDisposable ShareForBatch(string backend)
    {
        var previous = BatchBackend.Value;
        BatchBackend.Value = backend;
        return new Restore(previous);
    }

    private sealed class Restore(string? previous) : IDisposable
    {
        public void Dispose() => BatchBackend.Value = previous;
    }
}
