using Ebpf.Abi;
using Ebpf.Collections;
using Ebpf.Runtime.Objects;
using Ebpf.Runtime.ProgramTypes;

namespace Ebpf.Runtime.Net;

// XDP attachment with the kernel's rules (net/core/dev.c: dev_change_xdp_fd, dev_xdp_attach, bpf_xdp_link_attach),
// each refusal with its errno and extack message.
public sealed partial class VirtualNetwork
{
    /// <summary>Only veth has an ndo_bpf among the runtime's kinds: lo and dummy run XDP generically.</summary>
    private static bool HasNativeXdp(NetDevice dev) => dev.Kind == "veth";

    /// <summary>dev_xdp_mode: the mode bit given, else native when the driver has it, else generic.</summary>
    private static XdpMode ModeFor(NetDevice dev, XdpFlags flags) =>
        (flags & XdpFlags.Modes) != 0 ? DeviceXdp.ModeOf(flags) : HasNativeXdp(dev) ? XdpMode.Drv : XdpMode.Skb;

    private static bool IsDeviceBound(ProgramObject p) => p.IsDeviceBound;

    private static BpfException Refuse(Errno errno, NetDevice dev, string extack) =>
        new(errno, $"{dev.Name}: {extack}");

    /// <summary>
    /// do_setlink IFLA_XDP → dev_change_xdp_fd: attach, replace or (program null) detach the netlink-owned program of
    /// one mode. The programs are looked up as bpf_prog_get_type_dev does: XDP only (EINVAL), and a device-bound
    /// program only for a native or offload attach (EINVAL).
    /// </summary>
    internal void XdpAttach(int ifindex, ProgramObject? program, XdpFlags flags, ProgramObject? expected)
    {
        if ((flags & ~XdpFlags.Mask) != 0)
            throw new BpfException(Errno.EINVAL, $"IFLA_XDP_FLAGS 0x{(uint)flags:x} has unknown bits");
        lock (Rtnl)
        {
            var dev = Find(ifindex);
            bool attachDriver = ModeFor(dev, flags) != XdpMode.Skb;
            CheckNetlinkProgram(program, attachDriver, "fd");
            CheckNetlinkProgram(expected, attachDriver, "expected fd");
            Attach(dev, null, program, expected, flags);
        }
        if (!Memory.EpochManager.IsInCriticalSection)
            Memory.EpochManager.Synchronize();
    }

    private static void CheckNetlinkProgram(ProgramObject? p, bool attachDriver, string what)
    {
        if (p is null)
            return;
        if (p.Type != ProgramType.Xdp)
            throw new BpfException(Errno.EINVAL, $"IFLA_XDP {what}: program {p.Id} ({p.Name}) is {p.Type}, not XDP");
        if (!attachDriver && IsDeviceBound(p))
            throw new BpfException(Errno.EINVAL, $"IFLA_XDP {what}: device-bound program {p.Id} ({p.Name}) cannot be attached in generic mode");
    }

    /// <summary>dev_xdp_attach, in the kernel's order of checks. Called under <see cref="Rtnl"/>.</summary>
    private void Attach(NetDevice dev, XdpLinkAttachment? link, ProgramObject? newProgram, ProgramObject? oldProgram, XdpFlags flags)
    {
        int modes = System.Numerics.BitOperations.PopCount((uint)(flags & XdpFlags.Modes));
        if (link is not null && (flags & ~XdpFlags.Modes) != 0)
            throw Refuse(Errno.EINVAL, dev, "Invalid XDP flags for BPF link attachment");
        if (modes > 1)
            throw Refuse(Errno.EINVAL, dev, "Only one XDP mode flag can be set");
        if (modes == 0 && dev.Xdp.Count > 1)
            throw Refuse(Errno.EINVAL, dev, "More than one program loaded, unset mode is ambiguous");
        if (oldProgram is not null && (flags & XdpFlags.Replace) == 0)
            throw Refuse(Errno.EINVAL, dev, "XDP_FLAGS_REPLACE is not specified");

        var mode = ModeFor(dev, flags);
        var current = dev.Xdp.Get(mode);
        if (current?.Link is not null)
            throw Refuse(Errno.EBUSY, dev, "Can't replace active BPF XDP link");
        // No upper devices (bonds, bridges) in the model: "Cannot attach when an upper device already has a program" never applies.
        var currentProgram = current?.Program;
        if (link is not null && currentProgram is not null)
            throw Refuse(Errno.EBUSY, dev, "Can't replace active XDP program with BPF link");
        if ((flags & XdpFlags.Replace) != 0 && !ReferenceEquals(currentProgram, oldProgram))
            throw Refuse(Errno.EEXIST, dev, "Active program does not match expected");

        if (link is not null)
            newProgram = link.Link!.Program;
        if (newProgram is not null)
        {
            bool offload = mode == XdpMode.Hw;
            var other = mode == XdpMode.Skb ? XdpMode.Drv : XdpMode.Skb;
            if ((flags & XdpFlags.UpdateIfNoExist) != 0 && currentProgram is not null)
                throw Refuse(Errno.EBUSY, dev, "XDP program already attached");
            if (!offload && dev.Xdp.Get(other) is not null)
                throw Refuse(Errno.EEXIST, dev, "Native and generic XDP can't be active at the same time");
            // No offload devices in the model: no program is ever offloaded, so "Using offloaded program without
            // HW_MODE flag is not supported" never applies.
            if (IsDeviceBound(newProgram) && !ReferenceEquals(newProgram.BoundDevice, dev))
                throw Refuse(Errno.EINVAL, dev, "Program bound to different device");
            if (IsDeviceBound(newProgram) && mode == XdpMode.Skb)
                throw Refuse(Errno.EINVAL, dev, "Can't attach device-bound programs in generic mode");
            if (newProgram.ExpectedAttachType == AttachType.XdpDevmap)
                throw Refuse(Errno.EINVAL, dev, "BPF_XDP_DEVMAP programs can not be attached to a device");
            if (newProgram.ExpectedAttachType == AttachType.XdpCpumap)
                throw Refuse(Errno.EINVAL, dev, "BPF_XDP_CPUMAP programs can not be attached to a device");
        }

        if (!ReferenceEquals(newProgram, currentProgram))
        {
            if (mode != XdpMode.Skb && !HasNativeXdp(dev))
                throw Refuse(Errno.EOPNOTSUPP, dev, "Underlying driver does not support XDP in native mode");
            if (mode == XdpMode.Hw)
                throw new BpfException(Errno.EINVAL, $"{dev.Name}: veth cannot offload XDP (XDP_SETUP_PROG_HW)"); // veth_xdp: -EINVAL
        }
        dev.Xdp.Set(mode, newProgram is null ? null : new XdpSlot(newProgram, link));
    }

    /// <summary>BPF_LINK_CREATE with attach type BPF_XDP (link_create → bpf_xdp_link_attach).</summary>
    internal BpfLink AttachXdp(ProgramObject program, int ifindex, XdpFlags flags)
    {
        if (program.Type != ProgramType.Xdp)
            throw new BpfException(Errno.EINVAL, $"program {program.Id} ({program.Name}) is {program.Type}: attach type BPF_XDP needs an XDP program");
        var dev = (ifindex > 0 ? Devices.Find((uint)ifindex) : null)
            ?? throw new BpfException(Errno.EINVAL, $"BPF_LINK_CREATE: no device with ifindex {ifindex}");
        return _runtime.CreateLink(program, LinkType.Xdp, AttachType.Xdp, l =>
        {
            lock (Rtnl)
            {
                if (!dev.IsRegistered)
                    throw new BpfException(Errno.EINVAL, $"BPF_LINK_CREATE: device {dev.Name} is gone");
                var attachment = new XdpLinkAttachment(this, dev, ModeFor(dev, flags)) { Link = l };
                Attach(dev, attachment, null, null, flags);
                return attachment;
            }
        });
    }

    /// <summary>The device's XDP state as rtnl_xdp_fill reports it, plus the links holding its modes.</summary>
    internal XdpDeviceState XdpQuery(int ifindex)
    {
        lock (Rtnl)
            return StateOf(Find(ifindex));
    }

    private static XdpDeviceState StateOf(NetDevice dev)
    {
        var skb = dev.Xdp.Get(XdpMode.Skb);
        var drv = dev.Xdp.Get(XdpMode.Drv);
        var hw = dev.Xdp.Get(XdpMode.Hw);
        int count = dev.Xdp.Count;
        var mode = count switch
        {
            0 => XdpAttachMode.None,
            > 1 => XdpAttachMode.Multi,
            _ => drv is not null ? XdpAttachMode.Driver : skb is not null ? XdpAttachMode.Generic : XdpAttachMode.Hardware,
        };
        uint only = count == 1 ? (drv ?? skb ?? hw)!.Program.Id : 0;
        return new XdpDeviceState
        {
            Ifindex = (int)dev.Ifindex,
            AttachMode = mode,
            ProgramId = only,
            GenericProgramId = skb?.Program.Id ?? 0,
            DriverProgramId = drv?.Program.Id ?? 0,
            HardwareProgramId = hw?.Program.Id ?? 0,
            GenericLinkId = skb?.Link?.Link?.Id ?? 0,
            DriverLinkId = drv?.Link?.Link?.Id ?? 0,
            HardwareLinkId = hw?.Link?.Link?.Id ?? 0,
        };
    }

    // ---- the backend's device verbs ----

    internal int GetDeviceIndex(string name) => (int)Find(name).Ifindex;

    internal IReadOnlyList<NetDeviceInfo> ListDevices()
    {
        lock (Rtnl)
            return Devices.All.Select(Describe).ToArray();
    }

    internal IReadOnlyList<NetDeviceInfo> CreateDevice(string name, string kind, string? peerName)
    {
        var made = Create(name, kind, peerName);
        lock (Rtnl)
            return made.Select(Describe).ToArray();
    }

    internal void DeleteDevice(int ifindex) => Remove(Find(ifindex));

    private static NetDeviceInfo Describe(NetDevice d) => new()
    {
        Ifindex = (int)d.Ifindex,
        Name = d.Name,
        Kind = d.Kind,
        PeerIfindex = (int)(d.Peer?.Ifindex ?? 0),
        RxQueues = d.RxQueues,
        Mtu = d.Mtu,
        Address = d.Address.ToArray(),
        Xdp = StateOf(d),
    };
}
