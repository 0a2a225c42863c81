using Ebpf.Abi;
using Ebpf.Btf;

namespace Ebpf.Verification.Attach;

/// <summary>
/// What <c>bpf_check_attach_target</c> needs to know about a target BPF program (the kernel reads it from
/// <c>tgt_prog-&gt;aux</c>): its type, expected attach type, BTF, and one entry per func_info record.
/// </summary>
/// <param name="Name">The target program's name, as the verifier log quotes it.</param>
/// <param name="Type">The target's program type.</param>
/// <param name="ExpectedAttachType">The attach type the target was loaded with.</param>
/// <param name="Btf">The target's BTF (null: it has none, and nothing can attach to it by function).</param>
/// <param name="Functions">One entry per func_info record of the target, in instruction order.</param>
/// <param name="AttachedToTracing">The sticky <c>attach_tracing_prog</c> flag: the target is a tracing program that was
/// loaded against another tracing program (rule P9).</param>
/// <param name="Jited">Whether the target runs JIT-compiled (the kernel refuses fentry/fexit on an interpreted one).</param>
/// <param name="BoundIfindex">The device the target is bound to (prog_ifindex; 0: not device-bound), for rule P1.</param>
internal sealed record AttachTargetProgram(
    string Name,
    ProgramType Type,
    AttachType ExpectedAttachType,
    BtfSpec? Btf,
    IReadOnlyList<AttachableFunction> Functions,
    bool AttachedToTracing = false,
    bool Jited = true,
    uint BoundIfindex = 0);

/// <summary>One func_info record of a target: the FUNC's BTF id, where it starts, and whether an extension may replace it.</summary>
/// <param name="BtfId">The BTF id of the function's FUNC record in the target's BTF.</param>
/// <param name="Start">The function's first instruction.</param>
/// <param name="Name">The function's name.</param>
/// <param name="Reliable">False for a static function or a main function whose prototype is not "one ctx argument"
/// (<c>func_info_aux[i].unreliable</c>): such a function cannot be replaced (P4) and fentry/fexit see 5 × u64.</param>
/// <param name="IsExceptionCallback">The function is the program's exception callback, which nothing may attach to.</param>
/// <param name="ChangesPacketData">The function, or anything it calls, may change packet data (the kernel's
/// per-subprogram <c>changes_pkt_data</c>): an extension that does may replace only such a function (P6).</param>
public sealed record AttachableFunction(uint BtfId, int Start, string Name, bool Reliable, bool IsExceptionCallback = false, bool ChangesPacketData = false);

/// <summary>The program being loaded or attached, as <c>bpf_check_attach_target</c> sees it.</summary>
/// <param name="Name">The loading program's name.</param>
/// <param name="Type">Its program type (tracing or extension for a BPF-program target).</param>
/// <param name="ExpectedAttachType">Its expected attach type (fentry, fexit, freplace, …).</param>
/// <param name="Btf">Its own BTF (null: it has none).</param>
/// <param name="MainFunctionBtfId">func_info[0].type_id of the program's own BTF (0: it has no func_info).</param>
/// <param name="Sleepable">Loaded with BPF_F_SLEEPABLE, which restricts the targets it may attach to.</param>
/// <param name="SavedTargetType">saved_dst_prog_type / saved_dst_attach_type (null before the first target was recorded).</param>
/// <param name="ChangesPacketData">The program's main function may change packet data (<c>prog->aux->changes_pkt_data</c>, P6).</param>
/// <param name="BoundIfindex">The device the program is bound to (an extension inherits its load-time target's binding;
/// 0: not device-bound), for rule P1.</param>
internal sealed record AttachingProgram(
    string Name,
    ProgramType Type,
    AttachType ExpectedAttachType,
    BtfSpec? Btf,
    uint MainFunctionBtfId,
    bool Sleepable = false,
    (ProgramType Type, AttachType AttachType)? SavedTargetType = null,
    bool ChangesPacketData = false,
    uint BoundIfindex = 0)
{
    /// <summary>Whether the program is BPF_PROG_TYPE_EXT (freplace).</summary>
    public bool IsExtension => Type == ProgramType.Ext;
    /// <summary>Whether the program is BPF_PROG_TYPE_TRACING (fentry, fexit, fmod_ret, …).</summary>
    public bool IsTracing => Type == ProgramType.Tracing;
}

/// <summary>
/// The attach point <c>bpf_check_attach_target</c> accepted: the target function, its calling model
/// (<c>btf_func_model</c>: argument count and whether it returns a value) and its name.
/// </summary>
/// <param name="Function">The target's func_info entry that was accepted.</param>
/// <param name="FunctionName">The target function's name (the trampoline and link info report it).</param>
/// <param name="ArgumentCount">How many u64 arguments the program's context holds.</param>
/// <param name="ReturnsValue">Whether the target returns a value fexit can read after the arguments.</param>
/// <param name="Conservative">The target is unreliable: fentry/fexit see 5 × u64 arguments and a u64 return.</param>
public sealed record AttachPoint(AttachableFunction Function, string FunctionName, int ArgumentCount, bool ReturnsValue, bool Conservative);

/// <summary>A refusal of <c>bpf_check_attach_target</c>: the kernel's log line (null when the kernel writes none) and errno.</summary>
internal sealed class AttachTargetException(Errno errno, string? logLine, string message) : BpfException(errno, message)
{
    /// <summary>The verifier log line the kernel writes for this refusal (null for the silent ones, e.g. A9).</summary>
    public string? LogLine { get; } = logLine;
}
