using System.Runtime.InteropServices;

namespace Ebpf.Linux.Native;

/// <summary>The few libc entry points the backend needs. errno is captured by the marshaller (SetLastError).</summary>
internal static unsafe class LibC
{
    private const string Lib = "libc";

    /// <summary>syscall(2): bpf(2) has no libc wrapper, so it goes through the generic entry point.</summary>
    [DllImport(Lib, EntryPoint = "syscall", SetLastError = true)]
    public static extern long Syscall(long number, long cmd, void* attr, long size);

    [DllImport(Lib, EntryPoint = "close", SetLastError = true)]
    public static extern int Close(int fd);

    [DllImport(Lib, EntryPoint = "mount", SetLastError = true)]
    public static extern int Mount(byte* source, byte* target, byte* fsType, ulong flags, void* data);

    [DllImport(Lib, EntryPoint = "umount2", SetLastError = true)]
    public static extern int Umount2(byte* target, int flags);

    /// <summary>statfs(2); the buffer must hold a struct statfs (120 bytes on 64-bit Linux), f_type first.</summary>
    [DllImport(Lib, EntryPoint = "statfs", SetLastError = true)]
    public static extern int StatFs(byte* path, void* buffer);

    [DllImport(Lib, EntryPoint = "unlink", SetLastError = true)]
    public static extern int Unlink(byte* path);

    [DllImport(Lib, EntryPoint = "rmdir", SetLastError = true)]
    public static extern int Rmdir(byte* path);

    [DllImport(Lib, EntryPoint = "strerror")]
    private static extern byte* StrError(int errnum);

    /// <summary>The C library's text for an errno ("Permission denied"), as strerror(3) prints it.</summary>
    public static string Describe(int errno)
    {
        if (errno == 524)
            return "Unknown error 524 (ENOTSUPP)"; // kernel-internal, libc has no text for it
        try
        {
            return Marshal.PtrToStringUTF8((nint)StrError(errno)) ?? $"errno {errno}";
        }
        catch (DllNotFoundException)
        {
            return $"errno {errno}";
        }
    }
}

internal static unsafe class LibCFiles
{
    public const int ORdOnly = 0;
    public const int ODirectory = 0x10000; // x86-64 and arm64 share this value
    public const int OCloexec = 0x80000;

    [DllImport("libc", EntryPoint = "open", SetLastError = true)]
    public static extern int Open(byte* path, int flags, int mode);

    [DllImport("libc", EntryPoint = "read", SetLastError = true)]
    public static extern nint Read(int fd, byte* buffer, nuint count);
}
