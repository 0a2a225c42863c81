using Ebpf.Abi;
using Ebpf.Isa;

namespace Ebpf.Collections;

/// <summary>
/// What BPF_PROG_LOAD receives, on every backend. Map references are pseudo-map-index lddw's (src 5/6, imm = an
/// index into the used maps handed over with the definition), which each backend turns into its own form.
/// </summary>
public sealed record ProgramDefinition(
    ProgramType Type,
    IReadOnlyList<Instruction> Instructions,
    string Name = "",
    string License = "GPL",
    AttachType ExpectedAttachType = default,
    uint Flags = 0)
{
    /// <summary>kern_version (only old kprobe loaders need it).</summary>
    public uint KernelVersion { get; init; }
    /// <summary>struct bpf_func_info records (insn_off, type_id), 8 bytes each, against the program's BTF.</summary>
    public ReadOnlyMemory<byte> FuncInfo { get; init; }
    /// <summary>struct bpf_line_info records, 16 bytes each, against the program's BTF.</summary>
    public ReadOnlyMemory<byte> LineInfo { get; init; }
    /// <summary>
    /// Kernel-side CO-RE (what light skeletons send): struct bpf_core_relo records {insn_off (bytes), type_id,
    /// access_str_off, kind} against the program's BTF, which the verifier applies against the kernel's BTF before
    /// verifying. As in the kernel, they are read only together with func_info or line_info.
    /// </summary>
    public ReadOnlyMemory<byte> CoreRelocations { get; init; }
    /// <summary>core_relo_rec_size: bytes of one record (16; larger records must have a zero tail).</summary>
    public uint CoreRelocationRecordSize { get; init; } = 16;
}

/// <summary>How a backend loads a program: verifier log and limits, and the managed runtime's execution choices.</summary>
public sealed record ProgramLoadOptions
{
    /// <summary>
    /// Managed runtime: load a program the verifier rejects anyway and run it in the checked interpreter. The kernel
    /// has no such switch (the Linux backend refuses it with EOPNOTSUPP).
    /// </summary>
    public bool AllowUnverified { get; init; }

    /// <summary>Managed runtime: run the program checked even when verified and fully modelled (every access re-checked).</summary>
    public bool AlwaysChecked { get; init; }

    /// <summary>Test oracle: run the instructions as written, untranslated, in the checked interpreter.</summary>
    internal bool Untranslated { get; init; }

    /// <summary>The managed verifier's processed-instruction budget (BPF_COMPLEXITY_LIMIT_INSNS, 1,000,000 in the kernel).</summary>
    public int VerifierInstructionLimit { get; init; } = 1_000_000;

    /// <summary>
    /// BPF_LOG_LEVEL (1 = failing path, 2 = everything, 4 = stats). Null: the backend's default, the managed runtime
    /// keeping the level-1 log, the kernel loading with none and asking again at level 1 only when the load fails
    /// (libbpf's way; a large program's level-1 log is costly to produce).
    /// </summary>
    public int? LogLevel { get; init; }

    /// <summary>Managed runtime: instructions a checked run may execute before it ends with ETIME.</summary>
    public long CheckedInstructionBudget { get; init; } = Execution.InterpreterOptions.DefaultInstructionBudget;

    /// <summary>
    /// attach_prog_fd: the program a tracing (fentry/fexit) or extension (freplace) program is loaded against, on
    /// the same backend. The function is <see cref="AttachBtfId"/>, or <see cref="AttachFunction"/> looked up in the target's BTF as libbpf's
    /// bpf_program__set_attach_target does. The program holds the target until its first attach.
    /// </summary>
    public BpfProgram? AttachTarget { get; init; }

    /// <summary>attach_btf_id: the target FUNC's id in the target program's BTF.</summary>
    public uint AttachBtfId { get; init; }

    /// <summary>The target function by name (resolved in the target's BTF when <see cref="AttachBtfId"/> is 0).</summary>
    public string? AttachFunction { get; init; }

    /// <summary>
    /// prog_ifindex: with BPF_F_XDP_DEV_BOUND_ONLY in the program's flags, the device an XDP program is bound to (it may
    /// then call the device's XDP metadata kfuncs and attach only there); 0 for an unbound program.
    /// </summary>
    public int Ifindex { get; init; }

    /// <summary>func_info-derived function descriptions for the managed verifier (the object loader fills these).</summary>
    public IReadOnlyList<Verification.VerifierFunction>? Functions { get; init; }

    /// <summary>
    /// fd_array: the kernel BTF objects (module BTFs) the instructions name. Managed runtime: an instruction's BTF
    /// object reference (a kfunc call's <c>off</c>, the second <c>imm</c> of a BPF_PSEUDO_BTF_ID lddw, the second
    /// <c>imm</c> of an ebpf BTF-object lddw) is an index into this list; 0 (and a null entry 0) means vmlinux. A
    /// reference outside the list, to a closed handle or to a non-kernel BTF is refused at load (EINVAL, "invalid module
    /// BTF object FD specified."). The Linux backend takes fds in the instructions and refuses a non-empty list
    /// (EOPNOTSUPP): its loader never resolves module symbols here.
    /// </summary>
    public IReadOnlyList<BtfHandle?>? FdArray { get; init; }

    /// <summary>Linux: the first log buffer size; grown on ENOSPC up to <see cref="MaxLogSize"/>.</summary>
    public int LogSize { get; init; } = 64 * 1024;

    /// <summary>Linux: the largest log buffer tried.</summary>
    public int MaxLogSize { get; init; } = 64 * 1024 * 1024;
}
