using Ebpf.Abi;
using Ebpf.Collections;
using Ebpf.Linux.Native;

namespace Ebpf.Linux;

/// <summary>
/// A map in the running kernel. Keys and values are raw bytes in the kernel's layout; for per-CPU maps a
/// value is <see cref="ValueBufferSize"/> bytes (one 8-byte-aligned slot per possible CPU).
/// </summary>
public sealed unsafe class KernelMap : IDisposable
{
    private KernelMap(BpfFd fd, MapType type, uint keySize, uint valueSize, uint maxEntries, MapFlags flags, string name)
    {
        Fd = fd;
        Type = type;
        KeySize = keySize;
        ValueSize = valueSize;
        MaxEntries = maxEntries;
        Flags = flags;
        Name = name;
    }

    /// <summary>The map's descriptor, for map_fd attr fields and fd arrays.</summary>
    public BpfFd Fd { get; }
    /// <summary>bpf_map_info.type: the kernel map type.</summary>
    public MapType Type { get; }
    /// <summary>bpf_map_info.key_size in bytes.</summary>
    public uint KeySize { get; }
    /// <summary>bpf_map_info.value_size in bytes (per CPU, for per-CPU maps).</summary>
    public uint ValueSize { get; }
    /// <summary>bpf_map_info.max_entries.</summary>
    public uint MaxEntries { get; }
    /// <summary>bpf_map_info.map_flags (BPF_F_NO_PREALLOC, BPF_F_RDONLY_PROG, …).</summary>
    public MapFlags Flags { get; }
    /// <summary>bpf_map_info.name as the kernel stores it (sanitised, at most 15 characters).</summary>
    public string Name { get; }

    private string What => Name.Length > 0 ? Name : $"{Type} map";

    /// <summary>Whether each value has one slot per possible CPU in user space buffers.</summary>
    public bool IsPerCpu => MapValues.IsPerCpu(Type);

    /// <summary>Bytes of a value as user space sees it: value_size, or round_up(value_size, 8) × possible CPUs for per-CPU maps.</summary>
    public int ValueBufferSize => MapValues.BufferSize(Type, ValueSize, PossibleCpus.Count);

    /// <summary>BPF_MAP_CREATE.</summary>
    public static KernelMap Create(MapCreateAttributes options)
    {
        ArgumentNullException.ThrowIfNull(options);
        string name = ObjectName.Sanitize(options.Name);
        using var inner = FdLease.Of(options.InnerMap?.Fd);
        using var btf = FdLease.Of(options.Btf);
        var attr = new MapCreateAttr
        {
            MapType = (uint)options.Type,
            KeySize = options.KeySize,
            ValueSize = options.ValueSize,
            MaxEntries = options.MaxEntries,
            MapFlags = (uint)options.Flags,
            InnerMapFd = inner.Value,
            NumaNode = (options.Flags & MapFlags.NumaNode) != 0 ? options.NumaNode : 0,
            MapIfindex = options.Ifindex,
            BtfFd = btf.Value,
            BtfKeyTypeId = options.BtfKeyTypeId,
            BtfValueTypeId = options.BtfValueTypeId,
            BtfVmlinuxValueTypeId = options.BtfVmlinuxValueTypeId,
            MapExtra = options.MapExtra,
        };
        ObjectName.Write(name, attr.MapName);
        long fd = BpfSyscall.Invoke(BpfCommand.MapCreate, ref attr, name.Length > 0 ? name : $"{options.Type} map");
        return new KernelMap(BpfSyscall.NewFd(fd, BpfObjectKind.Map), options.Type, options.KeySize, options.ValueSize,
            options.MaxEntries, options.Flags, name);
    }

    /// <summary>Takes ownership of a map descriptor obtained elsewhere (a pin, an id).</summary>
    public static KernelMap FromFd(BpfFd fd)
    {
        var info = GetInfo(fd, "map");
        return new KernelMap(fd, info.Type, info.KeySize, info.ValueSize, info.MaxEntries, info.Flags, info.Name);
    }

    /// <summary>BPF_MAP_GET_FD_BY_ID.</summary>
    public static KernelMap FromId(uint id) => FromFd(KernelObjects.OpenById(BpfObjectKind.Map, id));

    /// <summary>BPF_OBJ_GET of a pinned map.</summary>
    public static KernelMap LoadPinned(string path) => FromFd(BpfFs.Get(path, BpfObjectKind.Map));

    /// <summary>BPF_OBJ_PIN under a bpffs mount, so the map outlives this process.</summary>
    public void Pin(string path) => BpfFs.Pin(Fd, path, Name);

    /// <summary>BPF_OBJ_GET_INFO_BY_FD into struct bpf_map_info, read fresh from the kernel.</summary>
    public MapInfo GetInfo() => GetInfo(Fd, What);

    private static MapInfo GetInfo(BpfFd fd, string what)
    {
        var info = new MapInfoNative();
        ObjectInfo.Get(fd, ref info, what);
        var fdinfo = KernelFdInfo.Read(fd);
        return new MapInfo
        {
            Type = (MapType)info.Type,
            Id = info.Id,
            KeySize = info.KeySize,
            ValueSize = info.ValueSize,
            MaxEntries = info.MaxEntries,
            Flags = (MapFlags)info.MapFlags,
            Name = ObjectName.Read(info.Name),
            BtfId = info.BtfId,
            BtfKeyTypeId = info.BtfKeyTypeId,
            BtfValueTypeId = info.BtfValueTypeId,
            MapExtra = info.MapExtra,
            Frozen = fdinfo.Frozen,
            Memlock = fdinfo.Memlock,
        };
    }

    // ---- element operations ----

    private long Elem(BpfCommand command, ReadOnlySpan<byte> key, Span<byte> valueOrNextKey, ulong flags, out Errno errno)
    {
        using var fd = Fd.Lease();
        fixed (byte* k = key)
        fixed (byte* v = valueOrNextKey)
        {
            var attr = new MapElemAttr { MapFd = fd.Value, Key = (ulong)k, ValueOrNextKey = (ulong)v, Flags = flags };
            return BpfSyscall.TryInvoke(command, ref attr, out errno);
        }
    }

    private void CheckKey(ReadOnlySpan<byte> key, string op)
    {
        if (key.Length != KeySize)
            throw new BpfException(Errno.EINVAL, $"{op} {What}: key is {key.Length} bytes, the map's key_size is {KeySize}");
    }

    private void CheckValue(int length, string op)
    {
        if (length != ValueBufferSize)
            throw new BpfException(Errno.EINVAL, $"{op} {What}: value buffer is {length} bytes, the map needs {ValueBufferSize}");
    }

    /// <summary>BPF_MAP_LOOKUP_ELEM into <paramref name="value"/>; false when the key is absent (ENOENT).</summary>
    public bool TryLookup(ReadOnlySpan<byte> key, Span<byte> value, MapUpdateFlags flags = MapUpdateFlags.Any)
    {
        CheckKey(key, "BPF_MAP_LOOKUP_ELEM");
        CheckValue(value.Length, "BPF_MAP_LOOKUP_ELEM");
        if (Elem(BpfCommand.MapLookupElem, key, value, (ulong)flags, out var errno) >= 0)
            return true;
        if (errno == Errno.ENOENT)
            return false;
        throw BpfSyscall.Error(BpfCommand.MapLookupElem, What, errno);
    }

    /// <summary>BPF_MAP_LOOKUP_ELEM; throws ENOENT when the key is absent.</summary>
    public byte[] Lookup(ReadOnlySpan<byte> key, MapUpdateFlags flags = MapUpdateFlags.Any)
    {
        var value = new byte[ValueBufferSize];
        if (!TryLookup(key, value, flags))
            throw BpfSyscall.Error(BpfCommand.MapLookupElem, What, Errno.ENOENT);
        return value;
    }

    /// <summary>BPF_MAP_UPDATE_ELEM (for queues/stacks: push, with an empty key).</summary>
    public void Update(ReadOnlySpan<byte> key, ReadOnlySpan<byte> value, MapUpdateFlags flags = MapUpdateFlags.Any)
    {
        CheckKey(key, "BPF_MAP_UPDATE_ELEM");
        CheckValue(value.Length, "BPF_MAP_UPDATE_ELEM");
        fixed (byte* v = value)
        {
            if (Elem(BpfCommand.MapUpdateElem, key, new Span<byte>(v, value.Length), (ulong)flags, out var errno) < 0)
                throw BpfSyscall.Error(BpfCommand.MapUpdateElem, What, errno);
        }
    }

    /// <summary>Stores a map fd as the value (ARRAY_OF_MAPS, HASH_OF_MAPS).</summary>
    public void UpdateWithMap(ReadOnlySpan<byte> key, KernelMap inner, MapUpdateFlags flags = MapUpdateFlags.Any) =>
        UpdateWithFd(key, inner.Fd, flags);

    /// <summary>Stores a program fd as the value (PROG_ARRAY).</summary>
    public void UpdateWithProgram(ReadOnlySpan<byte> key, KernelProgram program, MapUpdateFlags flags = MapUpdateFlags.Any) =>
        UpdateWithFd(key, program.Fd, flags);

    internal void UpdateWithFd(ReadOnlySpan<byte> key, BpfFd fd, MapUpdateFlags flags)
    {
        using var lease = fd.Lease();
        uint value = lease.Value;
        Update(key, new ReadOnlySpan<byte>(&value, 4), flags);
    }

    /// <summary>BPF_MAP_DELETE_ELEM; false when the key is absent (ENOENT).</summary>
    public bool Delete(ReadOnlySpan<byte> key)
    {
        CheckKey(key, "BPF_MAP_DELETE_ELEM");
        if (Elem(BpfCommand.MapDeleteElem, key, default, 0, out var errno) >= 0)
            return true;
        if (errno == Errno.ENOENT)
            return false;
        throw BpfSyscall.Error(BpfCommand.MapDeleteElem, What, errno);
    }

    /// <summary>
    /// BPF_MAP_GET_NEXT_KEY: the key after <paramref name="key"/> (an empty span asks for the first key).
    /// False at the end (ENOENT).
    /// </summary>
    public bool TryGetNextKey(ReadOnlySpan<byte> key, Span<byte> nextKey)
    {
        if (!key.IsEmpty)
            CheckKey(key, "BPF_MAP_GET_NEXT_KEY");
        if (nextKey.Length != KeySize)
            throw new BpfException(Errno.EINVAL, $"BPF_MAP_GET_NEXT_KEY {What}: next-key buffer is {nextKey.Length} bytes, key_size is {KeySize}");
        if (Elem(BpfCommand.MapGetNextKey, key, nextKey, 0, out var errno) >= 0)
            return true;
        if (errno == Errno.ENOENT)
            return false;
        throw BpfSyscall.Error(BpfCommand.MapGetNextKey, What, errno);
    }

    /// <summary>Every key, by GET_NEXT_KEY iteration (concurrent deletes may restart a hash walk, as in the kernel).</summary>
    public IEnumerable<byte[]> Keys()
    {
        byte[] current = [];
        while (true)
        {
            var next = new byte[KeySize];
            if (!TryGetNextKey(current, next))
                yield break;
            yield return next;
            current = next;
        }
    }

    /// <summary>BPF_MAP_LOOKUP_AND_DELETE_ELEM (queue/stack pop with an empty key); false when empty/absent.</summary>
    public bool TryLookupAndDelete(ReadOnlySpan<byte> key, Span<byte> value, MapUpdateFlags flags = MapUpdateFlags.Any)
    {
        CheckKey(key, "BPF_MAP_LOOKUP_AND_DELETE_ELEM");
        CheckValue(value.Length, "BPF_MAP_LOOKUP_AND_DELETE_ELEM");
        if (Elem(BpfCommand.MapLookupAndDeleteElem, key, value, (ulong)flags, out var errno) >= 0)
            return true;
        if (errno == Errno.ENOENT)
            return false;
        throw BpfSyscall.Error(BpfCommand.MapLookupAndDeleteElem, What, errno);
    }

    /// <summary>BPF_MAP_FREEZE: no more writes from user space (programs may still write unless the map is RDONLY_PROG).</summary>
    public void Freeze()
    {
        if (Elem(BpfCommand.MapFreeze, default, default, 0, out var errno) < 0)
            throw BpfSyscall.Error(BpfCommand.MapFreeze, What, errno);
    }

    // ---- batch operations ----

    /// <summary>
    /// Bytes of the opaque batch cursor (in_batch/out_batch). Hash maps use a u32 bucket, arrays a u32
    /// index; the key size covers both and any type that uses the key itself.
    /// </summary>
    public int BatchCursorSize => (int)Math.Max(KeySize, 8);

    /// <summary>
    /// BPF_MAP_LOOKUP_BATCH (or LOOKUP_AND_DELETE_BATCH): reads up to keys.Length/key_size elements starting
    /// at <paramref name="inBatch"/> (empty = from the start). Returns the number read; <paramref name="done"/>
    /// is set when the kernel reported the end (ENOENT), which may come with a final partial batch.
    /// </summary>
    public int LookupBatch(ReadOnlySpan<byte> inBatch, Span<byte> outBatch, Span<byte> keys, Span<byte> values,
        out bool done, bool delete = false, MapUpdateFlags elemFlags = MapUpdateFlags.Any)
    {
        var command = delete ? BpfCommand.MapLookupAndDeleteBatch : BpfCommand.MapLookupBatch;
        int count = BatchCount(keys.Length, values.Length, command);
        if (outBatch.Length < BatchCursorSize)
            throw new BpfException(Errno.EINVAL, $"{command.UapiName()} {What}: batch cursor buffer is {outBatch.Length} bytes, needs {BatchCursorSize}");
        using var fd = Fd.Lease();
        fixed (byte* inB = inBatch)
        fixed (byte* outB = outBatch)
        fixed (byte* k = keys)
        fixed (byte* v = values)
        {
            var attr = new MapBatchAttr
            {
                InBatch = (ulong)inB,
                OutBatch = (ulong)outB,
                Keys = (ulong)k,
                Values = (ulong)v,
                Count = (uint)count,
                MapFd = fd.Value,
                ElemFlags = (ulong)elemFlags,
            };
            if (BpfSyscall.TryInvoke(command, ref attr, out var errno) >= 0)
            {
                done = false;
                return (int)attr.Count;
            }
            if (errno == Errno.ENOENT)
            {
                done = true;
                return (int)attr.Count;
            }
            throw BpfSyscall.Error(command, What, errno);
        }
    }

    /// <summary>Every (key, value) by LOOKUP_BATCH in chunks of <paramref name="chunk"/> elements.</summary>
    public List<(byte[] Key, byte[] Value)> DumpBatched(int chunk = 64)
    {
        var result = new List<(byte[], byte[])>();
        byte[] keys = new byte[chunk * KeySize];
        byte[] values = new byte[chunk * ValueBufferSize];
        byte[] cursorIn = new byte[BatchCursorSize];
        byte[] cursorOut = new byte[BatchCursorSize];
        bool first = true;
        while (true)
        {
            int n = LookupBatch(first ? default : cursorIn, cursorOut, keys, values, out bool done);
            for (int i = 0; i < n; i++)
                result.Add((keys.AsSpan(i * (int)KeySize, (int)KeySize).ToArray(), values.AsSpan(i * ValueBufferSize, ValueBufferSize).ToArray()));
            if (done)
                return result;
            cursorOut.CopyTo(cursorIn);
            first = false;
        }
    }

    /// <summary>BPF_MAP_UPDATE_BATCH: keys and values packed back to back; returns how many the kernel applied.</summary>
    public int UpdateBatch(ReadOnlySpan<byte> keys, ReadOnlySpan<byte> values, MapUpdateFlags elemFlags = MapUpdateFlags.Any)
    {
        int count = BatchCount(keys.Length, values.Length, BpfCommand.MapUpdateBatch);
        using var fd = Fd.Lease();
        fixed (byte* k = keys)
        fixed (byte* v = values)
        {
            var attr = new MapBatchAttr { Keys = (ulong)k, Values = (ulong)v, Count = (uint)count, MapFd = fd.Value, ElemFlags = (ulong)elemFlags };
            if (BpfSyscall.TryInvoke(BpfCommand.MapUpdateBatch, ref attr, out var errno) < 0)
                throw BatchError(BpfCommand.MapUpdateBatch, errno, attr.Count);
            return (int)attr.Count;
        }
    }

    /// <summary>BPF_MAP_DELETE_BATCH: keys packed back to back; returns how many were deleted.</summary>
    public int DeleteBatch(ReadOnlySpan<byte> keys)
    {
        if (KeySize == 0 || keys.Length % KeySize != 0)
            throw new BpfException(Errno.EINVAL, $"BPF_MAP_DELETE_BATCH {What}: {keys.Length} key bytes is not a multiple of key_size {KeySize}");
        using var fd = Fd.Lease();
        fixed (byte* k = keys)
        {
            var attr = new MapBatchAttr { Keys = (ulong)k, Count = (uint)(keys.Length / KeySize), MapFd = fd.Value };
            if (BpfSyscall.TryInvoke(BpfCommand.MapDeleteBatch, ref attr, out var errno) < 0)
                throw BatchError(BpfCommand.MapDeleteBatch, errno, attr.Count);
            return (int)attr.Count;
        }
    }

    private BpfBatchException BatchError(BpfCommand command, Errno errno, uint processed)
    {
        var e = BpfSyscall.Error(command, What, errno);
        return new BpfBatchException(errno, $"{e.Message} (after {processed} elements)", processed);
    }

    private int BatchCount(int keyBytes, int valueBytes, BpfCommand command)
    {
        if (KeySize == 0 || keyBytes % KeySize != 0)
            throw new BpfException(Errno.EINVAL, $"{command.UapiName()} {What}: {keyBytes} key bytes is not a multiple of key_size {KeySize}");
        int count = keyBytes / (int)KeySize;
        if (valueBytes != count * ValueBufferSize)
            throw new BpfException(Errno.EINVAL, $"{command.UapiName()} {What}: {valueBytes} value bytes for {count} keys, expected {count * ValueBufferSize}");
        return count;
    }

    /// <summary>Closes this descriptor; the kernel frees the map when no fd, pin or program holds it.</summary>
    public void Dispose() => Fd.Dispose();

    /// <summary>Type, name and descriptor, for messages.</summary>
    public override string ToString() => $"{Type} map {Name} ({Fd})";
}

/// <summary>A batch operation that failed part-way: <see cref="Processed"/> elements were applied before the error.</summary>
public sealed class BpfBatchException(Errno errno, string message, uint processed) : BpfException(errno, message)
{
    /// <summary>How many elements the kernel applied before it failed (the attr's count on return).</summary>
    public uint Processed { get; } = processed;
}
