using Ebpf.Collections;
using Ebpf.Abi;
using Ebpf.Runtime.Memory;

namespace Ebpf.Runtime.Maps;

/// <summary>
/// BPF_MAP_TYPE_QUEUE (FIFO) and BPF_MAP_TYPE_STACK (LIFO): a ring of max_entries + 1 slots
/// under one lock (the kernel's raw spinlock). Push flags: 0 or BPF_EXIST (full → overwrite the
/// oldest element, for both queue and stack); full without BPF_EXIST → E2BIG; anything else → EINVAL.
/// Pop/peek on empty → ENOENT with the value buffer zeroed. Host API: update(key=∅) = push,
/// lookup = peek, lookup_and_delete = pop; delete and get_next_key → EINVAL.
/// </summary>
internal sealed unsafe class QueueStackMap : BpfMapBase
{
    private readonly object _lock = new();
    private readonly byte* _data;
    private readonly uint _size; // max_entries + 1
    private readonly int _vs;
    private readonly bool _stack;
    private uint _head, _tail; // elements live in [tail, head)

    internal QueueStackMap(MapDefinition a) : base(a, a.MaxEntries)
    {
        _size = a.MaxEntries + 1;
        _vs = (int)a.ValueSize;
        _stack = a.Type == MapType.Stack;
        _data = NativeBlock.AllocZeroed((nuint)_size * (nuint)_vs);
    }

    /// <summary>Elements currently stored.</summary>
    public uint Count { get { lock (_lock) return (_head + _size - _tail) % _size; } }

    private protected override void FreeNative() => EpochManager.Retire(_data);

    public long Push(byte* value, ulong flags)
    {
        if (flags != 0 && flags != (ulong)MapUpdateFlags.Exist) return -(long)Errno.EINVAL;
        lock (_lock)
        {
            uint next = _head + 1 == _size ? 0 : _head + 1;
            if (next == _tail)
            {
                if (flags == 0) return -(long)Errno.E2BIG;
                _tail = _tail + 1 == _size ? 0 : _tail + 1; // drop the oldest
            }
            Buffer.MemoryCopy(value, _data + (nuint)_head * (nuint)_vs, _vs, _vs);
            _head = next;
        }
        return 0;
    }

    public long PopOrPeek(byte* value, bool delete)
    {
        lock (_lock)
        {
            if (_head == _tail)
            {
                new Span<byte>(value, _vs).Clear();
                return -(long)Errno.ENOENT;
            }
            uint idx;
            if (_stack)
            {
                idx = _head == 0 ? _size - 1 : _head - 1;
                if (delete) _head = idx;
            }
            else
            {
                idx = _tail;
                if (delete) _tail = _tail + 1 == _size ? 0 : _tail + 1;
            }
            Buffer.MemoryCopy(_data + (nuint)idx * (nuint)_vs, value, _vs, _vs);
        }
        return 0;
    }

    internal override long ProgramPush(byte* value, ulong flags) => Push(value, flags);
    internal override long ProgramPop(byte* value) => PopOrPeek(value, true);
    internal override long ProgramPeek(byte* value) => PopOrPeek(value, false);
    internal override long ProgramUpdate(byte* key, byte* value, ulong flags, int cpu) => Push(value, flags);

    private protected override Errno UpdateCore(ReadOnlySpan<byte> key, ReadOnlySpan<byte> value, MapUpdateFlags flags)
    {
        fixed (byte* v = value) return (Errno)(-Push(v, (ulong)flags));
    }

    private protected override Errno LookupCore(ReadOnlySpan<byte> key, Span<byte> value, MapUpdateFlags flags)
    {
        if (flags != 0) return Errno.EINVAL;
        fixed (byte* v = value) return (Errno)(-PopOrPeek(v, false));
    }

    private protected override Errno LookupAndDeleteCore(ReadOnlySpan<byte> key, Span<byte> value, MapUpdateFlags flags)
    {
        if (flags != 0) return Errno.EINVAL;
        fixed (byte* v = value) return (Errno)(-PopOrPeek(v, true));
    }

    private protected override Errno DeleteCore(ReadOnlySpan<byte> key) => Errno.EINVAL;
    private protected override Errno GetNextKeyCore(ReadOnlySpan<byte> key, Span<byte> nextKey) => Errno.EINVAL;

    /// <summary>Host push (BPF_MAP_UPDATE_ELEM with key NULL).</summary>
    public void Push(ReadOnlySpan<byte> value, MapUpdateFlags flags = MapUpdateFlags.Any) => Update(default, value, flags);

    /// <summary>Host pop; false when empty.</summary>
    public bool TryPop(Span<byte> value)
    {
        var e = LookupAndDeleteElem(default, value);
        if (e == Errno.ENOENT) return false;
        Check(e, "pop");
        return true;
    }

    /// <summary>Host peek; false when empty.</summary>
    public bool TryPeek(Span<byte> value) => TryLookup(default, value);
}
