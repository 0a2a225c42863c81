namespace Ebpf.Cli.Commands.Runtime;

/// <summary>
/// Picks the backend named by --backend (inside `batch file`, the batch's choice wins). Both backends take the same
/// <see cref="RuntimeCommand"/> records (one parser), run through one <see cref="RuntimeCommandRunner"/> and print
/// through <see cref="BpftoolFormat"/>, so a script gives the same text/JSON on either, ids and times aside.
/// </summary>
internal static class RuntimeBackends
{
    private static readonly AsyncLocal<string?> BatchBackend = new();

    public static string Resolve(System.CommandLine.ParseResult pr) => BatchBackend.Value ?? pr.GetValue(CliOptions.Backend) ?? CliOptions.ManagedBackend;

    /// <summary>The backend a name selects: the batch's (or a fresh) managed runtime, or the running kernel.</summary>
    public static Ebpf.Collections.IBpfBackend Get(string backend)
    {
        if (backend != CliOptions.LinuxBackend)
            return CliRuntime.Current.Backend;
        if (!Ebpf.Linux.LinuxKernel.IsAvailable)
            throw new BpfException(Errno.ENOSYS, $"--backend linux: bpf(2) is unavailable: {Ebpf.Linux.LinuxKernel.UnavailableReason}");
        return Ebpf.Linux.LinuxKernel.Backend;
    }

    /// <summary>The one command runner, over the named backend.</summary>
    public static RuntimeCommandRunner Create(string backend, TextWriter output, bool json) => new(Get(backend), output, json);

    /// <summary>Makes every line of a batch run on <paramref name="backend"/> (AsyncLocal: parallel in-process runs stay apart).</summary>
    public static IDisposable ShareForBatch(string backend) => AsyncLocalScope.Set(BatchBackend, backend);
}
