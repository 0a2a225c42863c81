using Ebpf.Runtime.Objects;

namespace Ebpf.Runtime;

/// <summary>Per-handle access mode of a map (BPF_F_RDONLY / BPF_F_WRONLY on GET_FD_BY_ID and OBJ_GET).</summary>
public enum MapAccess
{
    ReadWrite,
    ReadOnly,
    WriteOnly,
}

/// <summary>
/// The managed analogue of an fd: owns one reference on its object until disposed. Disposing twice
/// is harmless; a handle that is never disposed drops its reference from the finalizer, so a leaked
/// handle cannot keep an object alive forever. <see cref="Duplicate"/> is dup(2).
/// </summary>
public abstract class BpfHandle : IDisposable
{
    private int _closed;

    private protected BpfHandle(KernelObject obj)
    {
        Object = obj;
    }

    ~BpfHandle()
    {
        // The object graph below is ours alone (no other finalizable state), so releasing here is safe.
        Close();
    }

    public KernelObject Object { get; }
    public uint Id => Object.Id;
    public BpfRuntime Runtime => Object.Runtime;
    public bool IsClosed => Volatile.Read(ref _closed) != 0;

    public void Dispose()
    {
        Close();
        GC.SuppressFinalize(this);
    }

    private void Close()
    {
        if (Interlocked.Exchange(ref _closed, 1) == 0)
            DropReference();
    }

    /// <summary>EBADF when used after Dispose, as an fd after close(2).</summary>
    internal void ThrowIfClosed()
    {
        if (IsClosed)
            throw new BpfException(Errno.EBADF, $"{Object.Kind} handle for id {Object.Id} is closed");
    }

    private protected virtual void DropReference() => Object.Release();

    /// <summary>A second handle on the same object (takes its own reference).</summary>
    public abstract BpfHandle Duplicate();
}

/// <summary>A program handle.</summary>
public sealed class BpfProgram : BpfHandle
{
    internal BpfProgram(ProgramObject program) : base(program) { }

    public ProgramObject Program
    {
        get { ThrowIfClosed(); return (ProgramObject)Object; }
    }

    public ProgramInfo GetInfo() => Program.GetInfo();

    public override BpfProgram Duplicate()
    {
        Program.Acquire();
        return new BpfProgram((ProgramObject)Object);
    }
}

/// <summary>A map handle: a user reference (refcnt and usercnt) with an access mode.</summary>
public sealed class BpfMap : BpfHandle
{
    internal BpfMap(MapObject map, MapAccess access) : base(map)
    {
        Access = access;
    }

    public MapAccess Access { get; }

    public MapObject Map
    {
        get { ThrowIfClosed(); return (MapObject)Object; }
    }

    public MapInfo GetInfo() => Map.GetInfo();

    /// <summary>EPERM when this handle was opened read-only (the kernel checks FMODE_CAN_WRITE).</summary>
    public void RequireWritable()
    {
        if (Access == MapAccess.ReadOnly)
            throw new BpfException(Errno.EPERM, $"map {Id} handle is read-only");
    }

    /// <summary>EPERM when this handle was opened write-only.</summary>
    public void RequireReadable()
    {
        if (Access == MapAccess.WriteOnly)
            throw new BpfException(Errno.EPERM, $"map {Id} handle is write-only");
    }

    private protected override void DropReference() => ((MapObject)Object).ReleaseUser();

    public override BpfMap Duplicate()
    {
        Map.AcquireUser();
        return new BpfMap((MapObject)Object, Access);
    }
}

/// <summary>A link handle. Disposing the last reference of a link detaches it.</summary>
public sealed class BpfLink : BpfHandle
{
    internal BpfLink(LinkObject link) : base(link) { }

    public LinkObject Link
    {
        get { ThrowIfClosed(); return (LinkObject)Object; }
    }

    public LinkInfo GetInfo() => Link.GetInfo();

    public override BpfLink Duplicate()
    {
        Link.Acquire();
        return new BpfLink((LinkObject)Object);
    }
}

/// <summary>A BTF object handle.</summary>
public sealed class BtfHandle : BpfHandle
{
    internal BtfHandle(BtfObject btf) : base(btf) { }

    public BtfObject Btf
    {
        get { ThrowIfClosed(); return (BtfObject)Object; }
    }

    public BtfInfo GetInfo() => Btf.GetInfo();

    public override BtfHandle Duplicate()
    {
        Btf.Acquire();
        return new BtfHandle((BtfObject)Object);
    }
}
