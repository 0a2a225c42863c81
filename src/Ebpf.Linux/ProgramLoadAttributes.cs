using Ebpf.Abi;
using Ebpf.Isa;

namespace Ebpf.Linux;

/// <summary>prog_flags of BPF_PROG_LOAD.</summary>
[Flags]
public enum ProgramLoadFlags : uint
{
    /// <summary>No flags.</summary>
    None = 0,
    /// <summary>BPF_F_STRICT_ALIGNMENT: verify packet access alignment as if the arch required it.</summary>
    StrictAlignment = 1 << 0,
    /// <summary>BPF_F_ANY_ALIGNMENT: skip alignment checks (testing only).</summary>
    AnyAlignment = 1 << 1,
    /// <summary>BPF_F_TEST_RND_HI32: poison the upper halves of 32-bit results (testing zero-extension).</summary>
    TestRandomHi32 = 1 << 2,
    /// <summary>BPF_F_TEST_STATE_FREQ: checkpoint verifier states often (testing state pruning).</summary>
    TestStateFreq = 1 << 3,
    /// <summary>BPF_F_SLEEPABLE: the program may sleep (sleepable tracing, lsm, uprobe, iter).</summary>
    Sleepable = 1 << 4,
    /// <summary>BPF_F_XDP_HAS_FRAGS: the XDP program handles multi-buffer frames.</summary>
    XdpHasFrags = 1 << 5,
    /// <summary>BPF_F_XDP_DEV_BOUND_ONLY: bound to the device of prog_ifindex, may use its metadata kfuncs.</summary>
    XdpDevBoundOnly = 1 << 6,
    /// <summary>BPF_F_TEST_REG_INVARIANTS: make the verifier check its register bound invariants (testing).</summary>
    TestRegInvariants = 1 << 7,
}

/// <summary>log_level bits of BPF_PROG_LOAD / BPF_BTF_LOAD.</summary>
[Flags]
public enum VerifierLogLevel : uint
{
    /// <summary>No log: the kernel writes nothing.</summary>
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
    /// <summary>prog_type: what the program is and where it may attach.</summary>
    public required ProgramType Type { get; init; }
    /// <summary>insns: the program, with map and BTF references already resolved to fds and ids.</summary>
    public required ReadOnlyMemory<Instruction> Instructions { get; init; }
    /// <summary>The object's name; sanitised to what the kernel accepts (see <see cref="ObjectName"/>).</summary>
    public string? Name { get; init; }
    /// <summary>license: "GPL" (or a compatible string) unlocks GPL-only helpers.</summary>
    public string License { get; init; } = "GPL";
    /// <summary>kern_version: checked only by old kernels for kprobes; 0 is fine elsewhere.</summary>
    public uint KernelVersion { get; init; }
    /// <summary>prog_flags.</summary>
    public ProgramLoadFlags Flags { get; init; }
    /// <summary>expected_attach_type: the hook the program will attach to, for types that check it at load.</summary>
    public AttachType ExpectedAttachType { get; init; }

    /// <summary>Log level of the first attempt. With None, a failed load is retried once at Level1 to fetch the log.</summary>
    public VerifierLogLevel LogLevel { get; init; }
    /// <summary>Initial log buffer size in bytes; doubled (or set to log_true_size) on ENOSPC up to <see cref="MaxLogSize"/>.</summary>
    public int LogSize { get; init; } = 64 * 1024;
    /// <summary>The largest log buffer a retry grows to, in bytes.</summary>
    public int MaxLogSize { get; init; } = 64 * 1024 * 1024;
    /// <summary>When the load fails without a log, retry once at Level1 to attach the verifier's explanation.</summary>
    public bool RetryWithLogOnFailure { get; init; } = true;

    /// <summary>The program's BTF (prog_btf_fd), needed for func_info/line_info.</summary>
    public BpfFd? Btf { get; init; }
    /// <summary>struct bpf_func_info records (insn_off, type_id), <see cref="FuncInfoRecordSize"/> bytes each.</summary>
    public ReadOnlyMemory<byte> FuncInfo { get; init; }
    /// <summary>func_info_rec_size: bytes of one struct bpf_func_info record.</summary>
    public uint FuncInfoRecordSize { get; init; } = 8;
    /// <summary>struct bpf_line_info records, <see cref="LineInfoRecordSize"/> bytes each.</summary>
    public ReadOnlyMemory<byte> LineInfo { get; init; }
    /// <summary>line_info_rec_size: bytes of one struct bpf_line_info record.</summary>
    public uint LineInfoRecordSize { get; init; } = 16;
    /// <summary>
    /// core_relos: struct bpf_core_relo records (insn_off in bytes, type_id, access_str_off, kind) the kernel applies
    /// itself against its BTF (light skeletons' kernel-side CO-RE), <see cref="CoreRelocationRecordSize"/> bytes each.
    /// The kernel reads them only when func_info or line_info is given too.
    /// </summary>
    public ReadOnlyMemory<byte> CoreRelocations { get; init; }
    /// <summary>core_relo_rec_size: bytes of one struct bpf_core_relo record.</summary>
    public uint CoreRelocationRecordSize { get; init; } = 16;

    /// <summary>The BTF type id of the attach target (tracing, lsm, ext, struct_ops).</summary>
    public uint AttachBtfId { get; init; }
    /// <summary>attach_prog_fd (freplace target) or attach_btf_obj_fd (module BTF), per program type.</summary>
    public BpfFd? AttachTarget { get; init; }
    /// <summary>The interface for device-bound (offloaded) programs; 0 otherwise.</summary>
    public uint Ifindex { get; init; }
}
