using Ebpf.Abi;

namespace Ebpf.Verification;

/// <summary>
/// 6.18's private stack and the stack-size rules of check_max_stack_depth. Where the JIT gives a program a private
/// (per-CPU) stack, each subprogram of at least <see cref="MinSize"/> bytes runs on its own and counts against the
/// 512-byte limit alone, not with its callers; smaller ones stay on the kernel stack and still add up. A tail call
/// anywhere in the program turns the private stack off. Frame depths are rounded up to 16 bytes, as the kernel does
/// when the JIT is requested (bpf_jit_enable; the interpreter's 32-byte granularity only applies without it).
/// The managed runtime gives every frame its own 512 bytes, so whatever these rules accept it runs.
/// </summary>
internal static class PrivateStack
{
    /// <summary>BPF_PRIV_STACK_MIN_SIZE: smaller frames are not worth the JIT's private-stack prologue.</summary>
    public const int MinSize = 64;

    /// <summary>The caller depth from which a subprogram may no longer tail-call (bpf2bpf calls combined with tail
    /// calls: 32 tail calls × 256 bytes bound the kernel stack to 8 KiB).</summary>
    public const int TailCallCallerLimit = 256;

    /// <summary>round_up_stack_depth with the JIT requested.</summary>
    public static int Round(int depth) => (depth + 15) / 16 * 16;

    /// <summary>
    /// Whether the program may use a private stack (bpf_enable_priv_stack, as the live 6.18 kernel on x86-64 decides
    /// it: checked by PrivateStackRuleTests). Observed there: perf_event programs and kprobe.multi / kprobe.session
    /// programs do; plain kprobe/uprobe, uprobe.multi / uprobe.session (user-space probes may be preempted),
    /// tracepoint, raw_tracepoint and tp_btf programs keep the combined limit. fentry/fexit/LSM/struct_ops programs (which upstream may give a private stack) cannot be loaded on the
    /// machine we compare with, so they keep the combined limit: stricter than the kernel, never looser.
    /// </summary>
    public static bool Applies(ProgramType type, AttachType attach) => type switch
    {
        ProgramType.PerfEvent => true,
        ProgramType.Kprobe => attach is AttachType.TraceKprobeMulti or AttachType.TraceKprobeSession,
        _ => false,
    };
}
