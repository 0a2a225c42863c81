using System.Runtime.InteropServices;
using Ebpf.Linux.Native;

namespace Ebpf.Linux;

/// <summary>
/// The one way into bpf(2): picks the syscall number for the running architecture, issues the command,
/// and turns a -1 into a <see cref="BpfException"/> naming the command and the object
/// ("BPF_PROG_LOAD xdp_prog: Permission denied").
/// </summary>
internal static unsafe class BpfSyscall
{
    /// <summary>__NR_bpf for this process's architecture, or -1 where this backend does not know it.</summary>
    public static long SyscallNumber { get; } = RuntimeInformation.ProcessArchitecture switch
    {
        Architecture.X64 => 321,
        Architecture.Arm64 => 280,
        _ => -1,
    };

    /// <summary>Issues a command; returns the non-negative result or the errno (never throws).</summary>
    internal static long TryInvoke<T>(BpfCommand command, ref T attr, out Errno errno) where T : unmanaged
    {
        if (!OperatingSystem.IsLinux() || SyscallNumber < 0)
        {
            errno = Errno.ENOSYS;
            return -1;
        }
        long result;
        fixed (T* p = &attr)
            result = LibC.Syscall(SyscallNumber, (long)command, p, sizeof(T));
        errno = result < 0 ? (Errno)Marshal.GetLastPInvokeError() : Errno.None;
        return result;
    }

    /// <summary>Issues a command; throws with the command and <paramref name="what"/> named on failure.</summary>
    internal static long Invoke<T>(BpfCommand command, ref T attr, string what, string? log = null) where T : unmanaged
    {
        long result = TryInvoke(command, ref attr, out var errno);
        if (result < 0)
            throw Error(command, what, errno, log);
        return result;
    }

    /// <summary>The exception for a failed command: "BPF_MAP_CREATE counters: Operation not permitted".</summary>
    public static BpfException Error(BpfCommand command, string what, Errno errno, string? log = null)
    {
        string subject = string.IsNullOrEmpty(what) ? command.UapiName() : $"{command.UapiName()} {what}";
        string text = errno == Errno.ENOSYS && SyscallNumber < 0
            ? $"bpf(2) is not available on {RuntimeInformation.OSDescription} {RuntimeInformation.ProcessArchitecture}"
            : LibC.Describe((int)errno);
        return new BpfException(errno, $"{subject}: {text}", log);
    }

    /// <summary>Wraps a new descriptor, closing it if wrapping fails, so no path leaks it.</summary>
    internal static BpfFd NewFd(long fd, BpfObjectKind kind) => new((int)fd, kind);

    internal static ulong Ptr(void* p) => (ulong)p;
}
