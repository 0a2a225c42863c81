using System.Runtime.InteropServices;
using System.Text;
using Ebpf.Abi;
using Ebpf.Collections;
using Ebpf.Linux.Native;

namespace Ebpf.Linux;

/// <summary>
/// A kernel BPF iterator: the fd BPF_ITER_CREATE returns, or open(2) of a pinned iterator link; read(2) runs the
/// iterator program (kernel/bpf/bpf_iter.c's bpf_seq_read).
/// </summary>
internal sealed unsafe class KernelIterator : BpfIterator
{
    private readonly SafeFileDescriptor _fd;
    private readonly string _what;

    private KernelIterator(int fd, string what)
    {
        _fd = new SafeFileDescriptor(fd);
        _what = what;
    }

    /// <summary>BPF_LINK_CREATE with attach type BPF_TRACE_ITER and iter_info (map_fd for bpf_map_elem).</summary>
    public static KernelLink Attach(KernelProgram program, KernelMap? map)
    {
        // union bpf_iter_link_info: { struct { __u32 map_fd; } map; ... }, 16 bytes as libbpf passes it.
        var info = stackalloc uint[4];
        using var mapFd = FdLease.Of(map?.Fd);
        info[0] = mapFd.Value;
        return KernelLink.Create(new LinkCreateOptions
        {
            Program = program,
            AttachType = AttachType.TraceIter,
            IterInfo = map is null ? 0 : (ulong)info,
            IterInfoLength = map is null ? 0 : 16u,
        });
    }

    /// <summary>BPF_ITER_CREATE on a link fd.</summary>
    public static KernelIterator Create(KernelLink link)
    {
        using var lease = link.Fd.Lease();
        var attr = new IterCreateAttr { LinkFd = (uint)lease.Value };
        long fd = BpfSyscall.Invoke(BpfCommand.IterCreate, ref attr, $"link {link.Fd.Value}");
        return new KernelIterator((int)fd, $"iterator of link {lease.Value}");
    }

    /// <summary>open(2) of a pinned iterator link.</summary>
    public static KernelIterator OpenPinned(string path)
    {
        byte[] p = Encoding.UTF8.GetBytes(path + "\0");
        fixed (byte* pp = p)
        {
            int fd = LibCFiles.Open(pp, LibCFiles.ORdOnly | LibCFiles.OCloexec, 0);
            if (fd < 0)
            {
                var errno = (Errno)Marshal.GetLastPInvokeError();
                throw new BpfException(errno, $"open '{path}': {errno}");
            }
            return new KernelIterator(fd, path);
        }
    }

    public override int Read(Span<byte> buffer)
    {
        bool added = false;
        _fd.DangerousAddRef(ref added);
        try
        {
            fixed (byte* b = buffer)
            {
                nint n = LibCFiles.Read((int)_fd.DangerousGetHandle(), b, (nuint)buffer.Length);
                if (n < 0)
                {
                    var errno = (Errno)Marshal.GetLastPInvokeError();
                    throw new BpfException(errno, $"read {_what}: {errno}");
                }
                return (int)n;
            }
        }
        finally
        {
            if (added)
                _fd.DangerousRelease();
        }
    }

    protected override void Dispose(bool disposing) => _fd.Dispose();

    /// <summary>An owned plain file descriptor.</summary>
    private sealed class SafeFileDescriptor(int fd) : SafeHandle(fd, ownsHandle: true)
    {
        public override bool IsInvalid => handle.ToInt64() < 0;
        protected override bool ReleaseHandle() => LibC.Close((int)handle) == 0;
    }
}
