using System.Runtime.InteropServices;
using Ebpf.Abi;
using Ebpf.Btf;
using Ebpf.Runtime.Objects;

namespace Ebpf.Runtime.Iterators;

/// <summary>
/// One iterator session's walk over its target (the kernel's seq_operations of a bpf_iter target): the element at
/// the current position, a step to the next, and the target's context slots (after meta) for that element or for
/// the final call.
/// </summary>
internal abstract unsafe class IterCursor : IDisposable
{
    /// <summary>seq->op->start: positions on the current element; false at the end.</summary>
    public abstract bool Seek();

    /// <summary>seq->op->next: steps past the current element.</summary>
    public abstract void Advance();

    /// <summary>
    /// Fills ctx slots 1.. for the current element (<paramref name="final"/>: the stop call) and adds the memory the
    /// program may touch. False when the element vanished since <see cref="Seek"/> (nothing is shown).
    /// </summary>
    public abstract bool Fill(ulong* ctx, bool final, List<Execution.MemoryRegion> regions, List<Execution.ProbeMemory.Window> windows);

    public virtual void Dispose() { }

    /// <summary>A struct bpf_map image with the fields a program reads most (id, type, sizes, flags, name).</summary>
    protected static void FillMap(KernelStructImage image, Maps.BpfMapBase map, uint id)
    {
        image.Clear();
        image.Put("id", id);
        image.Put("map_type", (ulong)map.Type);
        image.Put("key_size", map.KeySize);
        image.Put("value_size", map.ValueSize);
        image.Put("max_entries", map.MaxEntries);
        image.Put("map_flags", (ulong)map.Flags);
        image.PutBytes("name", System.Text.Encoding.ASCII.GetBytes(map.Name));
    }
}

/// <summary>
/// bpf_map_elem: every element of an array, hash or per-CPU map (kernel/bpf/arraymap.c, hashtab.c). The key is a
/// read-only copy, the value is the element itself (writes change the map) or, for per-CPU maps, a buffer with each
/// possible CPU's value at round_up(value_size, 8) steps. Hash keys are taken at the first read and elements deleted
/// since are skipped (the kernel walks its buckets live; its bucket order is not ours).
/// </summary>
internal sealed unsafe class MapElemCursor : IterCursor
{
    private readonly MapObject _map;
    private readonly Maps.BpfMapBase _storage;
    private readonly KernelStructImage _mapImage;
    private readonly byte* _key;
    private readonly byte* _percpuValue;
    private readonly bool _array;
    private List<byte[]>? _keys;
    private long _position;

    public MapElemCursor(MapObject map, BtfSpec kernel)
    {
        _map = map;
        _storage = map.Maps ?? throw new BpfException(Errno.EINVAL, $"map {map.Id} has no storage");
        _array = map.Type is MapType.Array or MapType.PercpuArray;
        _key = (byte*)NativeMemory.AllocZeroed((nuint)Math.Max(8, _storage.KeySize));
        if (_storage.IsPerCpu)
            _percpuValue = (byte*)NativeMemory.AllocZeroed((nuint)_storage.HostValueSize);
        _mapImage = new KernelStructImage(kernel, "bpf_map");
    }

    public override bool Seek()
    {
        if (_array)
            return _position < _storage.MaxEntries;
        _keys ??= _storage.Keys();
        return _position < _keys.Count;
    }

    public override void Advance() => _position++;

    public override bool Fill(ulong* ctx, bool final, List<Execution.MemoryRegion> regions, List<Execution.ProbeMemory.Window> windows)
    {
        FillMap(_mapImage, _storage, _map.Id);
        windows.Add(new Execution.ProbeMemory.Window((ulong)_mapImage.Address, (ulong)_mapImage.Size));
        ctx[1] = (ulong)_mapImage.Address;
        ctx[2] = ctx[3] = 0;
        if (final)
            return true;
        var keySpan = new Span<byte>(_key, (int)_storage.KeySize);
        if (_array)
            System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(keySpan, (uint)_position);
        else
            _keys![(int)_position].CopyTo(keySpan);
        byte* value;
        if (_storage.IsPerCpu)
        {
            if (_storage.LookupElem(keySpan, new Span<byte>(_percpuValue, _storage.HostValueSize)) != Errno.None)
                return false;
            value = _percpuValue;
        }
        else
        {
            value = _storage.ProgramLookup(_key, 0);
            if (value == null)
                return false;
        }
        ctx[2] = (ulong)_key;
        ctx[3] = (ulong)value;
        regions.Add(new Execution.MemoryRegion((nuint)_key, _storage.KeySize, Execution.MemoryAccess.Read, "iter key"));
        regions.Add(new Execution.MemoryRegion((nuint)value, (nuint)(_storage.IsPerCpu ? _storage.HostValueSize : (int)_storage.ValueSize),
            Execution.MemoryAccess.ReadWrite, "iter value"));
        return true;
    }

    public override void Dispose()
    {
        NativeMemory.Free(_key);
        if (_percpuValue != null)
            NativeMemory.Free(_percpuValue);
        _mapImage.Dispose();
    }
}

/// <summary>bpf_map: every map of the runtime by ascending id (kernel/bpf/map_iter.c); the map is NULL in the final call.</summary>
internal sealed unsafe class MapCursor(BpfRuntime runtime, BtfSpec kernel) : IterCursor
{
    private readonly KernelStructImage _image = new(kernel, "bpf_map");
    private uint _id;       // the current map's id (0: before the first)
    private MapObject? _current;

    public override bool Seek()
    {
        if (_current is not null)
            return true;
        foreach (uint id in runtime.Backend.GetIds(ObjectKind.Map))
        {
            if (id <= _id || runtime.FindObject(ObjectKind.Map, id) is not MapObject m || m.Maps is null)
                continue;
            _id = id;
            _current = m;
            return true;
        }
        return false;
    }

    public override void Advance() => _current = null;

    public override bool Fill(ulong* ctx, bool final, List<Execution.MemoryRegion> regions, List<Execution.ProbeMemory.Window> windows)
    {
        ctx[1] = 0;
        if (final || _current?.Maps is not { } storage)
            return true;
        FillMap(_image, storage, _current.Id);
        windows.Add(new Execution.ProbeMemory.Window((ulong)_image.Address, (ulong)_image.Size));
        ctx[1] = (ulong)_image.Address;
        return true;
    }

    public override void Dispose() => _image.Dispose();
}
