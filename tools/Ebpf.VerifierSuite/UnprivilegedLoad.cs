using Ebpf.Abi;
using Ebpf.Abi.Helpers;
using Ebpf.Loading;

namespace Ebpf.VerifierSuite;

/// <summary>
/// What test_loader.c does for an "@unpriv" subtest, and what the kernel's bpf_prog_load checks before its verifier
/// runs, for a loader holding only the capabilities __caps_unpriv gives back (test_loader drops CAP_SYS_ADMIN,
/// CAP_NET_ADMIN, CAP_PERFMON and CAP_BPF). This machine refuses unprivileged BPF (kernel.unprivileged_bpf_disabled),
/// so these rules are taken from the kernel source, not observed.
/// </summary>
internal static class UnprivilegedLoad
{
    private const int CapNetAdmin = 12, CapSysAdmin = 21, CapPerfmon = 38, CapBpf = 39;

    /// <summary>The verifier's privilege for these capabilities: bpf_capable and perfmon_capable (CAP_SYS_ADMIN implies both).</summary>
    public static HelperPrivilege Privilege(ulong caps)
    {
        bool sysAdmin = Has(caps, CapSysAdmin);
        bool bpf = sysAdmin || Has(caps, CapBpf);
        bool perfmon = sysAdmin || Has(caps, CapPerfmon);
        return bpf && perfmon ? HelperPrivilege.Full : bpf ? HelperPrivilege.Bpf : HelperPrivilege.Unprivileged;
    }

    /// <summary>Why bpf_prog_load refuses the program with EPERM before verifying it, or null.</summary>
    public static string? RefusedProgram(ProgramSpec program, ulong caps)
    {
        bool sysAdmin = Has(caps, CapSysAdmin);
        bool bpf = sysAdmin || Has(caps, CapBpf);
        var type = program.Type;
        if (type is not (ProgramType.SocketFilter or ProgramType.CgroupSkb) && !bpf)
            return $"program type {KernelNames.Of(type)} needs CAP_BPF (EPERM)";
        if (IsNetAdminType(type) && !(sysAdmin || Has(caps, CapNetAdmin)))
            return $"program type {KernelNames.Of(type)} needs CAP_NET_ADMIN (EPERM)";
        if (IsPerfmonType(type) && !(sysAdmin || Has(caps, CapPerfmon)))
            return $"program type {KernelNames.Of(type)} needs CAP_PERFMON (EPERM)";
        // BPF_MAXINSNS without CAP_BPF (E2BIG).
        if (!bpf && program.Instructions.Length > 4096)
            return "more than 4096 instructions without CAP_BPF (E2BIG)";
        return null;
    }

    /// <summary>
    /// test_loader's is_unpriv_capable_map: in unprivileged mode every other map is left uncreated, and libbpf turns
    /// each reference to it into a poisoned call the verifier rejects when it reaches it.
    /// </summary>
    public static bool IsCreated(MapSpec map) => map.Type switch
    {
        MapType.Hash or MapType.PercpuHash or MapType.HashOfMaps => (map.Flags & MapFlags.ZeroSeed) == 0,
        MapType.PercpuCgroupStorage or MapType.Array or MapType.Ringbuf or MapType.ProgArray or MapType.CgroupArray
            or MapType.PercpuArray or MapType.UserRingbuf or MapType.ArrayOfMaps or MapType.CgroupStorage
            or MapType.PerfEventArray => true,
        _ => false,
    };

    private static bool Has(ulong caps, int cap) => (caps & (1UL << cap)) != 0;

    private static bool IsNetAdminType(ProgramType type) => type is ProgramType.SchedCls or ProgramType.SchedAct or ProgramType.Xdp
        or ProgramType.LwtIn or ProgramType.LwtOut or ProgramType.LwtXmit or ProgramType.LwtSeg6Local or ProgramType.SkSkb
        or ProgramType.SkMsg or ProgramType.FlowDissector or ProgramType.CgroupDevice or ProgramType.CgroupSock
        or ProgramType.CgroupSockAddr or ProgramType.CgroupSockopt or ProgramType.CgroupSysctl or ProgramType.SockOps
        or ProgramType.Ext or ProgramType.Netfilter;

    private static bool IsPerfmonType(ProgramType type) => type is ProgramType.Kprobe or ProgramType.Tracepoint
        or ProgramType.PerfEvent or ProgramType.RawTracepoint or ProgramType.RawTracepointWritable or ProgramType.Tracing
        or ProgramType.Lsm or ProgramType.StructOps or ProgramType.Ext;
}
