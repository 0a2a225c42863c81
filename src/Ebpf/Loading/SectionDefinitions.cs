using Ebpf.Abi;
using static Ebpf.Loading.SectionMatch;

namespace Ebpf.Loading;

/// <summary>What a section name says about the programs in it.</summary>
internal sealed record ProgramSectionInfo(
    ProgramType Type,
    AttachType? ExpectedAttachType,
    string? AttachTarget,
    ProgramLoadFlags Flags,
    bool Autoload,
    bool Known,
    SectionDefinition? Definition);

/// <summary>
/// libbpf's section-name table (section_defs in libbpf.c, 1.5), in libbpf's order: the first matching row wins,
/// so more specific names ("xdp.frags/devmap", "sk_reuseport/migrate") precede general ones. Names libbpf does not
/// know fall back to the conventions of the loaders old objects were written for (see <see cref="Resolve"/>).
/// </summary>
internal static class SectionDefinitions
{
    private const ProgramLoadFlags Sleepable = ProgramLoadFlags.Sleepable;
    private const ProgramLoadFlags Frags = ProgramLoadFlags.XdpHasFrags;

    public static IReadOnlyList<SectionDefinition> All { get; } =
    [
        new("socket", Exact, ProgramType.SocketFilter, null),
        new("sk_reuseport/migrate", Exact, ProgramType.SkReuseport, AttachType.SkReuseportSelectOrMigrate),
        new("sk_reuseport", Exact, ProgramType.SkReuseport, AttachType.SkReuseportSelect),
        new("kprobe", ExactOrSlash, ProgramType.Kprobe, null),
        new("uprobe", ExactOrSlash, ProgramType.Kprobe, null),
        new("uprobe.s", ExactOrSlash, ProgramType.Kprobe, null, Sleepable),
        new("kretprobe", ExactOrSlash, ProgramType.Kprobe, null),
        new("uretprobe", ExactOrSlash, ProgramType.Kprobe, null),
        new("uretprobe.s", ExactOrSlash, ProgramType.Kprobe, null, Sleepable),
        new("kprobe.multi", ExactOrSlash, ProgramType.Kprobe, AttachType.TraceKprobeMulti),
        new("kretprobe.multi", ExactOrSlash, ProgramType.Kprobe, AttachType.TraceKprobeMulti),
        new("kprobe.session", ExactOrSlash, ProgramType.Kprobe, AttachType.TraceKprobeSession),
        new("uprobe.session", ExactOrSlash, ProgramType.Kprobe, AttachType.TraceUprobeSession),
        new("uprobe.session.s", ExactOrSlash, ProgramType.Kprobe, AttachType.TraceUprobeSession, Sleepable),
        new("uprobe.multi", ExactOrSlash, ProgramType.Kprobe, AttachType.TraceUprobeMulti),
        new("uretprobe.multi", ExactOrSlash, ProgramType.Kprobe, AttachType.TraceUprobeMulti),
        new("uprobe.multi.s", ExactOrSlash, ProgramType.Kprobe, AttachType.TraceUprobeMulti, Sleepable),
        new("uretprobe.multi.s", ExactOrSlash, ProgramType.Kprobe, AttachType.TraceUprobeMulti, Sleepable),
        new("ksyscall", ExactOrSlash, ProgramType.Kprobe, null),
        new("kretsyscall", ExactOrSlash, ProgramType.Kprobe, null),
        new("usdt", ExactOrSlash, ProgramType.Kprobe, null),
        new("usdt.s", ExactOrSlash, ProgramType.Kprobe, null, Sleepable),
        new("tc/ingress", Exact, ProgramType.SchedCls, AttachType.TcxIngress),
        new("tc/egress", Exact, ProgramType.SchedCls, AttachType.TcxEgress),
        new("tcx/ingress", Exact, ProgramType.SchedCls, AttachType.TcxIngress),
        new("tcx/egress", Exact, ProgramType.SchedCls, AttachType.TcxEgress),
        new("tc", ExactOrSlash, ProgramType.SchedCls, null),
        new("classifier", ExactOrSlash, ProgramType.SchedCls, null),
        new("action", ExactOrSlash, ProgramType.SchedAct, null),
        new("netkit/primary", Exact, ProgramType.SchedCls, AttachType.NetkitPrimary),
        new("netkit/peer", Exact, ProgramType.SchedCls, AttachType.NetkitPeer),
        new("tracepoint", ExactOrSlash, ProgramType.Tracepoint, null),
        new("tp", ExactOrSlash, ProgramType.Tracepoint, null),
        new("raw_tracepoint", ExactOrSlash, ProgramType.RawTracepoint, null),
        new("raw_tp", ExactOrSlash, ProgramType.RawTracepoint, null),
        new("raw_tracepoint.w", ExactOrSlash, ProgramType.RawTracepointWritable, null),
        new("raw_tp.w", ExactOrSlash, ProgramType.RawTracepointWritable, null),
        new("tp_btf", ExactOrSlash, ProgramType.Tracing, AttachType.TraceRawTp, AttachBtf: true),
        new("fentry", ExactOrSlash, ProgramType.Tracing, AttachType.TraceFentry, AttachBtf: true),
        new("fmod_ret", ExactOrSlash, ProgramType.Tracing, AttachType.ModifyReturn, AttachBtf: true),
        new("fexit", ExactOrSlash, ProgramType.Tracing, AttachType.TraceFexit, AttachBtf: true),
        new("fentry.s", ExactOrSlash, ProgramType.Tracing, AttachType.TraceFentry, Sleepable, true),
        new("fmod_ret.s", ExactOrSlash, ProgramType.Tracing, AttachType.ModifyReturn, Sleepable, true),
        new("fexit.s", ExactOrSlash, ProgramType.Tracing, AttachType.TraceFexit, Sleepable, true),
        new("freplace", ExactOrSlash, ProgramType.Ext, null, AttachBtf: true),
        new("lsm", ExactOrSlash, ProgramType.Lsm, AttachType.LsmMac, AttachBtf: true),
        new("lsm.s", ExactOrSlash, ProgramType.Lsm, AttachType.LsmMac, Sleepable, true),
        new("lsm_cgroup", ExactOrSlash, ProgramType.Lsm, AttachType.LsmCgroup, AttachBtf: true),
        new("iter", ExactOrSlash, ProgramType.Tracing, AttachType.TraceIter, AttachBtf: true),
        new("iter.s", ExactOrSlash, ProgramType.Tracing, AttachType.TraceIter, Sleepable, true),
        new("syscall", Exact, ProgramType.Syscall, null, Sleepable),
        new("xdp.frags/devmap", Exact, ProgramType.Xdp, AttachType.XdpDevmap, Frags),
        new("xdp/devmap", Exact, ProgramType.Xdp, AttachType.XdpDevmap),
        new("xdp.frags/cpumap", Exact, ProgramType.Xdp, AttachType.XdpCpumap, Frags),
        new("xdp/cpumap", Exact, ProgramType.Xdp, AttachType.XdpCpumap),
        new("xdp.frags", Exact, ProgramType.Xdp, AttachType.Xdp, Frags),
        new("xdp", Exact, ProgramType.Xdp, AttachType.Xdp),
        new("perf_event", Exact, ProgramType.PerfEvent, null),
        new("lwt_in", Exact, ProgramType.LwtIn, null),
        new("lwt_out", Exact, ProgramType.LwtOut, null),
        new("lwt_xmit", Exact, ProgramType.LwtXmit, null),
        new("lwt_seg6local", Exact, ProgramType.LwtSeg6Local, null),
        new("sockops", Exact, ProgramType.SockOps, AttachType.CgroupSockOps),
        new("sk_skb/stream_parser", Exact, ProgramType.SkSkb, AttachType.SkSkbStreamParser),
        new("sk_skb/stream_verdict", Exact, ProgramType.SkSkb, AttachType.SkSkbStreamVerdict),
        new("sk_skb/verdict", Exact, ProgramType.SkSkb, AttachType.SkSkbVerdict),
        new("sk_skb", Exact, ProgramType.SkSkb, null),
        new("sk_msg", Exact, ProgramType.SkMsg, AttachType.SkMsgVerdict),
        new("lirc_mode2", Exact, ProgramType.LircMode2, AttachType.LircMode2),
        new("flow_dissector", Exact, ProgramType.FlowDissector, AttachType.FlowDissector),
        new("cgroup_skb/ingress", Exact, ProgramType.CgroupSkb, AttachType.CgroupInetIngress),
        new("cgroup_skb/egress", Exact, ProgramType.CgroupSkb, AttachType.CgroupInetEgress),
        new("cgroup/skb", Exact, ProgramType.CgroupSkb, null),
        new("cgroup/sock_create", Exact, ProgramType.CgroupSock, AttachType.CgroupInetSockCreate),
        new("cgroup/sock_release", Exact, ProgramType.CgroupSock, AttachType.CgroupInetSockRelease),
        new("cgroup/sock", Exact, ProgramType.CgroupSock, AttachType.CgroupInetSockCreate),
        new("cgroup/post_bind4", Exact, ProgramType.CgroupSock, AttachType.CgroupInet4PostBind),
        new("cgroup/post_bind6", Exact, ProgramType.CgroupSock, AttachType.CgroupInet6PostBind),
        new("cgroup/bind4", Exact, ProgramType.CgroupSockAddr, AttachType.CgroupInet4Bind),
        new("cgroup/bind6", Exact, ProgramType.CgroupSockAddr, AttachType.CgroupInet6Bind),
        new("cgroup/connect4", Exact, ProgramType.CgroupSockAddr, AttachType.CgroupInet4Connect),
        new("cgroup/connect6", Exact, ProgramType.CgroupSockAddr, AttachType.CgroupInet6Connect),
        new("cgroup/connect_unix", Exact, ProgramType.CgroupSockAddr, AttachType.CgroupUnixConnect),
        new("cgroup/sendmsg4", Exact, ProgramType.CgroupSockAddr, AttachType.CgroupUdp4Sendmsg),
        new("cgroup/sendmsg6", Exact, ProgramType.CgroupSockAddr, AttachType.CgroupUdp6Sendmsg),
        new("cgroup/sendmsg_unix", Exact, ProgramType.CgroupSockAddr, AttachType.CgroupUnixSendmsg),
        new("cgroup/recvmsg4", Exact, ProgramType.CgroupSockAddr, AttachType.CgroupUdp4Recvmsg),
        new("cgroup/recvmsg6", Exact, ProgramType.CgroupSockAddr, AttachType.CgroupUdp6Recvmsg),
        new("cgroup/recvmsg_unix", Exact, ProgramType.CgroupSockAddr, AttachType.CgroupUnixRecvmsg),
        new("cgroup/getpeername4", Exact, ProgramType.CgroupSockAddr, AttachType.CgroupInet4Getpeername),
        new("cgroup/getpeername6", Exact, ProgramType.CgroupSockAddr, AttachType.CgroupInet6Getpeername),
        new("cgroup/getpeername_unix", Exact, ProgramType.CgroupSockAddr, AttachType.CgroupUnixGetpeername),
        new("cgroup/getsockname4", Exact, ProgramType.CgroupSockAddr, AttachType.CgroupInet4Getsockname),
        new("cgroup/getsockname6", Exact, ProgramType.CgroupSockAddr, AttachType.CgroupInet6Getsockname),
        new("cgroup/getsockname_unix", Exact, ProgramType.CgroupSockAddr, AttachType.CgroupUnixGetsockname),
        new("cgroup/sysctl", Exact, ProgramType.CgroupSysctl, AttachType.CgroupSysctl),
        new("cgroup/getsockopt", Exact, ProgramType.CgroupSockopt, AttachType.CgroupGetsockopt),
        new("cgroup/setsockopt", Exact, ProgramType.CgroupSockopt, AttachType.CgroupSetsockopt),
        new("cgroup/dev", Exact, ProgramType.CgroupDevice, AttachType.CgroupDevice),
        new("struct_ops", ExactOrSlash, ProgramType.StructOps, null),
        new("struct_ops.s", ExactOrSlash, ProgramType.StructOps, null, Sleepable),
        new("sk_lookup", Exact, ProgramType.SkLookup, AttachType.SkLookup),
        new("netfilter", Exact, ProgramType.Netfilter, AttachType.Netfilter),
    ];

    /// <summary>The first libbpf row matching <paramref name="section"/> (without any leading '?'), or null.</summary>
    public static SectionDefinition? Find(string section)
    {
        foreach (var def in All)
        {
            if (def.Matches(section))
                return def;
        }
        return null;
    }

    /// <summary>
    /// Program type, expected attach type and attach target for a program in <paramref name="sectionName"/>, as
    /// libbpf decides them: libbpf ≥ 1.0 rules; then libbpf 0.x prefix matching ("xdp_prog", "socket1",
    /// "tc_mark"). A section neither knows gets <see cref="ProgramType.Unspec"/>: its loader must be told the
    /// type (the load options' program type, or <see cref="ProgramSpec.Type"/> set before loading). Nothing is
    /// guessed from the object's file name or its other sections.
    /// </summary>
    public static ProgramSectionInfo Resolve(string sectionName)
    {
        bool autoload = true;
        string section = sectionName;
        if (section.StartsWith('?'))
        {
            autoload = false;
            section = section[1..];
        }

        if (Find(section) is { } def)
            return new(def.ProgramType, def.ExpectedAttachType, def.AttachTargetOf(section), def.Flags, autoload, true, def);

        foreach (var sloppy in All)
        {
            if (sloppy.MatchesSloppy(section))
                return new(sloppy.ProgramType, sloppy.ExpectedAttachType, null, sloppy.Flags, autoload, false, sloppy);
        }

        return new(ProgramType.Unspec, null, null, ProgramLoadFlags.None, autoload, false, null);
    }

    /// <summary>
    /// Whether an object's legacy "maps" section uses iproute2's struct bpf_elf_map (id and pinning after the
    /// four sizes and flags) rather than the kernel samples' layout: told by its cilium/ovs-style tail-call
    /// sections, which only the tc loader understands — the sections, never the file name.
    /// </summary>
    public static bool LooksLikeTcLoaderObject(IReadOnlyCollection<string>? allSections) =>
        allSections is not null && allSections.Any(IsTcLoaderSection);

    /// <summary>Tail-call and entry sections of iproute2-loaded tc objects (cilium "2/7", "1/0x1010", "from-netdev"; ovs "tail-3").</summary>
    private static bool IsTcLoaderSection(string name)
    {
        int slash = name.IndexOf('/');
        if (slash > 0 && name[..slash].All(char.IsAsciiDigit))
            return true;
        if (name.StartsWith("from-", StringComparison.Ordinal))
            return true;
        return name.StartsWith("tail-", StringComparison.Ordinal) && name.Length > 5 && name[5..].All(char.IsAsciiDigit);
    }
}
