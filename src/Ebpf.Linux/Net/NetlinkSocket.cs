using System.Buffers.Binary;
using Microsoft.Win32.SafeHandles;

namespace Ebpf.Linux.Net;

/// <summary>
/// An AF_NETLINK socket of one protocol (NETLINK_ROUTE here), in the network namespace of the thread that opened it.
/// Requests ask for an ack; replies are matched by sequence number; extended acks are on (NETLINK_EXT_ACK) so a refusal
/// carries the kernel's message, and capped (NETLINK_CAP_ACK) so an error does not echo the whole request. Every
/// receive has a timeout (ETIMEDOUT), so a lost reply never hangs the caller.
/// </summary>
internal sealed unsafe class NetlinkSocket : IDisposable
{
    private static readonly TimeSpan ReplyTimeout = TimeSpan.FromSeconds(5);
    private readonly SafeFileHandle _fd;
    private uint _sequence = (uint)Environment.TickCount;

    private NetlinkSocket(SafeFileHandle fd) => _fd = fd;

    public static NetlinkSocket Open(int protocol = NetNative.NetlinkRoute)
    {
        int fd = NetNative.Socket(NetNative.AfNetlink, NetNative.SockRaw | NetNative.SockCloexec, protocol);
        if (fd < 0)
            throw NetNative.Fail("socket(AF_NETLINK)");
        var handle = new SafeFileHandle(fd, ownsHandle: true);
        try
        {
            int one = 1;
            // Extended acks are best effort (pre-4.12 kernels lack them); the errno still arrives without them.
            NetNative.SetSockOpt(fd, NetNative.SolNetlink, NetNative.NetlinkExtAck, &one, sizeof(int));
            NetNative.SetSockOpt(fd, NetNative.SolNetlink, NetNative.NetlinkCapAck, &one, sizeof(int));
            var timeout = TimeVal.From(ReplyTimeout);
            if (NetNative.SetSockOpt(fd, NetNative.SolSocket, NetNative.SoRcvtimeo, &timeout, sizeof(TimeVal)) != 0)
                throw NetNative.Fail("setsockopt(SO_RCVTIMEO)");
            var local = new SockAddrNetlink { Family = NetNative.AfNetlink };
            if (NetNative.Bind(fd, &local, sizeof(SockAddrNetlink)) != 0)
                throw NetNative.Fail("bind(AF_NETLINK)");
            return new NetlinkSocket(handle);
        }
        catch
        {
            handle.Dispose();
            throw;
        }
    }

    /// <summary>Sends a request with NLM_F_ACK and waits for the ack; throws <see cref="NetlinkException"/> on refusal.</summary>
    public void Execute(NetlinkRequest request, string what) =>
        Exchange(request, what, onReply: null);

    /// <summary>
    /// Sends a request and hands every reply message (type, payload after nlmsghdr) to <paramref name="onReply"/>
    /// until the ack, the error or, for a dump, NLMSG_DONE.
    /// </summary>
    public void Exchange(NetlinkRequest request, string what, Action<ushort, ReadOnlySpan<byte>>? onReply)
    {
        bool dump = (request.Flags & Netlink.FDump) == Netlink.FDump;
        uint sequence = ++_sequence;
        // A dump ends with NLMSG_DONE; anything else is answered by an ack (NLMSG_ERROR with error 0) after its replies.
        byte[] message = request.Build(sequence, (ushort)(Netlink.FRequest | (dump ? 0 : Netlink.FAck)));
        Send(message, what);
        var buffer = new byte[64 * 1024];
        while (true)
        {
            int received = Receive(buffer, what);
            var span = buffer.AsSpan(0, received);
            while (span.Length >= Netlink.HeaderSize)
            {
                int length = (int)BinaryPrimitives.ReadUInt32LittleEndian(span);
                if (length < Netlink.HeaderSize || length > span.Length)
                    throw new BpfException(Errno.EBADMSG, $"{what}: malformed netlink reply (length {length} of {span.Length})");
                ushort type = BinaryPrimitives.ReadUInt16LittleEndian(span[4..]);
                ushort flags = BinaryPrimitives.ReadUInt16LittleEndian(span[6..]);
                uint replySequence = BinaryPrimitives.ReadUInt32LittleEndian(span[8..]);
                var payload = span[Netlink.HeaderSize..length];
                span = span[Math.Min(Netlink.Align(length), span.Length)..];
                if (replySequence != sequence)
                    continue; // a late reply to an earlier request
                switch (type)
                {
                    case Netlink.Error:
                        ThrowIfError(payload, flags, what);
                        return; // error 0 is the ack
                    case Netlink.Done:
                        if (payload.Length >= 4 && BinaryPrimitives.ReadInt32LittleEndian(payload) is var done and < 0)
                            throw new NetlinkException((Errno)(-done), what, ExtendedAckOf(payload[4..], flags));
                        return;
                    case Netlink.Noop:
                        continue;
                    default:
                        onReply?.Invoke(type, payload);
                        break;
                }
            }
        }
    }

    /// <summary>struct nlmsgerr: the negative errno, the offending request's header (capped), then the extack TLVs.</summary>
    private static void ThrowIfError(ReadOnlySpan<byte> payload, ushort flags, string what)
    {
        if (ErrorOf(payload, flags, what) is { } error)
            throw error;
    }

    /// <summary>The refusal an NLMSG_ERROR payload carries, or null for an ack (error 0).</summary>
    internal static BpfException? ErrorOf(ReadOnlySpan<byte> payload, ushort flags, string what)
    {
        if (payload.Length < 4)
            return new BpfException(Errno.EBADMSG, $"{what}: truncated netlink error");
        int error = BinaryPrimitives.ReadInt32LittleEndian(payload);
        if (error == 0)
            return null;
        var rest = payload[4..];
        int echoed = Netlink.HeaderSize;
        if ((flags & Netlink.FCapped) == 0 && rest.Length >= 4)
            echoed = (int)BinaryPrimitives.ReadUInt32LittleEndian(rest); // the whole request came back
        rest = rest[Math.Min(Netlink.Align(echoed), rest.Length)..];
        return new NetlinkException((Errno)(-error), what, ExtendedAckOf(rest, flags));
    }

    private static string? ExtendedAckOf(ReadOnlySpan<byte> tlvs, ushort flags) =>
        (flags & Netlink.FAckTlvs) == 0 ? null : NetlinkAttributes.String(NetlinkAttributes.Parse(tlvs), Netlink.ErrAttrMsg);

    private void Send(byte[] message, string what)
    {
        var kernel = new SockAddrNetlink { Family = NetNative.AfNetlink };
        bool added = false;
        _fd.DangerousAddRef(ref added);
        try
        {
            fixed (byte* p = message)
            {
                nint sent = NetNative.SendTo((int)_fd.DangerousGetHandle(), p, message.Length, 0, &kernel, sizeof(SockAddrNetlink));
                if (sent < 0)
                    throw NetNative.Fail($"{what}: sendto(netlink)");
            }
        }
        finally
        {
            if (added)
                _fd.DangerousRelease();
        }
    }

    private int Receive(byte[] buffer, string what)
    {
        bool added = false;
        _fd.DangerousAddRef(ref added);
        try
        {
            while (true)
            {
                fixed (byte* p = buffer)
                {
                    nint received = NetNative.RecvFrom((int)_fd.DangerousGetHandle(), p, buffer.Length, 0, null, null);
                    if (received >= 0)
                        return (int)received;
                    var errno = NetNative.LastErrno;
                    if (errno == Errno.EINTR)
                        continue;
                    if (errno == Errno.EAGAIN)
                        throw new BpfException(Errno.ETIMEDOUT, $"{what}: no netlink reply within {ReplyTimeout.TotalSeconds:0} s");
                    throw NetNative.Fail($"{what}: recvfrom(netlink)", errno);
                }
            }
        }
        finally
        {
            if (added)
                _fd.DangerousRelease();
        }
    }

    public void Dispose() => _fd.Dispose();
}
