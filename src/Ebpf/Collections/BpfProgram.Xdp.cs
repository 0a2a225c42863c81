namespace Ebpf.Collections;

// XDP on network devices, the same calls on every backend (libbpf's bpf_xdp_attach/bpf_xdp_detach/bpf_xdp_query and
// bpf_program__attach_xdp): netlink-style attachment owned by the device, or an XDP bpf_link.
public sealed partial class BpfProgram
{
    /// <summary>
    /// bpf_program__attach_xdp: an XDP link (BPF_LINK_CREATE, attach type BPF_XDP) on <paramref name="ifindex"/>, in the
    /// mode of <paramref name="flags"/> (mode bits only). Disposing the link (and every pin and duplicate) detaches.
    /// </summary>
    public BpfLink AttachXdp(int ifindex, XdpFlags flags = XdpFlags.None)
    {
        ThrowIfClosed();
        return Backend.AttachXdp(this, ifindex, flags);
    }

    /// <summary>
    /// bpf_xdp_attach: attaches this program to <paramref name="ifindex"/> through netlink. The device then holds it
    /// until it is replaced or detached (<see cref="XdpDetach"/>), whatever happens to this handle. With
    /// <see cref="XdpFlags.Replace"/> only if <paramref name="expected"/> is the attached program.
    /// </summary>
    public void XdpAttach(int ifindex, XdpFlags flags = XdpFlags.None, BpfProgram? expected = null)
    {
        ThrowIfClosed();
        Backend.XdpAttach(ifindex, this, flags, expected);
    }

    /// <summary>
    /// bpf_xdp_detach: removes the netlink-attached program of <paramref name="ifindex"/> in the mode of
    /// <paramref name="flags"/> (with <see cref="XdpFlags.Replace"/>, only if it is <paramref name="expected"/>).
    /// </summary>
    public static void XdpDetach(IBpfBackend backend, int ifindex, XdpFlags flags = XdpFlags.None, BpfProgram? expected = null)
    {
        ArgumentNullException.ThrowIfNull(backend);
        backend.XdpAttach(ifindex, null, flags, expected);
    }
}
