using Ebpf.Collections;
using System.Buffers.Binary;
using Ebpf.Abi;
using Ebpf.Runtime.Memory;

namespace Ebpf.Runtime.Maps;

/// <summary>
/// BPF_MAP_TYPE_ARRAY_OF_MAPS and BPF_MAP_TYPE_HASH_OF_MAPS. Values are inner maps (each slot
/// holds a reference on its map). The host API speaks u32 ids/fds: update resolves through
/// <see cref="Resolver"/> (EBADF when it cannot) and lookup returns the inner map's id.
/// An inner map must match the template given at creation (bpf_map_meta_equal): same type,
/// key_size, value_size, map_flags, and max_entries unless the template has BPF_F_INNER_MAP;
/// otherwise EINVAL. From a program, lookup returns the inner map's <see cref="BpfMapBase.NativeHandle"/> (a
/// <see cref="MapHandleTable"/> handle, never an object address).
/// Update flags: array_of_maps needs BPF_ANY (EINVAL); hash_of_maps has the hash flag rules.
/// </summary>
internal sealed unsafe class MapInMap : BpfMapBase
{
    private readonly object _writeLock = new();
    private readonly BpfMapBase _template;
    private readonly nint[]? _slots;          // array_of_maps: native handles (0 = empty)
    private readonly HashMap? _hash;          // hash_of_maps: key → 8-byte native handle
    private readonly MapDefinition _templateAttrs;

    internal MapInMap(MapDefinition a, uint effectiveMax) : base(a, effectiveMax)
    {
        _template = a.InnerTemplate!;
        _templateAttrs = _template.Attributes;
        if (a.Type == MapType.ArrayOfMaps) _slots = new nint[a.MaxEntries];
        else
            _hash = new HashMap(new MapDefinition
            {
                Type = MapType.Hash, KeySize = a.KeySize, ValueSize = 8, MaxEntries = a.MaxEntries,
                Flags = a.Flags & (MapFlags.ZeroSeed | MapFlags.NoPrealloc), Name = a.Name,
            }, effectiveMax);
    }

    /// <summary>Maps the u32 value of a host update (an fd or id) to a map; null → EBADF.</summary>
    public Func<uint, BpfMapBase?>? Resolver { get; set; }

    /// <summary>The inner map template (its attributes are what new inner maps must match).</summary>
    public MapDefinition InnerTemplate => _templateAttrs;

    /// <summary>bpf_map_meta_equal.</summary>
    public Errno CheckCompatible(BpfMapBase inner)
    {
        if (inner.IsFreed) return Errno.EBADF;
        var t = _templateAttrs;
        if (inner.Type != t.Type || inner.KeySize != t.KeySize || inner.ValueSize != t.ValueSize || inner.Flags != t.Flags)
            return Errno.EINVAL;
        if ((t.Flags & MapFlags.InnerMap) == 0 && inner.MaxEntries != _template.MaxEntries) return Errno.EINVAL;
        if (inner.Type is MapType.ArrayOfMaps or MapType.HashOfMaps) return Errno.EINVAL;
        return Errno.None;
    }

    /// <summary>Stores <paramref name="inner"/> at <paramref name="key"/> (the typed BPF_MAP_UPDATE_ELEM).</summary>
    public void SetInner(ReadOnlySpan<byte> key, BpfMapBase inner, MapUpdateFlags flags = MapUpdateFlags.Any)
    {
        if (key.Length != (int)KeySize) Check(Errno.EINVAL, "update");
        if (IsFrozen || (Flags & MapFlags.Rdonly) != 0) Check(Errno.EPERM, "update");
        using var _ = EpochManager.Guard();
        Check(Set(key, inner, flags), "update");
    }

    /// <summary>The inner map at <paramref name="key"/>, or null.</summary>
    public BpfMapBase? GetInner(ReadOnlySpan<byte> key)
    {
        using var _ = EpochManager.Guard();
        fixed (byte* k = key)
        {
            nint h = (nint)ProgramLookup(k, 0);
            return h == 0 ? null : FromNativeHandle(h);
        }
    }

    private Errno Set(ReadOnlySpan<byte> key, BpfMapBase inner, MapUpdateFlags flags)
    {
        var c = CheckCompatible(inner);
        if (c != 0) return c;
        lock (_writeLock)
        {
            if (_slots is not null)
            {
                if (flags != MapUpdateFlags.Any) return Errno.EINVAL;
                uint idx = BinaryPrimitives.ReadUInt32LittleEndian(key);
                if (idx >= (uint)_slots.Length) return Errno.E2BIG;
                inner.AddRef();
                inner.RegistryObject?.AcquireForHolder();
                nint old = Interlocked.Exchange(ref _slots[idx], inner.NativeHandle);
                if (old != 0) ReleaseInner(old);
                return Errno.None;
            }
            Span<byte> oldVal = stackalloc byte[8];
            bool had = _hash!.LookupElem(key, oldVal) == Errno.None;
            Span<byte> val = stackalloc byte[8];
            BinaryPrimitives.WriteInt64LittleEndian(val, inner.NativeHandle);
            inner.AddRef();
            inner.RegistryObject?.AcquireForHolder();
            var e = _hash.UpdateElem(key, val, flags);
            if (e != 0) { inner.RegistryObject?.ReleaseForHolder(); inner.Release(); return e; }
            if (had) ReleaseInner((nint)BinaryPrimitives.ReadInt64LittleEndian(oldVal));
            return Errno.None;
        }
    }

    private static void ReleaseInner(nint handle)
    {
        // A slot holds a reference, so its map (and handle) lives until this release.
        var m = FromNativeHandle(handle)
            ?? throw new InvalidOperationException($"map-in-map slot held a dead map handle 0x{handle:x}");
        // The object (and its id) lets go now, as bpf_map_put does; the storage a running program may
        // still be using is released after the epoch.
        m.RegistryObject?.ReleaseForHolder();
        EpochManager.Retire(m.Release);
    }

    private protected override Errno UpdateCore(ReadOnlySpan<byte> key, ReadOnlySpan<byte> value, MapUpdateFlags flags)
    {
        var inner = Resolver?.Invoke(BinaryPrimitives.ReadUInt32LittleEndian(value));
        if (inner is null) return Errno.EBADF;
        return Set(key, inner, flags);
    }

    private protected override Errno LookupCore(ReadOnlySpan<byte> key, Span<byte> value, MapUpdateFlags flags)
    {
        if (flags != 0) return Errno.EINVAL;
        fixed (byte* k = key)
        {
            // A slot replaced and its map freed since the read leaves a stale handle: then it is gone.
            if (FromNativeHandle((nint)ProgramLookup(k, 0)) is not { } inner) return Errno.ENOENT;
            BinaryPrimitives.WriteUInt32LittleEndian(value, inner.Id);
        }
        return Errno.None;
    }

    private protected override Errno DeleteCore(ReadOnlySpan<byte> key)
    {
        lock (_writeLock)
        {
            if (_slots is not null)
            {
                uint idx = BinaryPrimitives.ReadUInt32LittleEndian(key);
                if (idx >= (uint)_slots.Length) return Errno.E2BIG; // fd_array_map_delete_elem [6.18 observed]
                nint old = Interlocked.Exchange(ref _slots[idx], 0);
                if (old == 0) return Errno.ENOENT;
                ReleaseInner(old);
                return Errno.None;
            }
            Span<byte> oldVal = stackalloc byte[8];
            var e = _hash!.LookupAndDeleteElem(key, oldVal);
            if (e != 0) return e;
            ReleaseInner((nint)BinaryPrimitives.ReadInt64LittleEndian(oldVal));
            return Errno.None;
        }
    }

    private protected override Errno GetNextKeyCore(ReadOnlySpan<byte> key, Span<byte> nextKey) =>
        _slots is not null ? FdArrayKeys.Next(key, nextKey, (uint)_slots.Length) : _hash!.GetNextKeyElem(key, nextKey);

    /// <summary>bpf_map_lookup_elem on a map-in-map: the inner map's native handle (a map pointer), or null.</summary>
    internal override byte* ProgramLookup(byte* key, int cpu)
    {
        if (_slots is not null)
        {
            uint idx = *(uint*)key;
            return idx < (uint)_slots.Length ? (byte*)Volatile.Read(ref _slots[idx]) : null;
        }
        byte* p = _hash!.ProgramLookup(key, cpu);
        return p == null ? null : (byte*)*(nint*)p;
    }

    private protected override void FreeNative()
    {
        lock (_writeLock)
        {
            if (_slots is not null)
            {
                for (int i = 0; i < _slots.Length; i++)
                {
                    nint old = Interlocked.Exchange(ref _slots[i], 0);
                    if (old != 0) ReleaseInner(old);
                }
            }
            else
            {
                using (EpochManager.Guard())
                {
                    Span<byte> v = stackalloc byte[8];
                    foreach (var k in _hash!.Keys())
                    {
                        if (_hash.LookupAndDeleteElem(k, v) == Errno.None) ReleaseInner((nint)BinaryPrimitives.ReadInt64LittleEndian(v));
                    }
                }
                _hash.Dispose();
            }
        }
    }
}
