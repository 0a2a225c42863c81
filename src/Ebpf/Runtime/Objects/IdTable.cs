namespace Ebpf.Runtime.Objects;

/// <summary>
/// One id namespace (the kernel's prog_idr / map_idr / btf_idr / link_idr): ids are allocated
/// cyclically from 1 up to (excluding) INT_MAX and never handed out again while their object
/// lives. Like idr_alloc_cyclic, the search for a free id starts after the last one given out,
/// so a freed id is reused only after the counter wraps.
/// </summary>
internal sealed class IdTable
{
    public const uint MaxId = int.MaxValue; // exclusive upper bound

    private readonly SortedDictionary<uint, KernelObject> _objects = new();
    private readonly HashSet<uint> _reserved = new();
    private readonly Lock _lock = new();
    private uint _next = 1;

    /// <summary>Test hook: where the cyclic search starts next.</summary>
    internal uint NextCandidate { get { lock (_lock) return _next; } set { lock (_lock) _next = value is 0 or >= MaxId ? 1 : value; } }

    /// <summary>Reserves an id without publishing it (the link "prime" phase, and load before publish).</summary>
    public uint Reserve()
    {
        lock (_lock)
        {
            uint start = _next;
            uint candidate = start;
            while (_objects.ContainsKey(candidate) || _reserved.Contains(candidate))
            {
                candidate = candidate + 1 >= MaxId ? 1 : candidate + 1;
                if (candidate == start)
                    throw new BpfException(Errno.ENOSPC, "no free object id left");
            }
            _reserved.Add(candidate);
            _next = candidate + 1 >= MaxId ? 1 : candidate + 1;
            return candidate;
        }
    }

    public void Publish(uint id, KernelObject obj)
    {
        lock (_lock)
        {
            _reserved.Remove(id);
            _objects.Add(id, obj);
        }
    }

    public void Unreserve(uint id)
    {
        lock (_lock) _reserved.Remove(id);
    }

    /// <summary>Reserved-but-unpublished ids answer EAGAIN on lookup (links between prime and settle).</summary>
    public bool IsReserved(uint id)
    {
        lock (_lock) return _reserved.Contains(id);
    }

    public void Remove(uint id, KernelObject obj)
    {
        lock (_lock)
        {
            if (_objects.TryGetValue(id, out var current) && ReferenceEquals(current, obj))
                _objects.Remove(id);
        }
    }

    public KernelObject? Find(uint id)
    {
        lock (_lock) return _objects.GetValueOrDefault(id);
    }

    /// <summary>Smallest id strictly greater than <paramref name="startId"/>; 0 when none.</summary>
    public uint NextAfter(uint startId)
    {
        lock (_lock)
        {
            foreach (var id in _objects.Keys)
                if (id > startId)
                    return id;
            return 0;
        }
    }

    public int Count
    {
        get { lock (_lock) return _objects.Count; }
    }

    public uint[] Ids()
    {
        lock (_lock) return _objects.Keys.ToArray();
    }
}
