using Ebpf.Abi;
using Ebpf.Loading;
using Ebpf.Runtime.Objects;

namespace Ebpf.Runtime.Net;

/// <summary>
/// bpf_prog_dev_bound_init at BPF_PROG_LOAD time: a program with a prog_ifindex is bound to that device. Only sched_cls
/// and XDP may be bound; flags other than BPF_F_XDP_DEV_BOUND_ONLY and BPF_F_XDP_HAS_FRAGS are refused, frags only
/// for a bound-only program; a device without ndo_bpf (lo, dummy) cannot bind (EOPNOTSUPP); without
/// BPF_F_XDP_DEV_BOUND_ONLY the program asks for hardware offload, which no device of the runtime offers (EINVAL).
/// </summary>
internal static class DeviceBinding
{
    public static void Bind(BpfRuntime runtime, ProgramObject program, int ifindex)
    {
        if (ifindex == 0)
            return;
        var flags = (ProgramLoadFlags)program.Definition.Flags;
        if (program.Type is not (ProgramType.SchedCls or ProgramType.Xdp))
            throw new BpfException(Errno.EINVAL, $"prog_ifindex: {program.Type} programs cannot be device-bound");
        if ((flags & ~(ProgramLoadFlags.XdpDevBoundOnly | ProgramLoadFlags.XdpHasFrags)) != 0)
            throw new BpfException(Errno.EINVAL, $"prog_ifindex: prog_flags 0x{(uint)flags:x} not allowed for a device-bound program");
        bool boundOnly = (flags & ProgramLoadFlags.XdpDevBoundOnly) != 0;
        if ((flags & ProgramLoadFlags.XdpHasFrags) != 0 && !boundOnly)
            throw new BpfException(Errno.EINVAL, "prog_ifindex: BPF_F_XDP_HAS_FRAGS needs BPF_F_XDP_DEV_BOUND_ONLY");
        if (program.Type == ProgramType.SchedCls && boundOnly)
            throw new BpfException(Errno.EINVAL, "prog_ifindex: BPF_F_XDP_DEV_BOUND_ONLY is for XDP programs");
        var dev = (ifindex > 0 ? runtime.Devices.Find((uint)ifindex) : null)
            ?? throw new BpfException(Errno.EINVAL, $"prog_ifindex: no device with ifindex {ifindex}");
        if (dev.Kind != "veth")
            throw new BpfException(Errno.EOPNOTSUPP, $"prog_ifindex: {dev.Name} has no ndo_bpf");
        if (!boundOnly)
            throw new BpfException(Errno.EINVAL, $"prog_ifindex: {dev.Name} cannot offload programs (no BPF_F_XDP_DEV_BOUND_ONLY)");
        program.BoundIfindex = dev.Ifindex;
        program.BoundDevice = dev;
    }
}
