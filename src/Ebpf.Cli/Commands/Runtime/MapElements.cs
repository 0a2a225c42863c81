using Ebpf.Abi;
using Ebpf.Runtime.Objects;

namespace Ebpf.Cli.Commands.Runtime;

/// <summary>
/// Host-side element access for the CLI (the bpf(2) map commands). Prog arrays are served by the
/// runtime's slot table (values are program ids); every other type by the map storage.
/// </summary>
internal static class MapElements
{
    private static Ebpf.Runtime.Maps.BpfMapBase Storage(MapObject map) =>
        map.Maps ?? throw new BpfException(Errno.EOPNOTSUPP, $"map {map.Id} ({map.Type}) has no element storage");

    private static int ValueSize(MapObject map) => map.Maps?.HostValueSize ?? (int)map.Definition.ValueSize;

    public static byte[]? Lookup(MapObject map, byte[] key)
    {
        if (map.ProgramSlots is { } slots)
        {
            var prog = slots.Get(BitConverter.ToUInt32(key));
            return prog is null ? null : BitConverter.GetBytes(prog.Id);
        }
        var value = new byte[ValueSize(map)];
        var err = Storage(map).LookupElem(key, value);
        if (err == Errno.ENOENT)
            return null;
        if (err != Errno.None)
            throw new BpfException(err, $"lookup failed: {err}");
        return value;
    }

    public static void Update(MapObject map, byte[] key, byte[] value, ulong flags)
    {
        var storage = Storage(map);
        if (value.Length != ValueSize(map))
            throw new CliUsageException($"value expected {ValueSize(map)} bytes got {value.Length}");
        var err = storage.UpdateElem(key, value, (MapUpdateFlags)flags);
        if (err != Errno.None)
            throw new BpfException(err, $"update failed: {err}");
    }

    public static void SetProgram(MapObject map, byte[] key, ProgramObject program, ulong flags)
    {
        if (map.ProgramSlots is not { } slots)
            throw new BpfException(Errno.EINVAL, $"map {map.Id} is not a prog array");
        if (flags != 0)
            throw new BpfException(Errno.EINVAL, "update failed: prog arrays only accept BPF_ANY");
        slots.Set(BitConverter.ToUInt32(key), program);
    }

    public static void Delete(MapObject map, byte[] key)
    {
        if (map.ProgramSlots is { } slots)
        {
            slots.Delete(BitConverter.ToUInt32(key));
            return;
        }
        var err = Storage(map).DeleteElem(key);
        if (err != Errno.None)
            throw new BpfException(err, err == Errno.ENOENT ? "No such file or directory" : err.ToString());
    }

    public static byte[]? NextKey(MapObject map, byte[]? key)
    {
        if (map.Type is MapType.ProgArray)
        {
            uint max = map.Definition.MaxEntries;
            uint next = 0;
            if (key is not null && BitConverter.ToUInt32(key) < max)
                next = BitConverter.ToUInt32(key) + 1;
            return next >= max ? null : BitConverter.GetBytes(next);
        }
        var nextKey = new byte[map.Definition.KeySize];
        var err = Storage(map).GetNextKeyElem(key ?? ReadOnlySpan<byte>.Empty, nextKey);
        if (err == Errno.ENOENT)
            return null;
        if (err != Errno.None)
            throw new BpfException(err, $"can't get next key: {err}");
        return nextKey;
    }

    public static IEnumerable<(byte[] Key, byte[] Value)> Entries(MapObject map)
    {
        if (map.ProgramSlots is { } slots)
        {
            var ids = slots.SnapshotIds();
            for (uint i = 0; i < ids.Length; i++)
                if (ids[i] != 0)
                    yield return (BitConverter.GetBytes(i), BitConverter.GetBytes(ids[i]));
            yield break;
        }
        var storage = Storage(map);
        foreach (var key in storage.Keys())
        {
            var value = new byte[ValueSize(map)];
            if (storage.LookupElem(key, value) == Errno.None)
                yield return (key, value);
        }
    }

    public static byte[]? Pop(MapObject map, bool remove)
    {
        var storage = Storage(map);
        var value = new byte[ValueSize(map)];
        var err = remove ? storage.LookupAndDeleteElem(ReadOnlySpan<byte>.Empty, value) : storage.LookupElem(ReadOnlySpan<byte>.Empty, value);
        if (err == Errno.ENOENT)
            return null;
        if (err != Errno.None)
            throw new BpfException(err, $"{(remove ? "pop" : "peek")} failed: {err}");
        return value;
    }

    public static void Push(MapObject map, byte[] value, ulong flags)
    {
        var err = Storage(map).UpdateElem(ReadOnlySpan<byte>.Empty, value, (MapUpdateFlags)flags);
        if (err != Errno.None)
            throw new BpfException(err, $"push failed: {err}");
    }
}
