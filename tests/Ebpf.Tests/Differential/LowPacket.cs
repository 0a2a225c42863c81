using System.Runtime.InteropServices;

namespace Ebpf.Tests.Differential;

/// <summary>
/// A fake <c>struct xdp_md</c> and its packet in one mapping below 4 GiB (mmap MAP_32BIT): xdp_md's
/// data/data_end are u32, and our interpreter has no ctx rewriting, so a program reading them as
/// pointers needs the packet to have a 32-bit address. Layout: xdp_md at +0, the packet at +64.
/// </summary>
internal sealed unsafe partial class LowPacket : IDisposable
{
    private const int ProtRead = 1, ProtWrite = 2, MapPrivate = 0x02, MapAnonymous = 0x20, Map32Bit = 0x40;

    [LibraryImport("libc", EntryPoint = "mmap", SetLastError = true)]
    private static partial nint Mmap(nint address, nuint length, int protection, int flags, int fd, nint offset);

    [LibraryImport("libc", EntryPoint = "munmap")]
    private static partial int Munmap(nint address, nuint length);

    private readonly nuint _length;

    public byte* Context { get; }
    public byte* Data => Context + 64;
    public int DataLength { get; }

    public static bool IsSupported => OperatingSystem.IsLinux() && RuntimeInformation.ProcessArchitecture == Architecture.X64;

    public LowPacket(ReadOnlySpan<byte> packet)
    {
        _length = (nuint)(64 + packet.Length + 64);
        nint p = Mmap(0, _length, ProtRead | ProtWrite, MapPrivate | MapAnonymous | Map32Bit, -1, 0);
        if (p == -1 || (ulong)p + _length > uint.MaxValue)
            throw new InvalidOperationException($"mmap(MAP_32BIT) failed: errno {Marshal.GetLastPInvokeError()}");
        Context = (byte*)p;
        DataLength = packet.Length;
        packet.CopyTo(new Span<byte>(Data, packet.Length));
        ((uint*)Context)[0] = (uint)(ulong)Data;
        ((uint*)Context)[1] = (uint)((ulong)Data + (ulong)packet.Length);
    }

    public Span<byte> Packet => new(Data, DataLength);

    public void Dispose() => Munmap((nint)Context, _length);
}
