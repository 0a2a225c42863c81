using System.Runtime.InteropServices;

namespace Ebpf.Bench.Execution;

/// <summary>
/// Memory below 4 GiB (Linux x86-64 mmap MAP_32BIT). The benchmark programs read ctx->data as a u32
/// pointer (ubpf style): until the runtime rewrites ctx accesses, the packet must have a 32-bit address.
/// </summary>
internal static unsafe partial class LowMemory
{
    private const int ProtRead = 1, ProtWrite = 2;
    private const int MapPrivate = 0x02, MapAnonymous = 0x20, Map32Bit = 0x40;

    [LibraryImport("libc", EntryPoint = "mmap", SetLastError = true)]
    private static partial nint Mmap(nint address, nuint length, int protection, int flags, int fd, nint offset);

    [LibraryImport("libc", EntryPoint = "munmap", SetLastError = true)]
    private static partial int Munmap(nint address, nuint length);



    public static bool IsSupported => OperatingSystem.IsLinux() && RuntimeInformation.ProcessArchitecture == Architecture.X64;

    public static byte* Allocate(nuint length)
    {
        if (!IsSupported)
            throw new PlatformNotSupportedException("MAP_32BIT needs Linux on x86-64");
        nint p = Mmap(0, length, ProtRead | ProtWrite, MapPrivate | MapAnonymous | Map32Bit, -1, 0);
        if (p == -1 || (ulong)p + length > uint.MaxValue)
            throw new InvalidOperationException($"mmap(MAP_32BIT) failed: errno {Marshal.GetLastPInvokeError()}");
        return (byte*)p;
    }

    public static void Free(byte* p, nuint length) => Munmap((nint)p, length);
}
