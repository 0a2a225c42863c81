using System.Runtime.InteropServices;
using Ebpf.Linux.Native;

namespace Ebpf.Linux;

/// <summary>What a bpf file descriptor refers to.</summary>
public enum BpfObjectKind
{
    /// <summary>A program (BPF_PROG_LOAD, BPF_PROG_GET_FD_BY_ID).</summary>
    Program,
    /// <summary>A map (BPF_MAP_CREATE, BPF_MAP_GET_FD_BY_ID).</summary>
    Map,
    /// <summary>A BTF object (BPF_BTF_LOAD, BPF_BTF_GET_FD_BY_ID).</summary>
    Btf,
    /// <summary>A link (BPF_LINK_CREATE, BPF_RAW_TRACEPOINT_OPEN, BPF_LINK_GET_FD_BY_ID).</summary>
    Link,
}

/// <summary>
/// A file descriptor returned by bpf(2). It closes on Dispose or, if the owner forgets, on finalization,
/// so a kernel object never outlives every handle to it by accident. <see cref="Kind"/> lets error messages
/// and info queries know what they hold.
/// </summary>
public sealed class BpfFd : SafeHandle
{
    /// <summary>Wraps a descriptor bpf(2) returned; with <paramref name="ownsHandle"/> false it is borrowed and never closed here.</summary>
    public BpfFd(int fd, BpfObjectKind kind, bool ownsHandle = true)
        : base(new IntPtr(-1), ownsHandle)
    {
        SetHandle(new IntPtr(fd));
        Kind = kind;
    }

    /// <summary>What the descriptor refers to, for messages and for choosing the info struct.</summary>
    public BpfObjectKind Kind { get; }

    /// <summary>Negative descriptors (a failed call, or none yet) are invalid and never closed.</summary>
    public override bool IsInvalid => handle.ToInt64() < 0;

    /// <summary>The raw descriptor, for the attr fields; throws once disposed so a stale number is never sent.</summary>
    public int Value
    {
        get
        {
            ObjectDisposedException.ThrowIf(IsClosed, this);
            return (int)handle.ToInt64();
        }
    }

    /// <summary>Keeps the descriptor open while a command that names it is in flight (guards against a racing Dispose).</summary>
    internal FdLease Lease()
    {
        bool added = false;
        DangerousAddRef(ref added);
        return new FdLease(this, added);
    }

    /// <summary>Closes the descriptor; the kernel frees the object once no fd, pin or link holds it.</summary>
    protected override bool ReleaseHandle() => LibC.Close((int)handle.ToInt64()) == 0;

    /// <summary>The kind and the descriptor number, or "(closed)".</summary>
    public override string ToString() => IsClosed ? $"{Kind} fd (closed)" : $"{Kind} fd {handle}";
}

/// <summary>A reference on a <see cref="BpfFd"/> for the duration of one syscall; a null fd leases as 0.</summary>
internal readonly struct FdLease : IDisposable
{
    private readonly BpfFd? _fd;
    private readonly bool _added;

    public FdLease(BpfFd? fd, bool added)
    {
        _fd = fd;
        _added = added;
    }

    public static FdLease Of(BpfFd? fd) => fd is null ? default : fd.Lease();

    public uint Value => _fd is null ? 0u : (uint)_fd.Value;

    public void Dispose()
    {
        if (_added)
            _fd!.DangerousRelease();
    }
}
