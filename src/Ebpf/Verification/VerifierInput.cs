using Ebpf.Abi;
using Ebpf.Isa;

namespace Ebpf.Verification;

/// <summary>How a function argument of a global (BTF-described) function is typed (<c>btf_prepare_func_args</c>,
/// with the <c>arg:</c> decl tags of kernel-semantics.md §3).</summary>
public enum FunctionArgumentKind
{
    /// <summary>An int or enum (ARG_ANYTHING): the caller must pass a scalar.</summary>
    Scalar,
    /// <summary>A pointer to the program's context (<c>struct __sk_buff *</c>, <c>arg:ctx</c>).</summary>
    Context,
    /// <summary>A pointer to <see cref="FunctionArgument.MemorySize"/> bytes of memory (pointer to sized type),
    /// nullable unless <c>arg:nonnull</c>.</summary>
    Memory,
    /// <summary>An untrusted pointer (<c>arg:untrusted</c>): anything is accepted; the callee may only read it
    /// through fault-handled loads.</summary>
    Untrusted,
    /// <summary>A trusted typed kernel pointer (<c>arg:trusted</c>) to the vmlinux struct <see cref="FunctionArgument.BtfType"/>.</summary>
    Trusted,
}

/// <summary>One argument of a global function.</summary>
/// <param name="Kind">What the argument is (scalar, context, memory, typed pointer, …).</param>
/// <param name="MemorySize">For memory arguments: how many bytes the caller must make accessible.</param>
/// <param name="Nullable">Whether the caller may pass NULL (<c>__arg_nullable</c>).</param>
/// <param name="BtfType">For typed kernel pointers: the vmlinux struct it points to.</param>
public readonly record struct FunctionArgument(FunctionArgumentKind Kind, int MemorySize = 0, bool Nullable = false, string? BtfType = null);

/// <summary>A function of the program as func_info describes it. Functions not listed are static.</summary>
/// <param name="StartInstruction">The function's first instruction.</param>
/// <param name="Name">The function's name (from BTF), as the log quotes it.</param>
/// <param name="IsGlobal">Global (BTF_FUNC_GLOBAL): verified once on its own against its prototype; static functions
/// are verified inline at each call.</param>
/// <param name="Arguments">The prototype's arguments, as the caller's registers R1–R5 must match them.</param>
/// <param name="ReturnsVoid">The function returns void, so R0 need not be set at its exit.</param>
/// <param name="PrepareError">Why the BTF prototype cannot describe the function's arguments
/// (<c>btf_prepare_func_args</c> failed), with <paramref name="PrepareErrno"/>; a call to such a global fails
/// with this message followed by "Caller passes invalid args into func#N ('name')".</param>
/// <param name="PrepareErrno">The errno of that failure.</param>
public sealed record VerifierFunction(int StartInstruction, string Name, bool IsGlobal, IReadOnlyList<FunctionArgument> Arguments,
    bool ReturnsVoid = false, string? PrepareError = null, Errno PrepareErrno = Errno.EINVAL)
{
    /// <summary>check_btf_func's scalar_return is false: the BTF return type is neither an integer of at most 8 bytes
    /// nor an enum (void, a pointer, a struct). Such a subprogram may hold no tail call and no LD_ABS/LD_IND.</summary>
    internal bool ReturnsNonScalar { get; init; }
}

/// <summary>A helper the host adds to its runtime (ids from <c>HelperRegistry.FirstHostId</c> up): its name for
/// messages and the prototype calls to it are checked against.</summary>
public sealed record HostHelper(string Name, Abi.Helpers.HelperPrototype Prototype);

/// <summary>Everything <see cref="Verifier.Verify"/> needs about one program.</summary>
public sealed class VerifierInput
{
    /// <summary>The program as submitted (ld_imm64 takes two slots).</summary>
    public required IReadOnlyList<Instruction> Instructions { get; init; }
    /// <summary>The program type, which decides the context, the helpers and the return-value range.</summary>
    public required ProgramType ProgramType { get; init; }
    /// <summary>The expected attach type (<c>expected_attach_type</c>), which narrows the context and helpers further.</summary>
    public AttachType ExpectedAttachType { get; init; }
    /// <summary>The program's name, as the log quotes it.</summary>
    public string Name { get; init; } = "";

    /// <summary>Maps referenced by ld_imm64 instructions, keyed by the index of the ld_imm64's first slot.
    /// Takes precedence over <see cref="MapsByFd"/> / <see cref="MapsByIndex"/>.</summary>
    public IReadOnlyDictionary<int, IVerifierMapInfo>? MapReferences { get; init; }
    /// <summary>Maps for BPF_PSEUDO_MAP_FD / MAP_VALUE, keyed by the fd in imm.</summary>
    public IReadOnlyDictionary<int, IVerifierMapInfo>? MapsByFd { get; init; }
    /// <summary>Maps for BPF_PSEUDO_MAP_IDX / MAP_IDX_VALUE (fd_array), by index.</summary>
    public IReadOnlyList<IVerifierMapInfo>? MapsByIndex { get; init; }

    /// <summary>func_info-derived descriptions; global functions are verified once on their own.</summary>
    public IReadOnlyList<VerifierFunction>? Functions { get; init; }

    /// <summary>
    /// An extension's main function (kernel-semantics.md §2.8): verified like a global function from this prototype
    /// (R1–R5 typed by its arguments, with the target type's ctx) instead of with R1 = ctx. Null for other programs.
    /// </summary>
    public VerifierFunction? EntryFunction { get; init; }

    /// <summary>The context layout to check ctx accesses against instead of the program type's (an fentry/fexit program
    /// sees its target function's arguments: Verification/Attach/TracingContext). Null: the type's layout.</summary>
    internal Abi.Contexts.ContextLayout? ContextLayout { get; init; }

    /// <summary>attach_btf_id: for a struct_ops program, the kernel struct it implements a member of (the member's index is
    /// <see cref="ExpectedAttachType"/>), in <see cref="Profile"/>'s kernel BTF.</summary>
    internal uint AttachBtfId { get; init; }

    /// <summary>kfunc calls by instruction index (the loader resolves each extern kfunc by name; a host may supply its
    /// own). A kfunc call not listed is looked up by its imm as a vmlinux BTF id.</summary>
    public IReadOnlyDictionary<int, KernelFunction>? KernelFunctions { get; init; }

    /// <summary>The values of the decl tags on the main function's BTF FUNC (component -1), of which the verifier reads
    /// <c>exception_callback:NAME</c>: the function of <see cref="Functions"/> named NAME is the program's exception
    /// callback. Null or empty: none.</summary>
    public IReadOnlyList<string>? MainFunctionDeclTags { get; init; }

    /// <summary>bpf_prog_is_dev_bound: the program was loaded with a prog_ifindex (BPF_F_XDP_DEV_BOUND_ONLY), so it may
    /// call the XDP metadata kfuncs (bpf_dev_bound_kfunc_check).</summary>
    internal bool DeviceBound { get; init; }

    /// <summary>Module BTFs by the fd (the managed runtime's fd_array index) a BPF_PSEUDO_BTF_ID lddw names in its second
    /// imm: the split BTF its ksym id is checked against (check_pseudo_btf_id). Absent fds are refused.</summary>
    internal IReadOnlyDictionary<int, Btf.BtfSpec>? ModuleBtfs { get; init; }

    /// <summary>Helpers the host registered, by id, checked like kernel helpers against their prototypes. A call to an
    /// id that is neither a kernel helper nor listed here is refused as the kernel refuses it ("invalid func").</summary>
    public IReadOnlyDictionary<int, HostHelper>? HostHelpers { get; init; }

    /// <summary>BPF_LOG_LEVEL bits: 1 = failing path trace, 2 = everything, 4 = stats.</summary>
    public int LogLevel { get; init; }
    /// <summary>Loader privilege: Full = CAP_BPF + CAP_PERFMON (the default, as root).</summary>
    public Abi.Helpers.HelperPrivilege Privilege { get; init; } = Abi.Helpers.HelperPrivilege.Full;
    /// <summary>The kernel the verdict is for: which program types, helpers and kfuncs exist and may be called, and
    /// its BTF (<see cref="Abi.Profiles.KernelProfile.KernelBtfPath"/>, for kfuncs, typed ksyms and trusted arguments).
    /// Default: <see cref="Abi.Profiles.KernelProfile.Reference"/> (mainline 6.18), whose tables are committed data;
    /// its kernel BTF is, like libbpf's default, the running kernel's <c>/sys/kernel/btf/vmlinux</c>. The verifier
    /// reads nothing else from the machine: a profile naming a BTF file (or none) makes the verdict the same
    /// everywhere.</summary>
    public Abi.Profiles.KernelProfile Profile { get; init; } = Abi.Profiles.KernelProfile.Reference;
    /// <summary>The program's license is GPL-compatible; gpl_only helpers are refused otherwise.</summary>
    public bool GplCompatible { get; init; } = true;
    /// <summary>BPF_F_SLEEPABLE.</summary>
    public bool Sleepable { get; init; }
    /// <summary>BPF_F_STRICT_ALIGNMENT.</summary>
    public bool StrictAlignment { get; init; }
    /// <summary>Instruction budget (BPF_COMPLEXITY_LIMIT_INSNS).</summary>
    public int InstructionLimit { get; init; } = Verifier.ComplexityLimit;
    /// <summary>The program type's convert_ctx_access for the runtime that will run the program (null: ctx accesses
    /// are kept as written, e.g. for a kernel that rewrites them itself).</summary>
    public IContextAccessConverter? ContextConverter { get; init; }
    /// <summary>Lets a host bound verification time; checked every 4096 processed instructions
    /// (throws <see cref="OperationCanceledException"/>).</summary>
    public CancellationToken Cancellation { get; init; }
}
