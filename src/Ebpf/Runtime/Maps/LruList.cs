namespace Ebpf.Runtime.Maps;

/// <summary>
/// One LRU list of an LRU hash map (the common list, or one per CPU with BPF_F_NO_COMMON_LRU).
/// Elements link through their native headers. <see cref="Count"/> = elements in the list +
/// reservations not yet inserted, and never exceeds <see cref="Capacity"/>. Victims are picked
/// second-chance style from the tail: a lookup sets the element's ref bit, the scan clears it and
/// rotates the element to the head once (like the kernel, an approximation of LRU, not strict).
/// Lock order: bucket lock → list lock; never the other way.
/// </summary>
internal sealed unsafe class LruList
{
    private readonly object _lock = new();
    private nint _head, _tail;
    private int _linked;

    public LruList(int index, int capacity)
    {
        Index = index;
        Capacity = capacity;
    }

    public int Index { get; }
    public int Capacity { get; }
    public int Count { get; private set; }

    /// <summary>
    /// Takes a slot. Returns 0 when a free slot was taken; otherwise a victim removed from the list
    /// whose slot now belongs to the caller (who must unlink it from its bucket if it is still
    /// linked); or -1 when the list is empty but every slot is reserved (ENOMEM).
    /// </summary>
    public nint Reserve()
    {
        lock (_lock)
        {
            if (Count < Capacity) { Count++; return 0; }
            if (_tail == 0) return -1;
            for (int i = 0; i < _linked && HashElem.Ref(_tail) != 0; i++)
            {
                nint t = _tail;
                HashElem.Ref(t) = 0;
                Unlink(t);
                PushHead(t);
            }
            nint victim = _tail;
            Unlink(victim);
            HashElem.InLru(victim) = 0;
            return victim;
        }
    }

    /// <summary>Gives back a reserved slot that was not used.</summary>
    public void Unreserve()
    {
        lock (_lock) Count--;
    }

    /// <summary>Puts an element (holding a reserved slot) at the head.</summary>
    public void Insert(nint e)
    {
        lock (_lock)
        {
            HashElem.LruList(e) = Index;
            HashElem.InLru(e) = 1;
            PushHead(e);
        }
    }

    /// <summary>Removes an element and frees its slot, unless an evictor already took it.</summary>
    public void Remove(nint e)
    {
        lock (_lock)
        {
            if (HashElem.InLru(e) == 0) return;
            Unlink(e);
            HashElem.InLru(e) = 0;
            Count--;
        }
    }

    private void PushHead(nint e)
    {
        HashElem.LruPrev(e) = 0;
        HashElem.LruNext(e) = _head;
        if (_head != 0) HashElem.LruPrev(_head) = e; else _tail = e;
        _head = e;
        _linked++;
    }

    private void Unlink(nint e)
    {
        nint p = HashElem.LruPrev(e), n = HashElem.LruNext(e);
        if (p != 0) HashElem.LruNext(p) = n; else _head = n;
        if (n != 0) HashElem.LruPrev(n) = p; else _tail = p;
        _linked--;
    }
}
