using System.Text;
using Ebpf.Linux.Native;
using Microsoft.Win32.SafeHandles;

namespace Ebpf.Linux;

/// <summary>Pinning objects in a bpffs mount (BPF_OBJ_PIN / BPF_OBJ_GET) and mounting one.</summary>
internal static unsafe class BpfFs
{
    public const string DefaultMount = "/sys/fs/bpf";

    /// <summary>BPF_OBJ_PIN: the path must be on a bpffs mount and must not exist yet (EEXIST).</summary>
    public static void Pin(BpfFd fd, string path, string what)
    {
        byte[] p = PathBytes(path);
        using var lease = fd.Lease();
        fixed (byte* pp = p)
        {
            var attr = new ObjPinAttr { Pathname = (ulong)pp, BpfFd = lease.Value };
            BpfSyscall.Invoke(BpfCommand.ObjPin, ref attr, $"{what} at {path}");
        }
    }

    /// <summary>BPF_OBJ_GET: opens a pinned object. The kind is what the caller expects; the kernel's own check happens on use.</summary>
    public static BpfFd Get(string path, BpfObjectKind kind, bool readOnly = false, bool writeOnly = false)
    {
        byte[] p = PathBytes(path);
        fixed (byte* pp = p)
        {
            var attr = new ObjPinAttr
            {
                Pathname = (ulong)pp,
                FileFlags = (readOnly ? 1u << 3 : 0) | (writeOnly ? 1u << 4 : 0), // BPF_F_RDONLY / BPF_F_WRONLY
            };
            long fd = BpfSyscall.Invoke(BpfCommand.ObjGet, ref attr, path);
            return BpfSyscall.NewFd(fd, kind);
        }
    }

    /// <summary>statfs f_type of a bpffs (BPF_FS_MAGIC).</summary>
    public const long BpfFsMagic = 0xcafe4a11;

    /// <summary>
    /// Whether PATH (an existing file or directory) lives on a bpffs: pins can only be made there, and the
    /// kernel's own refusal (EPERM) does not say why. A path that cannot be examined is not on one.
    /// </summary>
    public static bool IsBpfFs(string path)
    {
        byte[] p = PathBytes(path);
        // struct statfs is 120 bytes on 64-bit Linux; f_type is its first field (a long). Room to spare.
        long* buffer = stackalloc long[32];
        fixed (byte* pp = p)
        {
            if (LibC.StatFs(pp, buffer) != 0)
                return false;
        }
        return buffer[0] == BpfFsMagic;
    }

    private static byte[] PathBytes(string path)
    {
        if (string.IsNullOrEmpty(path) || path.Contains('\0'))
            throw new BpfException(Errno.EINVAL, $"bpffs path '{path}' is empty or contains NUL");
        return Encoding.UTF8.GetBytes(path + "\0");
    }

    /// <summary>mount -t bpf bpf DIRECTORY (needs CAP_SYS_ADMIN).</summary>
    public static void Mount(string directory)
    {
        byte[] source = Encoding.ASCII.GetBytes("bpf\0");
        byte[] target = PathBytes(directory);
        fixed (byte* s = source)
        fixed (byte* t = target)
        {
            if (LibC.Mount(s, t, s, 0, null) != 0)
            {
                int errno = System.Runtime.InteropServices.Marshal.GetLastPInvokeError();
                throw new BpfException((Errno)errno, $"mount bpffs at {directory}: {LibC.Describe(errno)}");
            }
        }
    }

    /// <summary>umount2(DIRECTORY, MNT_DETACH): lazy, so a straggling open fd cannot make cleanup fail.</summary>
    public static void Unmount(string directory)
    {
        byte[] target = PathBytes(directory);
        fixed (byte* t = target)
        {
            if (LibC.Umount2(t, 2) != 0)
            {
                int errno = System.Runtime.InteropServices.Marshal.GetLastPInvokeError();
                throw new BpfException((Errno)errno, $"unmount {directory}: {LibC.Describe(errno)}");
            }
        }
    }

    /// <summary>Opens a directory (a cgroup, a bpffs dir) as a descriptor for link targets.</summary>
    public static SafeFileHandle OpenDirectory(string path)
    {
        byte[] p = PathBytes(path);
        fixed (byte* pp = p)
        {
            int fd = LibCFiles.Open(pp, LibCFiles.ORdOnly | LibCFiles.ODirectory | LibCFiles.OCloexec, 0);
            if (fd < 0)
            {
                int errno = System.Runtime.InteropServices.Marshal.GetLastPInvokeError();
                throw new BpfException((Errno)errno, $"open {path}: {LibC.Describe(errno)}");
            }
            return new SafeFileHandle(new IntPtr(fd), ownsHandle: true);
        }
    }
}

/// <summary>
/// A private bpffs mounted on a fresh temporary directory; Dispose unmounts it and deletes the directory,
/// so pins made there never outlive the owner (tests, probes, short-lived tools).
/// </summary>
internal sealed class TemporaryBpfFs : IDisposable
{
    private bool _disposed;

    public TemporaryBpfFs()
    {
        Path = Directory.CreateTempSubdirectory("ebpf-bpffs-").FullName;
        try
        {
            BpfFs.Mount(Path);
        }
        catch
        {
            Directory.Delete(Path);
            throw;
        }
    }

    public string Path { get; }

    public string this[string name] => System.IO.Path.Combine(Path, name);

    public void Dispose()
    {
        if (_disposed)
            return;
        _disposed = true;
        // Unmounting drops every pin in this instance; the directory is empty again afterwards.
        BpfFs.Unmount(Path);
        Directory.Delete(Path);
    }
}
