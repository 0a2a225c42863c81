using static Ebpf.Abi.Contexts.AccessSizes;

namespace Ebpf.Abi.Contexts;

/// <summary>
/// Context layouts and access rules per program type (program-types.md §1–2, observed on 6.18).
/// </summary>
internal static class ContextLayouts
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

    /// <summary><c>bpf_nf_ctx</c> (nf_is_valid_access): two pointers read whole, never written; each load yields a
    /// typed kernel pointer (<c>state</c> to <c>nf_hook_state</c>, <c>skb</c> to <c>sk_buff</c>) walked by BTF.</summary>
    public static readonly ContextLayout NetfilterCtx = new("bpf_nf_ctx", 16,
    [
        new ContextField(0, 8, "state", B8, Yields: ContextValueKind.BtfId),
        new ContextField(8, 8, "skb", B8, Yields: ContextValueKind.BtfId),
    ], isRealMemory: true)
    {
        KernelStructs = new Dictionary<int, string> { [0] = "nf_hook_state", [8] = "sk_buff" },
    };

    /// <summary>The layout a program of <paramref name="type"/> sees, or null when no context is modelled.</summary>
    public static ContextLayout? For(ProgramType type, AttachType attachType = default) => type switch
    {
        ProgramType.SocketFilter => SkBuffSocketFilter,
        ProgramType.CgroupSkb => SkBuffCgroupSkb,
        ProgramType.LwtIn or ProgramType.LwtOut or ProgramType.LwtXmit or ProgramType.LwtSeg6Local => SkBuffLwt,
        ProgramType.SockOps => SockOps,
        // bpf_prog_load_fixup_attach_type: a cgroup_sock program loaded without an expected attach type is a sock_create one.
        ProgramType.CgroupSock => CgroupSock(attachType == AttachType.CgroupInetIngress ? AttachType.CgroupInetSockCreate : attachType),
        ProgramType.CgroupSockAddr => CgroupSockAddr(attachType),
        ProgramType.SchedCls or ProgramType.SchedAct => SkBuffTc,
        ProgramType.SkSkb => SkBuffSkSkb,
        ProgramType.SkMsg => SkMsgMd,
        ProgramType.SkReuseport => SkReuseportMd,
        ProgramType.SkLookup => SkLookup,
        ProgramType.CgroupDevice => CgroupDevice,
        ProgramType.Xdp => attachType == AttachType.XdpDevmap ? XdpMdDevmap : XdpMd,
        ProgramType.Kprobe => PtRegs,
        ProgramType.Tracepoint => TracepointRecord,
        ProgramType.PerfEvent => PerfEventData,
        ProgramType.RawTracepoint => RawTracepointArgs,
        ProgramType.RawTracepointWritable => RawTracepointWritableArgs,
        ProgramType.Tracing => TracingArgs,
        ProgramType.Syscall => SyscallBlob,
        ProgramType.Netfilter => NetfilterCtx,
        _ => null,
    };

    /// <summary>Direct packet access per type (§2.13): (read, write).</summary>
    public static (bool Read, bool Write) PacketAccess(ProgramType type) => type switch
    {
        ProgramType.SchedCls or ProgramType.SchedAct or ProgramType.Xdp or ProgramType.LwtXmit or ProgramType.SkSkb or ProgramType.SkMsg => (true, true),
        // sock_ops reads the skb through skb_data/skb_data_end; the kernel only checks packet writes per type.
        ProgramType.SockOps => (true, false),
        ProgramType.CgroupSkb or ProgramType.LwtIn or ProgramType.LwtOut or ProgramType.LwtSeg6Local or ProgramType.SkReuseport or ProgramType.FlowDissector => (true, false),
        _ => (false, false),
    };

    /// <summary>True when LD_ABS / LD_IND are allowed (<c>may_access_skb</c>).</summary>
    public static bool AllowsLdAbs(ProgramType type) =>
        type is ProgramType.SocketFilter or ProgramType.SchedCls or ProgramType.SchedAct;

    /// <summary>lwt_in/out/xmit/seg6local's view of <c>__sk_buff</c> (<c>lwt_is_valid_access</c>): the socket filter's
    /// fields plus data/data_end; mark, priority and cb[] writable.</summary>
    public static readonly ContextLayout SkBuffLwt = SkBuff(tc: false, lwt: true);

    /// <summary><c>struct bpf_sock_ops</c> (224 bytes, <c>sock_ops_is_valid_access</c>): 4-byte reads of every u32,
    /// 8-byte reads of the u64s and pointers, narrow reads only of skb_tcp_flags; writes only to reply and sk_txhash.</summary>
    public static readonly ContextLayout SockOps = new("bpf_sock_ops", 224,
    [
        new(0, 4, "op", B4),
        new(4, 16, "reply", B4, B4),
        new(20, 144, "fields", B4),
        new(164, 4, "sk_txhash", B4, B4),
        new(168, 8, "bytes_received", B8, StartOnly: true),
        new(176, 8, "bytes_acked", B8, StartOnly: true),
        new(184, 8, "sk", B8, Yields: ContextValueKind.SocketOrNull, StartOnly: true),
        new(192, 8, "skb_data", B8, Yields: ContextValueKind.Packet, StartOnly: true),
        new(200, 8, "skb_data_end", B8, Yields: ContextValueKind.PacketEnd, StartOnly: true),
        new(208, 4, "skb_len", B4),
        new(212, 4, "skb_tcp_flags", UpTo4),
        new(216, 8, "skb_hwtstamp", B8, StartOnly: true),
    ], isRealMemory: false);

    /// <summary><c>struct bpf_sock</c> for cgroup_sock (80 bytes, <c>sock_filter_is_valid_access</c>): bound_dev_if, mark and
    /// priority are read-write only for sock_create/sock_release; src_ip4/src_ip6/src_port only for the post_bind hooks.</summary>
    public static ContextLayout CgroupSock(AttachType attach)
    {
        bool full = attach is AttachType.CgroupInetSockCreate or AttachType.CgroupInetSockRelease;
        bool post4 = attach == AttachType.CgroupInet4PostBind, post6 = attach == AttachType.CgroupInet6PostBind;
        var rw = full ? B4 : None;
        var fields = new List<ContextField>();
        if (full) fields.Add(new(0, 4, "bound_dev_if", B4, rw));
        fields.Add(new(4, 4, "family", UpTo4));
        fields.Add(new(8, 4, "type", UpTo4));
        fields.Add(new(12, 4, "protocol", UpTo4));
        if (full) fields.Add(new(16, 4, "mark", B4, rw));
        if (full) fields.Add(new(20, 4, "priority", B4, rw));
        if (post4) fields.Add(new(24, 4, "src_ip4", UpTo4));
        if (post6) fields.Add(new(28, 16, "src_ip6", UpTo4));
        if (post4 || post6) fields.Add(new(44, 4, "src_port", UpTo4));
        // dst_port is a __be16 followed by padding: 1/2-byte reads within the port, or a 4-byte read of the whole word;
        // the padding itself is not readable.
        fields.Add(new(48, 2, "dst_port", B1 | B2) { WordLoadAtStart = true });
        fields.Add(new(52, 4, "dst_ip4", UpTo4));
        fields.Add(new(56, 16, "dst_ip6", UpTo4));
        fields.Add(new(72, 4, "state", UpTo4));
        fields.Add(new(76, 4, "rx_queue_mapping", UpTo4));
        return new ContextLayout("bpf_sock", 80, fields, isRealMemory: false);
    }

    /// <summary><c>struct bpf_sock_addr</c> (72 bytes, <c>sock_addr_is_valid_access</c>): the address fields of the hook's
    /// family are narrow-readable and 4-byte writable (8-byte aligned pairs of the IPv6 words too); the rest 4-byte reads;
    /// sk an 8-byte read of a socket pointer.</summary>
    public static ContextLayout CgroupSockAddr(AttachType attach)
    {
        bool ip4 = attach is AttachType.CgroupInet4Bind or AttachType.CgroupInet4Connect or AttachType.CgroupUdp4Recvmsg
            or AttachType.CgroupUdp4Sendmsg or AttachType.CgroupInet4Getpeername or AttachType.CgroupInet4Getsockname;
        bool ip6 = attach is AttachType.CgroupInet6Bind or AttachType.CgroupInet6Connect or AttachType.CgroupUdp6Recvmsg
            or AttachType.CgroupUdp6Sendmsg or AttachType.CgroupInet6Getpeername or AttachType.CgroupInet6Getsockname;
        var fields = new List<ContextField> { new(0, 4, "user_family", B4) };
        if (ip4) fields.Add(new(4, 4, "user_ip4", UpTo4, B4));
        if (ip6) fields.Add(new(8, 16, "user_ip6", Any, B4 | B8));
        fields.Add(new(24, 4, "user_port", UpTo4, B4));
        fields.Add(new(28, 4, "family", B4));
        fields.Add(new(32, 4, "type", B4));
        fields.Add(new(36, 4, "protocol", B4));
        if (attach == AttachType.CgroupUdp4Sendmsg) fields.Add(new(40, 4, "msg_src_ip4", UpTo4, B4));
        // msg_src_ip6 starts at 44: only the 8-byte aligned pair at 48 may be read or written as a u64.
        if (attach == AttachType.CgroupUdp6Sendmsg)
        {
            fields.Add(new(44, 4, "msg_src_ip6[0]", UpTo4, B4));
            fields.Add(new(48, 12, "msg_src_ip6", Any, B4 | B8));
        }
        fields.Add(new(64, 8, "sk", B8, Yields: ContextValueKind.Socket, StartOnly: true));
        return new ContextLayout("bpf_sock_addr", 72, fields, isRealMemory: false);
    }

    /// <summary>cgroup_skb's view of <c>__sk_buff</c> (<c>cg_skb_is_valid_access</c> over <c>bpf_skb_is_valid_access</c>,
    /// loader with CAP_BPF): tc_classid, data_meta, wire_len and tstamp_type are denied; data/data_end give packet pointers
    /// (read-only packet); the socket fields family…local_port are readable; mark, priority, cb[] and tstamp are writable.</summary>
    public static readonly ContextLayout SkBuffCgroupSkb = new("__sk_buff", 192,
    [
        new(0, 4, "len", UpTo4),
        new(4, 4, "pkt_type", UpTo4, TargetSize: 1),
        new(8, 4, "mark", UpTo4, B4),
        new(12, 4, "queue_mapping", UpTo4, TargetSize: 2),
        new(16, 4, "protocol", UpTo4, TargetSize: 2),
        new(20, 4, "vlan_present", UpTo4),
        new(24, 4, "vlan_tci", UpTo4, TargetSize: 2),
        new(28, 4, "vlan_proto", UpTo4, TargetSize: 2),
        new(32, 4, "priority", UpTo4, B4),
        new(36, 4, "ingress_ifindex", UpTo4),
        new(40, 4, "ifindex", UpTo4),
        new(44, 4, "tc_index", UpTo4, TargetSize: 2),
        new(48, 20, "cb", Any, Any),
        new(68, 4, "hash", UpTo4),
        new(76, 4, "data", B4, Yields: ContextValueKind.Packet, StartOnly: true),
        new(80, 4, "data_end", B4, Yields: ContextValueKind.PacketEnd, StartOnly: true),
        new(84, 4, "napi_id", UpTo4),
        new(88, 4, "family", UpTo4),
        new(92, 4, "remote_ip4", B4),
        new(96, 4, "local_ip4", B4),
        new(100, 16, "remote_ip6", B4),
        new(116, 16, "local_ip6", B4),
        new(132, 4, "remote_port", UpTo4),
        new(136, 4, "local_port", UpTo4),
        new(152, 8, "tstamp", B8, B8, StartOnly: true),
        new(164, 4, "gso_segs", UpTo4),
        new(168, 8, "sk", B8, Yields: ContextValueKind.SockCommonOrNull, StartOnly: true),
        new(176, 4, "gso_size", UpTo4),
        new(184, 8, "hwtstamp", B8, StartOnly: true),
    ], isRealMemory: false);

    /// <summary>
    /// cgroup_skb's view for a loader without CAP_BPF: cg_skb_is_valid_access denies data and data_end (no direct
    /// packet access) and the tstamp write.
    /// </summary>
    public static readonly ContextLayout SkBuffCgroupSkbUnprivileged = new("__sk_buff", 192,
        SkBuffCgroupSkb.Fields.Where(f => f.Name is not ("data" or "data_end"))
            .Select(f => f.Name == "tstamp" ? f with { Write = None } : f).ToList(), isRealMemory: false);

    private static ContextLayout SkBuff(bool tc, bool lwt = false)
    {
        // Notation of §2.1: R = read widths (narrow within the field), W = write width.
        AccessSizes TcWrite(AccessSizes w) => tc ? w : None;
        AccessSizes LwtWrite(AccessSizes w) => tc || lwt ? w : None;
        var fields = new List<ContextField>
        {
            new(0, 4, "len", UpTo4),
            new(4, 4, "pkt_type", UpTo4, TargetSize: 1),
            new(8, 4, "mark", UpTo4, LwtWrite(B4)),
            new(12, 4, "queue_mapping", UpTo4, TcWrite(B4), TargetSize: 2),
            new(16, 4, "protocol", UpTo4, TargetSize: 2),
            new(20, 4, "vlan_present", UpTo4),
            new(24, 4, "vlan_tci", UpTo4, TargetSize: 2),
            new(28, 4, "vlan_proto", UpTo4, TargetSize: 2),
            new(32, 4, "priority", UpTo4, LwtWrite(B4)),
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
        if (lwt)
        {
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

    /// <summary>sk_skb's view of <c>__sk_buff</c> (<c>sk_skb_is_valid_access</c>): no mark, tc_classid, data_meta or
    /// timestamps; data/data_end and the socket's addresses readable; only tc_index and priority writable.</summary>
    public static readonly ContextLayout SkBuffSkSkb = new("__sk_buff", 192,
    [
        new(0, 4, "len", UpTo4),
        new(4, 4, "pkt_type", UpTo4, TargetSize: 1),
        new(12, 4, "queue_mapping", UpTo4, TargetSize: 2),
        new(16, 4, "protocol", UpTo4, TargetSize: 2),
        new(20, 4, "vlan_present", UpTo4),
        new(24, 4, "vlan_tci", UpTo4, TargetSize: 2),
        new(28, 4, "vlan_proto", UpTo4, TargetSize: 2),
        new(32, 4, "priority", UpTo4, B4),
        new(36, 4, "ingress_ifindex", UpTo4),
        new(40, 4, "ifindex", UpTo4),
        new(44, 4, "tc_index", UpTo4, B4, TargetSize: 2),
        new(48, 20, "cb", Any),
        new(68, 4, "hash", UpTo4),
        new(76, 4, "data", B4, Yields: ContextValueKind.Packet, StartOnly: true),
        new(80, 4, "data_end", B4, Yields: ContextValueKind.PacketEnd, StartOnly: true),
        new(84, 4, "napi_id", UpTo4),
        new(88, 4, "family", UpTo4),
        new(92, 4, "remote_ip4", B4),
        new(96, 4, "local_ip4", B4),
        new(100, 16, "remote_ip6", B4),
        new(116, 16, "local_ip6", B4),
        new(132, 4, "remote_port", UpTo4),
        new(136, 4, "local_port", UpTo4),
        new(164, 4, "gso_segs", UpTo4),
        new(168, 8, "sk", B8, Yields: ContextValueKind.SockCommonOrNull, StartOnly: true),
        new(176, 4, "gso_size", UpTo4),
    ], isRealMemory: false);

    /// <summary><c>struct sk_msg_md</c> (80 bytes, <c>sk_msg_is_valid_access</c>): read-only; data, data_end and sk are
    /// 8-byte loads yielding packet pointers and the socket, every other field a 4-byte load at its start.</summary>
    public static readonly ContextLayout SkMsgMd = new("sk_msg_md", 80,
    [
        new(0, 8, "data", B8, Yields: ContextValueKind.Packet, StartOnly: true),
        new(8, 8, "data_end", B8, Yields: ContextValueKind.PacketEnd, StartOnly: true),
        new(16, 4, "family", B4),
        new(20, 4, "remote_ip4", B4),
        new(24, 4, "local_ip4", B4),
        new(28, 16, "remote_ip6", B4),
        new(44, 16, "local_ip6", B4),
        new(60, 4, "remote_port", B4),
        new(64, 4, "local_port", B4),
        new(68, 4, "size", B4),
        new(72, 8, "sk", B8, Yields: ContextValueKind.Socket, StartOnly: true),
    ], isRealMemory: false);

    /// <summary><c>struct sk_reuseport_md</c> (56 bytes, <c>sk_reuseport_is_valid_access</c>): read-only; data, data_end,
    /// sk (a socket) and migrating_sk (a sock_common or NULL) are 8-byte loads, hash a 4-byte load, the other u32s narrow
    /// (eth_protocol at least 2 bytes).</summary>
    public static readonly ContextLayout SkReuseportMd = new("sk_reuseport_md", 56,
    [
        new(0, 8, "data", B8, Yields: ContextValueKind.Packet, StartOnly: true),
        new(8, 8, "data_end", B8, Yields: ContextValueKind.PacketEnd, StartOnly: true),
        new(16, 4, "len", UpTo4),
        new(20, 4, "eth_protocol", B2 | B4),
        new(24, 4, "ip_protocol", UpTo4),
        new(28, 4, "bind_inany", UpTo4),
        new(32, 4, "hash", B4, StartOnly: true),
        new(40, 8, "sk", B8, Yields: ContextValueKind.Socket, StartOnly: true),
        new(48, 8, "migrating_sk", B8, Yields: ContextValueKind.SockCommonOrNull, StartOnly: true),
    ], isRealMemory: false);

    /// <summary><c>struct bpf_sk_lookup</c> (72 bytes, <c>sk_lookup_is_valid_access</c>): read-only; sk (a socket or NULL)
    /// is an 8-byte load, the u32s narrow, remote_port and the padding after it 1/2-byte loads or one 4-byte load.</summary>
    public static readonly ContextLayout SkLookup = new("bpf_sk_lookup", 72,
    [
        new(0, 8, "sk", B8, Yields: ContextValueKind.SocketOrNull, StartOnly: true),
        new(8, 4, "family", UpTo4),
        new(12, 4, "protocol", UpTo4),
        new(16, 4, "remote_ip4", UpTo4),
        new(20, 16, "remote_ip6", UpTo4),
        new(36, 4, "remote_port", UpTo4),
        new(40, 4, "local_ip4", UpTo4),
        new(44, 16, "local_ip6", UpTo4),
        new(60, 4, "local_port", UpTo4),
        new(64, 4, "ingress_ifindex", UpTo4),
    ], isRealMemory: false);

    /// <summary><c>struct bpf_cgroup_dev_ctx</c> (12 bytes, <c>cgroup_dev_is_valid_access</c>): read-only; access_type narrow,
    /// major and minor 4-byte loads.</summary>
    public static readonly ContextLayout CgroupDevice = new("bpf_cgroup_dev_ctx", 12,
    [
        new(0, 4, "access_type", UpTo4),
        new(4, 4, "major", B4),
        new(8, 4, "minor", B4),
    ], isRealMemory: false);

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
