using Ebpf.Abi;

namespace Ebpf.Verification;

/// <summary>
/// The kernel's kfunc hooks (bpf_prog_type_to_kfunc_hook): register_btf_kfunc_id_set files a kfunc id set under the
/// hook of the program type it names, and a program may call the kfunc when the set is filed under the common hook
/// (BPF_PROG_TYPE_UNSPEC) or under its own type's hook. Program types share hooks: tracing, tracepoint,
/// raw_tracepoint, perf_event and lsm; every cgroup type and sock_ops; the lwt types.
/// </summary>
internal static class KfuncHooks
{
    /// <summary>The hook of <paramref name="type"/>, or null where the kernel has none (BTF_KFUNC_HOOK_MAX: a set
    /// registered for such a type is refused with EINVAL).</summary>
    public static string? Hook(ProgramType type) => type switch
    {
        ProgramType.Unspec => "common",
        ProgramType.Xdp => "xdp",
        ProgramType.SchedCls => "tc",
        ProgramType.StructOps => "struct_ops",
        ProgramType.Tracing or ProgramType.Tracepoint or ProgramType.RawTracepoint or ProgramType.PerfEvent or ProgramType.Lsm => "tracing",
        ProgramType.Syscall => "syscall",
        ProgramType.CgroupSkb or ProgramType.CgroupSock or ProgramType.CgroupDevice or ProgramType.CgroupSockAddr
            or ProgramType.CgroupSockopt or ProgramType.CgroupSysctl or ProgramType.SockOps => "cgroup",
        ProgramType.SchedAct => "sched_act",
        ProgramType.SkSkb => "sk_skb",
        ProgramType.SocketFilter => "socket_filter",
        ProgramType.LwtOut or ProgramType.LwtIn or ProgramType.LwtXmit or ProgramType.LwtSeg6Local => "lwt",
        ProgramType.Netfilter => "netfilter",
        ProgramType.Kprobe => "kprobe",
        _ => null,
    };

    /// <summary>btf_kfunc_id_set_contains: whether a kfunc registered for <paramref name="registered"/> (null: the
    /// common hook) may be called from a program of type <paramref name="type"/>.</summary>
    public static bool Allows(IReadOnlyCollection<ProgramType>? registered, ProgramType type)
    {
        if (registered is null || registered.Contains(ProgramType.Unspec))
            return true;
        string? hook = Hook(type);
        return hook is not null && registered.Any(r => Hook(r) == hook);
    }
}
