using Ebpf.Verification;

namespace Ebpf.Runtime;

/// <summary>Options of <see cref="BpfRuntime.LoadProgram(Objects.ProgramDefinition, IEnumerable{BpfMap}?, BtfHandle?, ProgramLoadOptions?)"/>.</summary>
public sealed record ProgramLoadOptions
{
    /// <summary>
    /// Load a program the verifier rejects anyway and run it in the checked interpreter (every memory
    /// access bounds-checked at run time). The kernel has no such switch: the default refuses the load
    /// with the verifier's errno and log, as BPF_PROG_LOAD does.
    /// </summary>
    public bool AllowUnverified { get; init; }

    /// <summary>BPF_LOG_LEVEL for the verifier log kept on the program (1 = failing path, 2 = everything, 4 = stats).</summary>
    public int LogLevel { get; init; } = 1;

    /// <summary>func_info-derived function descriptions (global functions are verified on their own); the object loader fills these.</summary>
    public IReadOnlyList<VerifierFunction>? Functions { get; init; }
}
