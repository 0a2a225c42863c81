namespace Ebpf.Linux.Net;

/// <summary>
/// A netlink request the kernel refused: the errno of the NLMSG_ERROR reply, and the kernel's own explanation from the
/// extended ack (NLMSGERR_ATTR_MSG, e.g. "Active program does not match expected") when it sent one. The message reads
/// "RTM_SETLINK ifindex 3 IFLA_XDP: Active program does not match expected (File exists)".
/// </summary>
internal sealed class NetlinkException : BpfException
{
    public NetlinkException(Errno errno, string what, string? extendedAck)
        : base(errno, extendedAck is { Length: > 0 }
            ? $"{what}: {extendedAck} ({Native.LibC.Describe((int)errno)})"
            : $"{what}: {Native.LibC.Describe((int)errno)}")
    {
        ExtendedAck = extendedAck;
    }

    /// <summary>The kernel's extack message, verbatim, or null when it gave none.</summary>
    public string? ExtendedAck { get; }
}
