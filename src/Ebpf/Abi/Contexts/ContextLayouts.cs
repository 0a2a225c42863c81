using static Ebpf.Abi.Contexts.AccessSizes;

namespace Ebpf.Abi.Contexts;

/// <summary>
/// Context layouts and access rules per program type (program-types.md §1–2, observed on 6.18).
/// </summary>
public static class ContextLayouts
{
    /// <summary>socket_filter's view of <c>__sk_buff</c>: everything common is readable, only cb[] writable,
    /// no packet pointers (§2.1, <c>sk_filter_is_valid_access</c>).</summary>
    public static readonly ContextLayout SkBuffSocketFilter = SkBuff(tc: false);

    /// <summary>sched_cls/sched_act's view of <c>__sk_buff</c> (<c>tc_cls_act_is_valid_access</c>).</summary>
    public static readonly ContextLayout SkBuffTc = SkBuff(tc: true);

    /// <summary><c>xdp_md</c> (24 bytes): 4-byte reads only, no writes (§2.4).</summary>
    public static readonly ContextLayout XdpMd = Xdp(devmap: false);

    /// <summary><c>xdp_md</c> for expected_attach_type BPF_XDP_DEVMAP, where egress_ifindex is readable.</summary>
    public static readonly ContextLayout XdpMdDevmap = Xdp(devmap: true);

    /// <summary>kprobe: the real <c>struct pt_regs</c> (168 bytes), aligned reads of any width.</summary>
    public static readonly ContextLayout PtRegs = new("pt_regs", 168, [new ContextField(0, 168, "regs", Any)], isRealMemory: true);

    /// <summary>tracepoint: the perf trace record; [0, 8) is hidden, reads in [8, 8192) (§1.6).</summary>
    public static readonly ContextLayout TracepointRecord = new("trace_entry", 8192, [new ContextField(8, 8192 - 8, "fields", Any)], isRealMemory: true);

    /// <summary><c>bpf_perf_event_data</c>: regs are 8-byte reads only; sample_period and addr allow narrow reads.</summary>
    public static readonly ContextLayout PerfEventData = new("bpf_perf_event_data", 184,
    [
        new ContextField(0, 168, "regs", B8),
        new ContextField(168, 8, "sample_period", Any),
        new ContextField(176, 8, "addr", Any),
    ], isRealMemory: false);

    /// <summary><c>bpf_raw_tracepoint_args</c>: up to 12 u64 args, aligned reads of any width.</summary>
    public static readonly ContextLayout RawTracepointArgs = new("bpf_raw_tracepoint_args", 96, [new ContextField(0, 96, "args", Any)], isRealMemory: true);

    /// <summary>raw_tracepoint_writable: as raw_tp, but ctx[0] read as 8 bytes is the writable tracepoint buffer.</summary>
    public static readonly ContextLayout RawTracepointWritableArgs = new("bpf_raw_tracepoint_args", 96,
    [
        new ContextField(0, 8, "args[0]", B8, Yields: ContextValueKind.TpBuffer),
        new ContextField(8, 88, "args", Any),
    ], isRealMemory: true);

    /// <summary>tracing (fentry/fexit/tp_btf/iter) without BTF typing: 12 u64 slots, reads at slot starts.
    /// Pointer arguments need the target's BTF to become PTR_TO_BTF_ID; here they read as scalars.</summary>
    public static readonly ContextLayout TracingArgs = new("u64[]", 96,
        [.. Enumerable.Range(0, 12).Select(i => new ContextField(i * 8, 8, $"ctx[{i}]", Any, StartOnly: true))], isRealMemory: true);

    /// <summary>syscall: the user blob, any aligned access in [0, U16_MAX), read and write (§1.8).</summary>
    public static readonly ContextLayout SyscallBlob = new("ctx_in", 65535, [new ContextField(0, 65535, "ctx", Any, Any)], isRealMemory: true);

    /// <summary>The layout a program of <paramref name="type"/> sees, or null when no context is modelled.</summary>
    public static ContextLayout? For(ProgramType type, AttachType attachType = default) => type switch
    {
        ProgramType.SocketFilter => SkBuffSocketFilter,
        ProgramType.SchedCls or ProgramType.SchedAct => SkBuffTc,
        ProgramType.Xdp => attachType == AttachType.XdpDevmap ? XdpMdDevmap : XdpMd,
        ProgramType.Kprobe => PtRegs,
        ProgramType.Tracepoint => TracepointRecord,
        ProgramType.PerfEvent => PerfEventData,
        ProgramType.RawTracepoint => RawTracepointArgs,
        ProgramType.RawTracepointWritable => RawTracepointWritableArgs,
        ProgramType.Tracing => TracingArgs,
        ProgramType.Syscall => SyscallBlob,
        _ => null,
    };

    /// <summary>Direct packet access per type (§2.13): (read, write).</summary>
    public static (bool Read, bool Write) PacketAccess(ProgramType type) => type switch
    {
        ProgramType.SchedCls or ProgramType.SchedAct or ProgramType.Xdp or ProgramType.LwtXmit or ProgramType.SkSkb or ProgramType.SkMsg => (true, true),
        ProgramType.CgroupSkb or ProgramType.LwtIn or ProgramType.LwtOut or ProgramType.LwtSeg6Local or ProgramType.SkReuseport or ProgramType.FlowDissector => (true, false),
        _ => (false, false),
    };

    /// <summary>True when LD_ABS / LD_IND are allowed (<c>may_access_skb</c>).</summary>
    public static bool AllowsLdAbs(ProgramType type) =>
        type is ProgramType.SocketFilter or ProgramType.SchedCls or ProgramType.SchedAct;

    private static ContextLayout SkBuff(bool tc)
    {
        // Notation of §2.1: R = read widths (narrow within the field), W = write width.
        AccessSizes TcWrite(AccessSizes w) => tc ? w : None;
        var fields = new List<ContextField>
        {
            new(0, 4, "len", UpTo4),
            new(4, 4, "pkt_type", UpTo4, TargetSize: 1),
            new(8, 4, "mark", UpTo4, TcWrite(B4)),
            new(12, 4, "queue_mapping", UpTo4, TcWrite(B4), TargetSize: 2),
            new(16, 4, "protocol", UpTo4, TargetSize: 2),
            new(20, 4, "vlan_present", UpTo4),
            new(24, 4, "vlan_tci", UpTo4, TargetSize: 2),
            new(28, 4, "vlan_proto", UpTo4, TargetSize: 2),
            new(32, 4, "priority", UpTo4, TcWrite(B4)),
            new(36, 4, "ingress_ifindex", UpTo4),
            new(40, 4, "ifindex", UpTo4),
            new(44, 4, "tc_index", UpTo4, TcWrite(B4), TargetSize: 2),
            new(48, 20, "cb", Any, Any),
            new(68, 4, "hash", UpTo4),
        };
        if (tc)
        {
            fields.Add(new(72, 4, "tc_classid", UpTo4, B4, TargetSize: 2));
            fields.Add(new(76, 4, "data", B4, Yields: ContextValueKind.Packet, StartOnly: true));
            fields.Add(new(80, 4, "data_end", B4, Yields: ContextValueKind.PacketEnd, StartOnly: true));
        }
        fields.Add(new(84, 4, "napi_id", UpTo4));
        if (tc)
        {
            fields.Add(new(140, 4, "data_meta", B4, Yields: ContextValueKind.PacketMeta, StartOnly: true));
            fields.Add(new(152, 8, "tstamp", B8, B8, StartOnly: true));
            fields.Add(new(160, 4, "wire_len", UpTo4));
        }
        fields.Add(new(164, 4, "gso_segs", UpTo4));
        fields.Add(new(168, 8, "sk", B8, Yields: ContextValueKind.SockCommonOrNull, StartOnly: true));
        fields.Add(new(176, 4, "gso_size", UpTo4));
        if (tc)
        {
            fields.Add(new(180, 1, "tstamp_type", B1, StartOnly: true));
            fields.Add(new(184, 8, "hwtstamp", B8, StartOnly: true));
        }
        return new ContextLayout("__sk_buff", 192, fields, isRealMemory: false);
    }

    private static ContextLayout Xdp(bool devmap)
    {
        var fields = new List<ContextField>
        {
            new(0, 4, "data", B4, Yields: ContextValueKind.Packet),
            new(4, 4, "data_end", B4, Yields: ContextValueKind.PacketEnd),
            new(8, 4, "data_meta", B4, Yields: ContextValueKind.PacketMeta),
            new(12, 4, "ingress_ifindex", B4),
            new(16, 4, "rx_queue_index", B4),
        };
        if (devmap) fields.Add(new(20, 4, "egress_ifindex", B4));
        return new ContextLayout("xdp_md", 24, fields, isRealMemory: false);
    }
}
