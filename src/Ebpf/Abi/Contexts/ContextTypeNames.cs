namespace Ebpf.Abi.Contexts;

/// <summary>
/// The named context struct of each program type as programs see it (the kernel's bpf_ctx_convert; libbpf's
/// global_ctx_map lists the same names, except that it names kprobe's <c>bpf_user_pt_regs_t</c>). Global functions'
/// <c>arg:ctx</c> parameters and libbpf's <c>__arg_ctx</c> fallback are checked against it.
/// </summary>
internal static class ContextTypeNames
{
    /// <summary>The context struct's name for <paramref name="type"/>, or null when the type's context has no name.</summary>
    public static string? Canonical(ProgramType type) => type switch
    {
        ProgramType.SocketFilter or ProgramType.SchedCls or ProgramType.SchedAct or ProgramType.CgroupSkb
            or ProgramType.LwtIn or ProgramType.LwtOut or ProgramType.LwtXmit or ProgramType.LwtSeg6Local
            or ProgramType.SkSkb or ProgramType.FlowDissector => "__sk_buff",
        ProgramType.Xdp => "xdp_md",
        ProgramType.CgroupDevice => "bpf_cgroup_dev_ctx",
        ProgramType.CgroupSock => "bpf_sock",
        ProgramType.CgroupSockAddr => "bpf_sock_addr",
        ProgramType.CgroupSockopt => "bpf_sockopt",
        ProgramType.CgroupSysctl => "bpf_sysctl",
        ProgramType.Kprobe => "pt_regs",
        ProgramType.PerfEvent => "bpf_perf_event_data",
        ProgramType.RawTracepoint or ProgramType.RawTracepointWritable => "bpf_raw_tracepoint_args",
        ProgramType.SkLookup => "bpf_sk_lookup",
        ProgramType.SkMsg => "sk_msg_md",
        ProgramType.SkReuseport => "sk_reuseport_md",
        ProgramType.SockOps => "bpf_sock_ops",
        ProgramType.Netfilter => "bpf_nf_ctx",
        _ => null,
    };
}
