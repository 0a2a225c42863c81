using Ebpf.Abi;
using Ebpf.Isa;

namespace Ebpf.Linux;

/// <summary>prog_flags of BPF_PROG_LOAD.</summary>
[Flags]
public enum ProgramLoadFlags : uint
{
    None = 0,
    StrictAlignment = 1 << 0,
    AnyAlignment = 1 << 1,
    TestRandomHi32 = 1 << 2,
    TestStateFreq = 1 << 3,
    Sleepable = 1 << 4,
    XdpHasFrags = 1 << 5,
    XdpDevBoundOnly = 1 << 6,
    TestRegInvariants = 1 << 7,
}

/// <summary>log_level bits of BPF_PROG_LOAD / BPF_BTF_LOAD.</summary>
[Flags]
public enum VerifierLogLevel : uint
{
    None = 0,
    /// <summary>The failing path (or only the stats line on success).</summary>
    Level1 = 1,
    /// <summary>Every path, verbose.</summary>
    Level2 = 2,
    /// <summary>Verification time and stack depth.</summary>
    Stats = 4,
    /// <summary>Keep the head of the log instead of rotating (6.4+).</summary>
    Fixed = 8,
}

/// <summary>Everything BPF_PROG_LOAD takes, as the attr: what the Linux backend fills from a ProgramDefinition (usable alone, for raw loads).</summary>
public sealed class ProgramLoadAttributes
{
    public required ProgramType Type { get; init; }
    public required ReadOnlyMemory<Instruction> Instructions { get; init; }
    /// <summary>The object's name; sanitised to what the kernel accepts (see <see cref="ObjectName"/>).</summary>
    public string? Name { get; init; }
    public string License { get; init; } = "GPL";
    public uint KernelVersion { get; init; }
    public ProgramLoadFlags Flags { get; init; }
    public AttachType ExpectedAttachType { get; init; }

    /// <summary>Log level of the first attempt. With None, a failed load is retried once at Level1 to fetch the log.</summary>
    public VerifierLogLevel LogLevel { get; init; }
    /// <summary>Initial log buffer size in bytes; doubled (or set to log_true_size) on ENOSPC up to <see cref="MaxLogSize"/>.</summary>
    public int LogSize { get; init; } = 64 * 1024;
    public int MaxLogSize { get; init; } = 64 * 1024 * 1024;
    /// <summary>When the load fails without a log, retry once at Level1 to attach the verifier's explanation.</summary>
    public bool RetryWithLogOnFailure { get; init; } = true;

    /// <summary>The program's BTF (prog_btf_fd), needed for func_info/line_info.</summary>
    public BpfFd? Btf { get; init; }
    /// <summary>struct bpf_func_info records (insn_off, type_id), <see cref="FuncInfoRecordSize"/> bytes each.</summary>
    public ReadOnlyMemory<byte> FuncInfo { get; init; }
    public uint FuncInfoRecordSize { get; init; } = 8;
    /// <summary>struct bpf_line_info records, <see cref="LineInfoRecordSize"/> bytes each.</summary>
    public ReadOnlyMemory<byte> LineInfo { get; init; }
    public uint LineInfoRecordSize { get; init; } = 16;

    /// <summary>The BTF type id of the attach target (tracing, lsm, ext, struct_ops).</summary>
    public uint AttachBtfId { get; init; }
    /// <summary>attach_prog_fd (freplace target) or attach_btf_obj_fd (module BTF), per program type.</summary>
    public BpfFd? AttachTarget { get; init; }
    /// <summary>The interface for device-bound (offloaded) programs; 0 otherwise.</summary>
    public uint Ifindex { get; init; }
}
