using Ebpf.Runtime;

namespace Ebpf.Cli.Commands.Runtime;

/// <summary>
/// The runtime ("kernel") a CLI command acts on: each invocation gets a fresh one, except inside
/// `batch file`, where every line shares the batch's runtime (AsyncLocal, so parallel in-process
/// CLI runs in tests stay independent).
/// </summary>
internal static class CliRuntime
{
    private static readonly AsyncLocal<BpfRuntime?> Shared = new();

    /// <summary>Hook for wiring a fresh runtime (map storage, executor) once those subsystems exist.</summary>
    public static Action<BpfRuntime>? Configure { get; set; }

    public static BpfRuntime Create()
    {
        var rt = new BpfRuntime();
        Configure?.Invoke(rt);
        return rt;
    }

    public static BpfRuntime Current => Shared.Value ?? Create();

    public static IDisposable Share(BpfRuntime runtime) => AsyncLocalScope.Set(Shared, runtime);
}
