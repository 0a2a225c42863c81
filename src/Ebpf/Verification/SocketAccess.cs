namespace Ebpf.Verification;

/// <summary>
/// Which loads the kernel allows through socket pointers (check_sock_access): the uapi mirrors struct bpf_sock,
/// struct bpf_tcp_sock and struct bpf_xdp_sock are read-only, each field at its own offset and with the sizes
/// filter.c's bpf_sock_is_valid_access, bpf_sock_common_is_valid_access, bpf_tcp_sock_is_valid_access and
/// bpf_xdp_sock_is_valid_access accept.
/// </summary>
internal static class SocketAccess
{
    // struct bpf_sock (uapi): the offsets filter.c switches on.
    private const int SockFamily = 4, SockType = 8, SockPriorityEnd = 24, SockSrcIp4 = 24, SockSrcIp6 = 28,
        SockSrcPort = 44, SockDstPort = 48, SockDstPortEnd = 50, SockDstIp4 = 52, SockDstIp6 = 56, SockState = 72,
        SockRxQueueMapping = 76, SockSize = 80;
    // struct bpf_tcp_sock: two u64 counters, every other field a u32, up to icsk_retransmits.
    private const int TcpBytesReceived = 80, TcpBytesAcked = 88, TcpSockEnd = 112;
    // struct bpf_xdp_sock: queue_id only.
    private const int XdpSockEnd = 4;

    public static bool IsValid(RegisterType type, int off, int size) => type switch
    {
        RegisterType.SockCommon => SockCommon(off, size),
        RegisterType.Socket => Sock(off, size),
        RegisterType.TcpSock => TcpSock(off, size),
        RegisterType.XdpSock => XdpSock(off, size),
        _ => false,
    };

    /// <summary>A sock_common (not a full socket) lacks type, protocol, mark and priority.</summary>
    private static bool SockCommon(int off, int size) => !(off >= SockType && off < SockPriorityEnd) && Sock(off, size);

    private static bool Sock(int off, int size)
    {
        if (off < 0 || off >= SockSize || off % size != 0) return false;
        // Fields readable in narrow (1, 2, 4-byte) loads at their start.
        if (off is SockState or SockFamily or SockType or 12 /* protocol */ or SockSrcPort or SockRxQueueMapping
            || (off >= SockSrcIp4 && off < SockSrcIp4 + 4) || (off >= SockSrcIp6 && off < SockSrcIp6 + 16)
            || (off >= SockDstIp4 && off < SockDstIp4 + 4) || (off >= SockDstIp6 && off < SockDstIp6 + 16))
            return NarrowOk(size, 4);
        // dst_port: a 4-byte load (backward compatibility) or a load within its 2 bytes.
        if (off >= SockDstPort && off < SockDstPortEnd)
            return NarrowOk(size, size == 4 ? 4 : 2);
        // The padding after dst_port.
        if (off >= SockDstPortEnd && off < SockDstIp4) return false;
        return size == 4;
    }

    private static bool TcpSock(int off, int size)
    {
        if (off < 0 || off >= TcpSockEnd || off % size != 0) return false;
        return off is TcpBytesReceived or TcpBytesAcked ? size == 8 : size == 4;
    }

    private static bool XdpSock(int off, int size) => off >= 0 && off < XdpSockEnd && off % size == 0 && size == 4;

    /// <summary>bpf_ctx_narrow_access_ok.</summary>
    private static bool NarrowOk(int size, int fieldSize) => size <= fieldSize && (size & (size - 1)) == 0;
}
