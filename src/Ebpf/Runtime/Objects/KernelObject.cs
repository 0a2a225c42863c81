using Ebpf.Abi;
namespace Ebpf.Runtime.Objects;

/// <summary>
/// A reference-counted BPF object inside one <see cref="BpfRuntime"/>: program, map, BTF or link.
/// The count is the kernel's refcnt: every handle, pin and internal holder (a program's used
/// maps, a prog-array slot, a link's program …) owns one reference. When it reaches zero the id
/// disappears first, then <see cref="OnFree"/> releases what this object holds, in that order, as
/// the kernel's put paths do.
/// </summary>
public abstract class KernelObject
{
    private long _refs = 1; // the creator's reference
    private int _freed;

    /// <summary>A new object of <paramref name="kind"/> in <paramref name="runtime"/>, holding its creator's one reference.</summary>
    protected KernelObject(BpfRuntime runtime, ObjectKind kind)
    {
        Runtime = runtime;
        Kind = kind;
    }

    /// <summary>The runtime the object belongs to; its id is unique there and nowhere else.</summary>
    public BpfRuntime Runtime { get; }
    /// <summary>Which kind of object this is (program, map, link, BTF): the id space it lives in.</summary>
    public ObjectKind Kind { get; }

    /// <summary>The object's id; 0 until published (and for a link before it settles).</summary>
    public uint Id { get; internal set; }

    /// <summary>Current reference count (diagnostics and tests).</summary>
    public long ReferenceCount => Interlocked.Read(ref _refs);

    /// <summary>True once the last reference went and the object released what it held.</summary>
    public bool IsFreed => Volatile.Read(ref _freed) != 0;

    /// <summary>Takes a reference on an object the caller already holds (kernel: bpf_*_inc).</summary>
    internal void Acquire()
    {
        long after = Interlocked.Increment(ref _refs);
        if (after <= 1)
            throw new InvalidOperationException($"{Kind} {Id}: reference taken on a freed object");
    }

    /// <summary>Takes a reference only while the object is alive (kernel: *_inc_not_zero, used by id lookup).</summary>
    internal bool TryAcquire()
    {
        long current = Interlocked.Read(ref _refs);
        while (current > 0)
        {
            long seen = Interlocked.CompareExchange(ref _refs, current + 1, current);
            if (seen == current)
                return true;
            current = seen;
        }
        return false;
    }

    /// <summary>Drops one reference; the last one frees the object (kernel: bpf_*_put).</summary>
    internal void Release()
    {
        long after = Interlocked.Decrement(ref _refs);
        if (after > 0)
            return;
        if (after < 0)
            throw new InvalidOperationException($"{Kind} {Id}: reference count went negative");
        if (Interlocked.Exchange(ref _freed, 1) != 0)
            return;
        Runtime.Unpublish(this);
        OnFree();
    }

    /// <summary>Releases the references this object holds on others, and its memory.</summary>
    protected virtual void OnFree()
    {
    }
}
