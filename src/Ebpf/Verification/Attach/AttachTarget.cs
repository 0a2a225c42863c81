using Ebpf.Abi;
using Ebpf.Btf;

namespace Ebpf.Verification.Attach;

/// <summary>
/// What <c>bpf_check_attach_target</c> needs to know about a target BPF program (the kernel reads it from
/// <c>tgt_prog-&gt;aux</c>): its type, expected attach type, BTF, and one entry per func_info record.
/// </summary>
/// <param name="AttachedToTracing">The sticky <c>attach_tracing_prog</c> flag: the target is a tracing program that was
/// loaded against another tracing program (rule P9).</param>
public sealed record AttachTargetProgram(
    string Name,
    ProgramType Type,
    AttachType ExpectedAttachType,
    BtfSpec? Btf,
    IReadOnlyList<AttachableFunction> Functions,
    bool AttachedToTracing = false,
    bool Jited = true);

/// <summary>One func_info record of a target: the FUNC's BTF id, where it starts, and whether an extension may replace it.</summary>
/// <param name="Reliable">False for a static function or a main function whose prototype is not "one ctx argument"
/// (<c>func_info_aux[i].unreliable</c>): such a function cannot be replaced (P4) and fentry/fexit see 5 × u64.</param>
public sealed record AttachableFunction(uint BtfId, int Start, string Name, bool Reliable, bool IsExceptionCallback = false);

/// <summary>The program being loaded or attached, as <c>bpf_check_attach_target</c> sees it.</summary>
/// <param name="MainFunctionBtfId">func_info[0].type_id of the program's own BTF (0: it has no func_info).</param>
/// <param name="SavedTargetType">saved_dst_prog_type / saved_dst_attach_type (null before the first target was recorded).</param>
public sealed record AttachingProgram(
    string Name,
    ProgramType Type,
    AttachType ExpectedAttachType,
    BtfSpec? Btf,
    uint MainFunctionBtfId,
    bool Sleepable = false,
    (ProgramType Type, AttachType AttachType)? SavedTargetType = null)
{
    public bool IsExtension => Type == ProgramType.Ext;
    public bool IsTracing => Type == ProgramType.Tracing;
}

/// <summary>
/// The attach point <c>bpf_check_attach_target</c> accepted: the target function, its calling model
/// (<c>btf_func_model</c>: argument count and whether it returns a value) and its name.
/// </summary>
/// <param name="Conservative">The target is unreliable: fentry/fexit see 5 × u64 arguments and a u64 return.</param>
public sealed record AttachPoint(AttachableFunction Function, string FunctionName, int ArgumentCount, bool ReturnsValue, bool Conservative);

/// <summary>A refusal of <c>bpf_check_attach_target</c>: the kernel's log line (null when the kernel writes none) and errno.</summary>
public sealed class AttachTargetException(Errno errno, string? logLine, string message) : BpfException(errno, message)
{
    /// <summary>The verifier log line the kernel writes for this refusal (null for the silent ones, e.g. A9).</summary>
    public string? LogLine { get; } = logLine;
}
