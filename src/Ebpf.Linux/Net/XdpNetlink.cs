using Ebpf.Collections;

namespace Ebpf.Linux.Net;

/// <summary>
/// A device's XDP program through rtnetlink, the way iproute2 and libbpf's bpf_xdp_attach/bpf_xdp_query do it, in the
/// calling thread's network namespace.
/// </summary>
internal static class XdpNetlink
{
    /// <summary>
    /// Attaches <paramref name="program"/> to <paramref name="ifindex"/> (null detaches) with XDP_FLAGS_* <paramref name="flags"/>;
    /// with <see cref="XdpFlags.Replace"/>, <paramref name="expected"/> is the program that must be attached now (null: none).
    /// </summary>
    public static void Attach(int ifindex, KernelProgram? program, XdpFlags flags, KernelProgram? expected = null)
    {
        using var prog = FdLease.Of(program?.Fd);
        using var old = FdLease.Of(expected?.Fd);
        int? expectedFd = (flags & XdpFlags.Replace) == 0 ? null : expected is null ? -1 : (int)old.Value;
        using var rtnl = RtnlClient.Open();
        rtnl.SetXdp(ifindex, program is null ? -1 : (int)prog.Value, (uint)flags, expectedFd);
    }

    /// <summary>The device's XDP state (bpf_xdp_query): attach mode and program id per mode.</summary>
    public static RtnlXdpState Query(int ifindex)
    {
        using var rtnl = RtnlClient.Open();
        return rtnl.GetLink(ifindex).Xdp;
    }
}

/// <summary>XDP bpf_links (BPF_LINK_CREATE with attach type BPF_XDP and a target ifindex in the caller's namespace).</summary>
internal static class XdpLinks
{
    public static KernelLink Create(KernelProgram program, int ifindex, XdpFlags flags = XdpFlags.None) =>
        KernelLink.Create(new LinkCreateOptions { Program = program, TargetIfindex = (uint)ifindex, AttachType = Abi.AttachType.Xdp, Flags = (uint)flags });

    /// <summary>bpf_link_info.xdp.ifindex: the device, or 0 once the link is detached or its device is gone.</summary>
    public static int IfindexOf(LinkInfo info) => info.Ifindex;
}
