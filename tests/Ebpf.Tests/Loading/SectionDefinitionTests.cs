using Ebpf.Abi;
using Ebpf.Loading;

namespace Ebpf.Tests.Loading;

public sealed class SectionDefinitionTests
{
    [Theory]
    [InlineData("socket", ProgramType.SocketFilter, null, null)]
    [InlineData("sk_reuseport/migrate", ProgramType.SkReuseport, AttachType.SkReuseportSelectOrMigrate, null)]
    [InlineData("sk_reuseport", ProgramType.SkReuseport, AttachType.SkReuseportSelect, null)]
    [InlineData("kprobe/do_sys_open", ProgramType.Kprobe, null, "do_sys_open")]
    [InlineData("kretprobe/do_sys_open", ProgramType.Kprobe, null, "do_sys_open")]
    [InlineData("uprobe//bin/bash:readline", ProgramType.Kprobe, null, "/bin/bash:readline")]
    [InlineData("usdt/libc:setjmp", ProgramType.Kprobe, null, "libc:setjmp")]
    [InlineData("ksyscall/openat", ProgramType.Kprobe, null, "openat")]
    [InlineData("kprobe.multi/tcp_*", ProgramType.Kprobe, AttachType.TraceKprobeMulti, "tcp_*")]
    [InlineData("uprobe.multi/bin:f*", ProgramType.Kprobe, AttachType.TraceUprobeMulti, "bin:f*")]
    [InlineData("tracepoint/syscalls/sys_enter_open", ProgramType.Tracepoint, null, "syscalls/sys_enter_open")]
    [InlineData("tp/sched/sched_switch", ProgramType.Tracepoint, null, "sched/sched_switch")]
    [InlineData("raw_tracepoint/sched_switch", ProgramType.RawTracepoint, null, "sched_switch")]
    [InlineData("raw_tp.w/bpf_test_finish", ProgramType.RawTracepointWritable, null, "bpf_test_finish")]
    [InlineData("tp_btf/sched_switch", ProgramType.Tracing, AttachType.TraceRawTp, "sched_switch")]
    [InlineData("fentry/tcp_connect", ProgramType.Tracing, AttachType.TraceFentry, "tcp_connect")]
    [InlineData("fexit/tcp_close", ProgramType.Tracing, AttachType.TraceFexit, "tcp_close")]
    [InlineData("fmod_ret/security_x", ProgramType.Tracing, AttachType.ModifyReturn, "security_x")]
    [InlineData("fentry.s/do_x", ProgramType.Tracing, AttachType.TraceFentry, "do_x")]
    [InlineData("freplace/handler", ProgramType.Ext, null, "handler")]
    [InlineData("lsm/file_open", ProgramType.Lsm, AttachType.LsmMac, "file_open")]
    [InlineData("lsm.s/bprm_check", ProgramType.Lsm, AttachType.LsmMac, "bprm_check")]
    [InlineData("lsm_cgroup/socket_bind", ProgramType.Lsm, AttachType.LsmCgroup, "socket_bind")]
    [InlineData("iter/task", ProgramType.Tracing, AttachType.TraceIter, "task")]
    [InlineData("syscall", ProgramType.Syscall, null, null)]
    [InlineData("xdp", ProgramType.Xdp, AttachType.Xdp, null)]
    [InlineData("xdp.frags", ProgramType.Xdp, AttachType.Xdp, null)]
    [InlineData("xdp/devmap", ProgramType.Xdp, AttachType.XdpDevmap, null)]
    [InlineData("xdp.frags/cpumap", ProgramType.Xdp, AttachType.XdpCpumap, null)]
    [InlineData("perf_event", ProgramType.PerfEvent, null, null)]
    [InlineData("lwt_seg6local", ProgramType.LwtSeg6Local, null, null)]
    [InlineData("cgroup_skb/ingress", ProgramType.CgroupSkb, AttachType.CgroupInetIngress, null)]
    [InlineData("cgroup/skb", ProgramType.CgroupSkb, null, null)]
    [InlineData("cgroup/sock", ProgramType.CgroupSock, AttachType.CgroupInetSockCreate, null)]
    [InlineData("cgroup/sock_release", ProgramType.CgroupSock, AttachType.CgroupInetSockRelease, null)]
    [InlineData("cgroup/post_bind6", ProgramType.CgroupSock, AttachType.CgroupInet6PostBind, null)]
    [InlineData("cgroup/connect4", ProgramType.CgroupSockAddr, AttachType.CgroupInet4Connect, null)]
    [InlineData("cgroup/connect_unix", ProgramType.CgroupSockAddr, AttachType.CgroupUnixConnect, null)]
    [InlineData("cgroup/getsockname6", ProgramType.CgroupSockAddr, AttachType.CgroupInet6Getsockname, null)]
    [InlineData("cgroup/sysctl", ProgramType.CgroupSysctl, AttachType.CgroupSysctl, null)]
    [InlineData("cgroup/setsockopt", ProgramType.CgroupSockopt, AttachType.CgroupSetsockopt, null)]
    [InlineData("cgroup/dev", ProgramType.CgroupDevice, AttachType.CgroupDevice, null)]
    [InlineData("sockops", ProgramType.SockOps, AttachType.CgroupSockOps, null)]
    [InlineData("sk_skb/stream_parser", ProgramType.SkSkb, AttachType.SkSkbStreamParser, null)]
    [InlineData("sk_skb/stream_verdict", ProgramType.SkSkb, AttachType.SkSkbStreamVerdict, null)]
    [InlineData("sk_skb", ProgramType.SkSkb, null, null)]
    [InlineData("sk_msg", ProgramType.SkMsg, AttachType.SkMsgVerdict, null)]
    [InlineData("lirc_mode2", ProgramType.LircMode2, AttachType.LircMode2, null)]
    [InlineData("flow_dissector", ProgramType.FlowDissector, AttachType.FlowDissector, null)]
    [InlineData("sk_lookup", ProgramType.SkLookup, AttachType.SkLookup, null)]
    [InlineData("struct_ops/tcp_init", ProgramType.StructOps, null, "tcp_init")]
    [InlineData("struct_ops.s/x", ProgramType.StructOps, null, "x")]
    [InlineData("netfilter", ProgramType.Netfilter, AttachType.Netfilter, null)]
    [InlineData("tc", ProgramType.SchedCls, null, null)]
    [InlineData("tc/ingress", ProgramType.SchedCls, AttachType.TcxIngress, null)]
    [InlineData("tcx/egress", ProgramType.SchedCls, AttachType.TcxEgress, null)]
    [InlineData("netkit/peer", ProgramType.SchedCls, AttachType.NetkitPeer, null)]
    [InlineData("classifier", ProgramType.SchedCls, null, null)]
    [InlineData("action", ProgramType.SchedAct, null, null)]
    public void LibbpfSectionNames(string section, ProgramType type, AttachType? attach, string? target)
    {
        var info = SectionDefinitions.Resolve(section);
        Assert.True(info.Known);
        Assert.Equal((type, attach, target, true), (info.Type, info.ExpectedAttachType, info.AttachTarget, info.Autoload));
    }

    [Theory]
    [InlineData("fentry.s/x", ProgramLoadFlags.Sleepable)]
    [InlineData("lsm.s/x", ProgramLoadFlags.Sleepable)]
    [InlineData("syscall", ProgramLoadFlags.Sleepable)]
    [InlineData("xdp.frags", ProgramLoadFlags.XdpHasFrags)]
    [InlineData("xdp", ProgramLoadFlags.None)]
    public void SleepableAndFragsFlags(string section, ProgramLoadFlags flags) =>
        Assert.Equal(flags, SectionDefinitions.Resolve(section).Flags);

    [Fact]
    public void QuestionMarkTurnsAutoloadOff()
    {
        var info = SectionDefinitions.Resolve("?tp/sched/sched_switch");
        Assert.Equal((ProgramType.Tracepoint, "sched/sched_switch", false), (info.Type, info.AttachTarget, info.Autoload));
    }

    [Theory]
    // libbpf 0.x prefix matching for old objects
    [InlineData("xdp_prog", ProgramType.Xdp)]
    [InlineData("socket1", ProgramType.SocketFilter)]
    [InlineData("cgroup/sock1", ProgramType.CgroupSock)]
    [InlineData("tc_mark", ProgramType.SchedCls)]
    [InlineData("kprobe", ProgramType.Kprobe)]
    [InlineData("kprobex", ProgramType.Kprobe)]
    // what libbpf does not know has no type: the loader must be told (no guess from file or section names)
    [InlineData("2/1", ProgramType.Unspec)]
    [InlineData("from-netdev", ProgramType.Unspec)]
    [InlineData("af_xdp", ProgramType.Unspec)]
    [InlineData("len_hist", ProgramType.Unspec)]
    [InlineData("filter", ProgramType.Unspec)]
    [InlineData("cgroup/recv_accept4", ProgramType.Unspec)]
    public void NamesLibbpfDoesNotKnowGetNoType(string section, ProgramType type)
    {
        var info = SectionDefinitions.Resolve(section);
        Assert.Equal(type, info.Type);
    }

    [Fact]
    public void An_unknown_section_loads_only_with_an_explicit_type()
    {
        // The fixture's program is in a section libbpf does not know; its file name says "xdp".
        var spec = ObjectSpec.Load(SharedData.Fixture("loading/untyped_xdp.bpf.o"));
        var prog = Assert.Single(spec.Programs);
        Assert.Equal(ProgramType.Unspec, prog.Type);
        var e = Assert.Throws<BpfException>(() => new Ebpf.Runtime.BpfRuntime().Load(spec));
        Assert.Equal(Errno.EINVAL, e.Errno);
        Assert.Contains("does not name a program type", e.Message);
        var rt = new Ebpf.Runtime.BpfRuntime();
        using var collection = rt.Load(spec, new ObjectLoadOptions { ProgramType = ProgramType.Xdp });
        Assert.Equal(ProgramType.Xdp, collection.Programs[prog.Name].Type);
    }

    [Fact]
    public void The_Linux_loader_refuses_an_untyped_program_and_loads_it_once_typed()
    {
        Ebpf.Tests.Linux.KernelRequirement.Require();
        var spec = ObjectSpec.Load(SharedData.Fixture("loading/untyped_xdp.bpf.o"));
        var e = Assert.Throws<BpfException>(() => Ebpf.Linux.LinuxKernel.Load(spec));
        Assert.Equal(Errno.EINVAL, e.Errno);
        Assert.Contains("'my_filter' does not name a program type", e.Message);
        spec.Programs[0].Type = ProgramType.Xdp;
        using var collection = Ebpf.Linux.LinuxKernel.Load(spec);
        Assert.Single(collection.Programs);
    }

    [Theory]
    [InlineData("test_global", ".data", "test_glo.data")]
    [InlineData("test_global", ".rodata", "test_glo.rodata")]
    [InlineData("test_global", ".bss", "test_glo.bss")]
    [InlineData("test_global", ".kconfig", "test_gl.kconfig")]
    [InlineData("x", ".rodata", "x.rodata")]
    [InlineData("prog", ".rodata.str1.1", ".rodata.str1.1")]
    [InlineData("prog", ".data.a_very_long_custom_name", ".data.a_very_lo")]
    [InlineData("my-obj", ".bss", "my_obj.bss")]
    public void InternalMapNamesFollowLibbpf(string objectName, string section, string expected) =>
        Assert.Equal(expected, DataMapReader.InternalMapName(objectName, section));

    [Theory]
    [InlineData("/tmp/test_global_data.bpf.o", "test_global_dat")]
    [InlineData("prog.bpf.o", "prog")]
    [InlineData("a.b.c", "a")]
    public void ObjectNamesFollowLibbpf(string path, string expected) =>
        Assert.Equal(expected, ObjectSpec.ObjectNameFromPath(path));
}
