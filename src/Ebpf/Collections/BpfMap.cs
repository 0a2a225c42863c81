using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Ebpf.Abi;

namespace Ebpf.Collections;

/// <summary>
/// A live map: a user reference (refcnt and usercnt) with an access mode, the same type on every backend.
/// Keys and values are raw bytes in the kernel's layout; a per-CPU map's value is <see cref="ValueBufferSize"/>
/// bytes (one 8-byte-aligned slot per possible CPU). Absent keys are ENOENT for the throwing forms and false
/// for the Try forms.
/// </summary>
public sealed partial class BpfMap : BpfHandle
{
    internal BpfMap(IBpfBackend backend, object native, uint id, MapAccess access, MapType type, uint keySize, uint valueSize,
        uint maxEntries, MapFlags flags, string name)
        : base(backend, native, id)
    {
        Access = access;
        Type = type;
        KeySize = keySize;
        ValueSize = valueSize;
        MaxEntries = maxEntries;
        Flags = flags;
        Name = name;
    }

    /// <summary>The access mode this handle was opened with.</summary>
    public MapAccess Access { get; }
    /// <summary>The map type.</summary>
    public MapType Type { get; }
    /// <summary>key_size.</summary>
    public uint KeySize { get; }
    /// <summary>value_size (one CPU's share for per-CPU maps).</summary>
    public uint ValueSize { get; }
    /// <summary>max_entries.</summary>
    public uint MaxEntries { get; }
    /// <summary>map_flags at creation.</summary>
    public MapFlags Flags { get; }
    /// <summary>The name as the backend stores it.</summary>
    public string Name { get; }

    /// <summary>Whether a value holds one slot per possible CPU.</summary>
    public bool IsPerCpu => MapValues.IsPerCpu(Type);

    /// <summary>Bytes of a value as user space sees it: value_size, or round_up(value_size, 8) × possible CPUs for per-CPU maps.</summary>
    public int ValueBufferSize => MapValues.BufferSize(Type, ValueSize, Backend.PossibleCpus);

    private string What => Name.Length > 0 ? $"map {Id} ('{Name}')" : $"map {Id}";

    /// <summary>EPERM when this handle was opened read-only (the kernel checks FMODE_CAN_WRITE).</summary>
    public void RequireWritable()
    {
        if (Access == MapAccess.ReadOnly)
            throw new BpfException(Errno.EPERM, $"{What} handle is read-only");
    }

    /// <summary>EPERM when this handle was opened write-only.</summary>
    public void RequireReadable()
    {
        if (Access == MapAccess.WriteOnly)
            throw new BpfException(Errno.EPERM, $"{What} handle is write-only");
    }

    /// <summary>BPF_OBJ_GET_INFO_BY_FD.</summary>
    public MapInfo GetInfo() => Backend.GetInfo(this);

    /// <summary>A second handle on the same map, with the same access mode.</summary>
    public new BpfMap Duplicate() => (BpfMap)Backend.Duplicate(this);

    // ---- element operations (bpf(2) map commands) ----

    /// <summary>BPF_MAP_LOOKUP_ELEM into <paramref name="value"/>; false when the key is absent.</summary>
    public bool TryLookup(ReadOnlySpan<byte> key, Span<byte> value, MapUpdateFlags flags = MapUpdateFlags.Any)
    {
        RequireReadable();
        return Backend.MapLookup(this, key, value, flags, delete: false);
    }

    /// <summary>BPF_MAP_LOOKUP_ELEM; ENOENT when the key is absent.</summary>
    public void Lookup(ReadOnlySpan<byte> key, Span<byte> value, MapUpdateFlags flags = MapUpdateFlags.Any)
    {
        if (!TryLookup(key, value, flags))
            throw new BpfException(Errno.ENOENT, $"lookup in {What}: no such key");
    }

    /// <summary>BPF_MAP_LOOKUP_ELEM into a new buffer of <see cref="ValueBufferSize"/> bytes; ENOENT when absent.</summary>
    public byte[] Lookup(ReadOnlySpan<byte> key, MapUpdateFlags flags = MapUpdateFlags.Any)
    {
        var value = new byte[ValueBufferSize];
        Lookup(key, value, flags);
        return value;
    }

    /// <summary>BPF_MAP_UPDATE_ELEM (for queues/stacks/bloom filters: push, with an empty key).</summary>
    public void Update(ReadOnlySpan<byte> key, ReadOnlySpan<byte> value, MapUpdateFlags flags = MapUpdateFlags.Any)
    {
        RequireWritable();
        Backend.MapUpdate(this, key, value, flags);
    }

    /// <summary>Stores a program as the value (prog arrays, devmap/cpumap programs): the kernel takes the program's fd.</summary>
    public void Update(ReadOnlySpan<byte> key, BpfProgram program, MapUpdateFlags flags = MapUpdateFlags.Any)
    {
        RequireWritable();
        Backend.MapUpdate(this, key, program, flags);
    }

    /// <summary>Stores a map as the value (array/hash of maps): the kernel takes the inner map's fd.</summary>
    public void Update(ReadOnlySpan<byte> key, BpfMap inner, MapUpdateFlags flags = MapUpdateFlags.Any)
    {
        RequireWritable();
        Backend.MapUpdate(this, key, inner, flags);
    }

    /// <summary>BPF_MAP_DELETE_ELEM; false when the key is absent.</summary>
    public bool TryDelete(ReadOnlySpan<byte> key)
    {
        RequireWritable();
        return Backend.MapDelete(this, key);
    }

    /// <summary>BPF_MAP_DELETE_ELEM; ENOENT when the key is absent.</summary>
    public void Delete(ReadOnlySpan<byte> key)
    {
        if (!TryDelete(key))
            throw new BpfException(Errno.ENOENT, $"delete in {What}: no such key");
    }

    /// <summary>BPF_MAP_GET_NEXT_KEY: the key after <paramref name="key"/> (empty: the first key); false at the end.</summary>
    public bool GetNextKey(ReadOnlySpan<byte> key, Span<byte> nextKey) => Backend.MapGetNextKey(this, key, nextKey);

    /// <summary>BPF_MAP_LOOKUP_AND_DELETE_ELEM (queue/stack pop with an empty key); false when empty or absent.</summary>
    public bool TryLookupAndDelete(ReadOnlySpan<byte> key, Span<byte> value, MapUpdateFlags flags = MapUpdateFlags.Any)
    {
        RequireWritable();
        return Backend.MapLookup(this, key, value, flags, delete: true);
    }

    /// <summary>BPF_MAP_LOOKUP_AND_DELETE_ELEM; ENOENT when empty or absent.</summary>
    public void LookupAndDelete(ReadOnlySpan<byte> key, Span<byte> value, MapUpdateFlags flags = MapUpdateFlags.Any)
    {
        if (!TryLookupAndDelete(key, value, flags))
            throw new BpfException(Errno.ENOENT, $"lookup and delete in {What}: no such key");
    }

    /// <summary>BPF_MAP_FREEZE: no more writes from user space.</summary>
    public void Freeze() => Backend.MapFreeze(this);

    /// <summary>Every key, by GET_NEXT_KEY iteration (a concurrent delete may restart a hash walk, as in the kernel).</summary>
    public IEnumerable<byte[]> Keys()
    {
        byte[] current = [];
        while (true)
        {
            var next = new byte[KeySize];
            if (!GetNextKey(current, next))
                yield break;
            yield return next;
            current = next;
        }
    }

    /// <summary>Every (key, value) pair present, as bpftool's map dump walks it.</summary>
    public IEnumerable<(byte[] Key, byte[] Value)> Entries()
    {
        foreach (var key in Keys())
        {
            var value = new byte[ValueBufferSize];
            if (TryLookup(key, value))
                yield return (key, value);
        }
    }

    // ---- typed overloads: keys and values as unmanaged structs in host byte order ----

    /// <summary>Typed BPF_MAP_LOOKUP_ELEM; false when absent.</summary>
    public bool TryLookup<TKey, TValue>(TKey key, out TValue value) where TKey : unmanaged where TValue : unmanaged
    {
        CheckSize<TValue>(ValueBufferSize, "value");
        value = default;
        return TryLookup(Bytes(ref key), MemoryMarshal.AsBytes(new Span<TValue>(ref value)));
    }

    /// <summary>Typed BPF_MAP_LOOKUP_ELEM; ENOENT when absent.</summary>
    public TValue Lookup<TKey, TValue>(TKey key) where TKey : unmanaged where TValue : unmanaged =>
        TryLookup<TKey, TValue>(key, out var value) ? value : throw new BpfException(Errno.ENOENT, $"lookup in {What}: no such key");

    /// <summary>Typed BPF_MAP_UPDATE_ELEM.</summary>
    public void Update<TKey, TValue>(TKey key, TValue value, MapUpdateFlags flags = MapUpdateFlags.Any) where TKey : unmanaged where TValue : unmanaged =>
        Update(Bytes(ref key), Bytes(ref value), flags);

    /// <summary>Typed BPF_MAP_DELETE_ELEM; false when absent.</summary>
    public bool TryDelete<TKey>(TKey key) where TKey : unmanaged => TryDelete(Bytes(ref key));

    private static ReadOnlySpan<byte> Bytes<T>(ref T value) where T : unmanaged => MemoryMarshal.AsBytes(new ReadOnlySpan<T>(ref value));

    private void CheckSize<T>(int expected, string what) where T : unmanaged
    {
        if (Unsafe.SizeOf<T>() != expected)
            throw new BpfException(Errno.EINVAL, $"{What}: {typeof(T).Name} is {Unsafe.SizeOf<T>()} bytes, the map's {what} is {expected}");
    }

    /// <inheritdoc/>
    public override string ToString() => $"{Type} {What}";
}
