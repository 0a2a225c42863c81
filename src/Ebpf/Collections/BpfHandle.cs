namespace Ebpf.Collections;

/// <summary>Per-handle access mode of a map (BPF_F_RDONLY / BPF_F_WRONLY on GET_FD_BY_ID and OBJ_GET).</summary>
public enum MapAccess
{
    /// <summary>Reads and writes (the default).</summary>
    ReadWrite,
    /// <summary>BPF_F_RDONLY: writes through this handle fail with EPERM.</summary>
    ReadOnly,
    /// <summary>BPF_F_WRONLY: reads through this handle fail with EPERM.</summary>
    WriteOnly,
}

/// <summary>
/// A live BPF object held by the user: the analogue of an fd, whatever the backend (the managed runtime or the
/// Linux kernel). Owns one reference on its object until disposed; disposing twice is harmless; a handle that is
/// never disposed drops its reference from the finalizer. <see cref="Duplicate"/> is dup(2).
/// </summary>
public abstract class BpfHandle : IDisposable
{
    private int _closed;

    private protected BpfHandle(IBpfBackend backend, object native, uint id)
    {
        Backend = backend;
        Native = native;
        Id = id;
    }

    /// <summary>Drops the reference of a handle that was never disposed.</summary>
    ~BpfHandle()
    {
        // What the backend releases is its own (a managed refcount, an fd), so releasing here is safe.
        Close();
    }

    /// <summary>The backend that holds the object.</summary>
    public IBpfBackend Backend { get; }

    /// <summary>The backend's own object behind the handle (a runtime object, a file descriptor); only the backend reads it.</summary>
    internal object Native { get; }

    /// <summary>The object's id in its backend.</summary>
    public uint Id { get; }

    /// <summary>True once disposed.</summary>
    public bool IsClosed => Volatile.Read(ref _closed) != 0;

    /// <summary>Drops this handle's reference.</summary>
    public void Dispose()
    {
        Close();
        GC.SuppressFinalize(this);
    }

    private void Close()
    {
        if (Interlocked.Exchange(ref _closed, 1) == 0)
            Backend.Release(this);
    }

    /// <summary>EBADF when used after Dispose, as an fd after close(2).</summary>
    internal void ThrowIfClosed()
    {
        if (IsClosed)
            throw new BpfException(Errno.EBADF, $"{GetType().Name} handle for id {Id} is closed");
    }

    /// <summary>The backend object, checked open: what backends call before acting on a handle.</summary>
    internal T NativeAs<T>() where T : class
    {
        ThrowIfClosed();
        return Native as T ?? throw new BpfException(Errno.EINVAL, $"{GetType().Name} {Id} belongs to another backend ({Backend.Name})");
    }

    /// <summary>A second handle on the same object (takes its own reference).</summary>
    public BpfHandle Duplicate() => Backend.Duplicate(this);

    /// <summary>BPF_OBJ_PIN in the backend's bpffs.</summary>
    public void Pin(string path) => Backend.Pin(this, path);
}
