using System.Runtime.InteropServices;
using Ebpf.Linux.Native;

namespace Ebpf.Linux;

/// <summary>What a bpf file descriptor refers to.</summary>
public enum BpfObjectKind
{
    Program,
    Map,
    Btf,
    Link,
}

/// <summary>
/// A file descriptor returned by bpf(2). It closes on Dispose or, if the owner forgets, on finalization,
/// so a kernel object never outlives every handle to it by accident. <see cref="Kind"/> lets error messages
/// and info queries know what they hold.
/// </summary>
public sealed class BpfFd : SafeHandle
{
    public BpfFd(int fd, BpfObjectKind kind, bool ownsHandle = true)
        : base(new IntPtr(-1), ownsHandle)
    {
        SetHandle(new IntPtr(fd));
        Kind = kind;
    }

    public BpfObjectKind Kind { get; }

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

    protected override bool ReleaseHandle() => LibC.Close((int)handle.ToInt64()) == 0;

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
