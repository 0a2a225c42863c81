using System.Buffers.Binary;
using Microsoft.Win32.SafeHandles;

namespace Ebpf.Linux.Net;

/// <summary>
/// An AF_PACKET/SOCK_RAW socket bound to one device and one EtherType: <see cref="Send"/> puts a whole Ethernet frame on
/// the device's transmit path (for a veth, it arrives at the peer's receive path, where XDP runs), and
/// <see cref="Receive"/> returns the next frame of that EtherType the device received, or null after the timeout. Bound
/// to a specific protocol, the socket sees received frames only, never its own transmissions. Open it in the device's
/// network namespace; afterwards any thread may use it.
/// </summary>
internal sealed unsafe class PacketSocket : IDisposable
{
    private const byte PacketOutgoing = 4;
    private readonly SafeFileHandle _fd;

    private PacketSocket(SafeFileHandle fd, int ifindex)
    {
        _fd = fd;
        Ifindex = ifindex;
    }

    public int Ifindex { get; }

    public static PacketSocket Open(int ifindex, ushort etherType)
    {
        ushort protocol = BinaryPrimitives.ReverseEndianness(etherType);
        int fd = NetNative.Socket(NetNative.AfPacket, NetNative.SockRaw | NetNative.SockCloexec, protocol);
        if (fd < 0)
            throw NetNative.Fail("socket(AF_PACKET)");
        var handle = new SafeFileHandle(fd, ownsHandle: true);
        var address = new SockAddrLinkLayer { Family = NetNative.AfPacket, Protocol = protocol, Ifindex = ifindex };
        if (NetNative.Bind(fd, &address, sizeof(SockAddrLinkLayer)) != 0)
        {
            var errno = NetNative.LastErrno;
            handle.Dispose();
            throw NetNative.Fail($"bind(AF_PACKET, ifindex {ifindex})", errno);
        }
        return new PacketSocket(handle, ifindex);
    }

    /// <summary>
    /// SO_RCVBUFFORCE (root): room for a burst of frames, so a test that reads after sending many does not lose any to a
    /// full socket queue.
    /// </summary>
    public void SetReceiveBuffer(int bytes)
    {
        using var lease = Lease();
        if (NetNative.SetSockOpt(lease.Fd, NetNative.SolSocket, NetNative.SoRcvbufforce, &bytes, sizeof(int)) != 0)
            throw NetNative.Fail("setsockopt(SO_RCVBUFFORCE)");
    }

    /// <summary>Transmits one Ethernet frame (destination MAC first) on the bound device.</summary>
    public void Send(ReadOnlySpan<byte> frame)
    {
        var address = new SockAddrLinkLayer { Family = NetNative.AfPacket, Ifindex = Ifindex, AddressLength = 6 };
        for (int i = 0; i < 6 && i < frame.Length; i++)
            address.Address[i] = frame[i];
        using var lease = Lease();
        fixed (byte* p = frame)
        {
            nint sent = NetNative.SendTo(lease.Fd, p, frame.Length, 0, &address, sizeof(SockAddrLinkLayer));
            if (sent < 0)
                throw NetNative.Fail($"sendto(AF_PACKET, ifindex {Ifindex})");
            if (sent != frame.Length)
                throw new BpfException(Errno.EIO, $"sendto(AF_PACKET, ifindex {Ifindex}): sent {sent} of {frame.Length} bytes");
        }
    }

    /// <summary>The next received frame, or null when none arrives within <paramref name="timeout"/>.</summary>
    public byte[]? Receive(TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        var buffer = new byte[65536];
        using var lease = Lease();
        while (true)
        {
            int remaining = (int)Math.Max(0, Math.Ceiling((deadline - DateTime.UtcNow).TotalMilliseconds));
            var poll = new PollFd { Fd = lease.Fd, Events = NetNative.PollIn };
            int ready = NetNative.Poll(&poll, 1, remaining);
            if (ready < 0)
            {
                if (NetNative.LastErrno == Errno.EINTR)
                    continue;
                throw NetNative.Fail("poll(AF_PACKET)");
            }
            if (ready == 0)
                return null;
            var from = new SockAddrLinkLayer();
            int fromLength = sizeof(SockAddrLinkLayer);
            fixed (byte* p = buffer)
            {
                nint received = NetNative.RecvFrom(lease.Fd, p, buffer.Length, NetNative.MsgDontwait, &from, &fromLength);
                if (received < 0)
                {
                    var errno = NetNative.LastErrno;
                    if (errno is Errno.EAGAIN or Errno.EINTR)
                        continue;
                    throw NetNative.Fail("recvfrom(AF_PACKET)", errno);
                }
                if (from.PacketType == PacketOutgoing)
                    continue;
                return buffer.AsSpan(0, (int)received).ToArray();
            }
        }
    }

    /// <summary>Every frame that arrives until none has come for <paramref name="quiet"/>.</summary>
    public List<byte[]> Drain(TimeSpan quiet)
    {
        var frames = new List<byte[]>();
        while (Receive(quiet) is { } frame)
            frames.Add(frame);
        return frames;
    }

    private SocketLease Lease() => new(_fd);

    public void Dispose() => _fd.Dispose();
}

/// <summary>Keeps a socket descriptor open for the duration of one call.</summary>
internal readonly ref struct SocketLease
{
    private readonly SafeFileHandle _handle;
    private readonly bool _added;

    public SocketLease(SafeFileHandle handle)
    {
        _handle = handle;
        bool added = false;
        handle.DangerousAddRef(ref added);
        _added = added;
    }

    public int Fd => (int)_handle.DangerousGetHandle();

    public void Dispose()
    {
        if (_added)
            _handle.DangerousRelease();
    }
}
