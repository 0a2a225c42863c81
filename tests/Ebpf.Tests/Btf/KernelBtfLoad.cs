using System.Runtime.InteropServices;
using System.Text;

namespace Ebpf.Tests.Btf;

/// <summary>
/// Test-only BPF_BTF_LOAD through bpf(2), to check our validator against the running kernel's verdicts.
/// (The library's own bpf(2) layer belongs to Ebpf.Linux; this stays minimal on purpose.)
/// </summary>
internal static unsafe partial class KernelBtfLoad
{
    private const long SysBpf = 321; // x86-64
    private const int BpfBtfLoad = 18;

    [LibraryImport("libc", SetLastError = true)]
    private static partial long syscall(long number, int cmd, void* attr, uint size);

    [LibraryImport("libc")]
    private static partial int close(int fd);

    /// <summary>Null when the kernel cannot be asked (not Linux/x86-64, no privilege).</summary>
    public static string? Unavailable()
    {
        if (!OperatingSystem.IsLinux() || RuntimeInformation.ProcessArchitecture != Architecture.X64)
            return "needs Linux on x86-64";
        var (ok, _, errno) = Load([0x9f, 0xeb, 1, 0, 24, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        return errno is 1 or 38 ? $"bpf(2) BPF_BTF_LOAD refused with errno {errno}" : null;
    }

    /// <summary>Loads raw BTF; returns whether the kernel accepted it, its log and the errno.</summary>
    public static (bool Accepted, string Log, int Errno) Load(byte[] btf)
    {
        // Without a log first: with one the kernel logs every type and big BTF would overflow it (ENOSPC).
        var quiet = Load(btf, []);
        return quiet.Accepted ? quiet : Load(btf, new byte[64 << 20]);
    }

    private static (bool Accepted, string Log, int Errno) Load(byte[] btf, byte[] log)
    {
        fixed (byte* data = btf)
        fixed (byte* logBuf = log)
        {
            byte* attr = stackalloc byte[32];
            new Span<byte>(attr, 32).Clear();
            *(ulong*)attr = (ulong)data;
            *(ulong*)(attr + 8) = log.Length == 0 ? 0 : (ulong)logBuf;
            *(uint*)(attr + 16) = (uint)btf.Length;
            *(uint*)(attr + 20) = (uint)log.Length;
            *(uint*)(attr + 24) = log.Length == 0 ? 0u : 1u;
            long fd = syscall(SysBpf, BpfBtfLoad, attr, 28);
            int errno = fd < 0 ? Marshal.GetLastPInvokeError() : 0;
            if (fd >= 0)
                close((int)fd);
            if (log.Length == 0)
                return (fd >= 0, "", errno);
            int end = Array.IndexOf(log, (byte)0);
            return (fd >= 0, Encoding.UTF8.GetString(log, 0, end < 0 ? log.Length : end), errno);
        }
    }
}
