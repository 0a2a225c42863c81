using System.Runtime.InteropServices;

namespace Ebpf.Linux.Net;

/// <summary>The libc socket and namespace entry points the networking code needs. errno is captured (SetLastError).</summary>
internal static unsafe class NetNative
{
    private const string Lib = "libc";

    public const int AfNetlink = 16, AfPacket = 17;
    public const int SockRaw = 3, SockCloexec = 0x80000;
    public const int NetlinkRoute = 0;
    public const int SolSocket = 1, SolNetlink = 270;
    public const int SoRcvtimeo = 20, SoSndtimeo = 21, SoRcvbuf = 8, SoRcvbufforce = 33;
    public const int NetlinkCapAck = 10, NetlinkExtAck = 11;
    public const int MsgDontwait = 0x40;
    public const short PollIn = 0x1;
    public const int CloneNewnet = 0x40000000;

    [DllImport(Lib, EntryPoint = "socket", SetLastError = true)]
    public static extern int Socket(int domain, int type, int protocol);

    [DllImport(Lib, EntryPoint = "bind", SetLastError = true)]
    public static extern int Bind(int fd, void* address, int length);

    [DllImport(Lib, EntryPoint = "setsockopt", SetLastError = true)]
    public static extern int SetSockOpt(int fd, int level, int name, void* value, int length);

    [DllImport(Lib, EntryPoint = "sendto", SetLastError = true)]
    public static extern nint SendTo(int fd, void* buffer, nint length, int flags, void* address, int addressLength);

    [DllImport(Lib, EntryPoint = "recvfrom", SetLastError = true)]
    public static extern nint RecvFrom(int fd, void* buffer, nint length, int flags, void* address, int* addressLength);

    [DllImport(Lib, EntryPoint = "poll", SetLastError = true)]
    public static extern int Poll(PollFd* fds, nuint count, int timeoutMs);

    [DllImport(Lib, EntryPoint = "unshare", SetLastError = true)]
    public static extern int Unshare(int flags);

    [DllImport(Lib, EntryPoint = "setns", SetLastError = true)]
    public static extern int SetNs(int fd, int nstype);

    [DllImport(Lib, EntryPoint = "if_nametoindex", SetLastError = true)]
    public static extern uint IfNameToIndex(byte* name);

    public static Errno LastErrno => (Errno)Marshal.GetLastPInvokeError();

    /// <summary>A failed call as an exception naming what was being done ("socket(AF_PACKET): Operation not permitted").</summary>
    public static BpfException Fail(string what) => Fail(what, LastErrno);

    public static BpfException Fail(string what, Errno errno) => new(errno, $"{what}: {Native.LibC.Describe((int)errno)}");
}

/// <summary>struct pollfd.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct PollFd
{
    public int Fd;
    public short Events;
    public short Revents;
}

/// <summary>struct timeval (64-bit).</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct TimeVal
{
    public long Seconds;
    public long Microseconds;

    public static TimeVal From(TimeSpan span) => new() { Seconds = (long)span.TotalSeconds, Microseconds = span.Milliseconds * 1000L + span.Microseconds };
}

/// <summary>struct sockaddr_nl.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct SockAddrNetlink
{
    public ushort Family;
    public ushort Pad;
    public uint PortId;
    public uint Groups;
}

/// <summary>struct sockaddr_ll.</summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct SockAddrLinkLayer
{
    public ushort Family;
    public ushort Protocol; // network byte order
    public int Ifindex;
    public ushort HardwareType;
    public byte PacketType;
    public byte AddressLength;
    public fixed byte Address[8];
}
