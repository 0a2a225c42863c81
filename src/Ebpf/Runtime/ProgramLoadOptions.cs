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

    /// <summary>
    /// Run the program in the checked interpreter even when the verifier accepted it and it is fully modelled.
    /// Every access the verifier allowed is then checked again at run time, so a fault is a verifier bug: what
    /// soundness tests and debugging want. Slower; no effect on the verdict.
    /// </summary>
    public bool AlwaysChecked { get; init; }

    /// <summary>
    /// Test oracle: run the instructions as written, without the verifier's translation, in the checked interpreter,
    /// which resolves ctx pointer fields by address. The result must equal the translated program's on every input.
    /// </summary>
    internal bool Untranslated { get; init; }

    /// <summary>
    /// The verifier's budget of processed instructions (BPF_COMPLEXITY_LIMIT_INSNS, 1,000,000 in the kernel). A
    /// smaller one keeps test loads of very large programs short; a program needing more is rejected (E2BIG).
    /// </summary>
    public int VerifierInstructionLimit { get; init; } = 1_000_000;

    /// <summary>BPF_LOG_LEVEL for the verifier log kept on the program (1 = failing path, 2 = everything, 4 = stats).</summary>
    public int LogLevel { get; init; } = 1;

    /// <summary>
    /// Instructions a checked run may execute before it ends with ETIME (an unverified program may loop for
    /// ever). Verified programs running unchecked are bounded by the verifier instead.
    /// </summary>
    public long CheckedInstructionBudget { get; init; } = Execution.InterpreterOptions.DefaultInstructionBudget;

    /// <summary>
    /// attach_prog_fd: the program a tracing (fentry/fexit) or extension (freplace) program is loaded against. The
    /// function is <see cref="AttachBtfId"/>, or <see cref="AttachFunction"/> looked up in the target's BTF as libbpf's
    /// bpf_program__set_attach_target does. The program holds the target until its first attach (§2.5).
    /// </summary>
    public Objects.ProgramObject? AttachTarget { get; init; }

    /// <summary>attach_btf_id: the target FUNC's id in the target program's BTF.</summary>
    public uint AttachBtfId { get; init; }

    /// <summary>The target function by name (resolved in the target's BTF when <see cref="AttachBtfId"/> is 0).</summary>
    public string? AttachFunction { get; init; }

    /// <summary>func_info-derived function descriptions (global functions are verified on their own); the object loader fills these.</summary>
    public IReadOnlyList<VerifierFunction>? Functions { get; init; }
}
