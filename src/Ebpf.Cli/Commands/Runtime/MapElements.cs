using Ebpf.Abi;
using Ebpf.Runtime;
using Ebpf.Runtime.Objects;

namespace Ebpf.Cli.Commands.Runtime;

/// <summary>
/// Host-side element access for the CLI (the bpf(2) map commands). Prog arrays are served by the
/// runtime's slot table; other map types go through the map storage (Runtime/Maps).
/// </summary>
internal static class MapElements
{
    private static BpfException NoStorage(MapObject map) =>
        new(Errno.EOPNOTSUPP, $"map {map.Id} ({map.Type}) has no element storage in this runtime");

    public static byte[]? Lookup(MapObject map, byte[] key)
    {
        if (map.ProgramSlots is { } slots)
        {
            var prog = slots.Get(BitConverter.ToUInt32(key));
            return prog is null ? null : BitConverter.GetBytes(prog.Id);
        }
        throw NoStorage(map);
    }

    public static void Update(MapObject map, byte[] key, byte[] value, ulong flags)
    {
        if (map.IsFrozen)
            throw new BpfException(Errno.EPERM, $"map {map.Id} is frozen");
        throw NoStorage(map);
    }

    public static void SetProgram(MapObject map, byte[] key, ProgramObject program, ulong flags)
    {
        if (map.ProgramSlots is not { } slots)
            throw new BpfException(Errno.EINVAL, $"map {map.Id} is not a prog array");
        uint index = BitConverter.ToUInt32(key);
        if (flags == 1)
            throw new BpfException(Errno.EEXIST, "prog array elements always exist (BPF_NOEXIST)");
        if (flags > 2)
            throw new BpfException(Errno.EINVAL, $"flags {flags}");
        slots.Set(index, program);
    }

    public static void Delete(MapObject map, byte[] key)
    {
        if (map.ProgramSlots is { } slots)
        {
            slots.Delete(BitConverter.ToUInt32(key));
            return;
        }
        throw NoStorage(map);
    }

    public static byte[]? NextKey(MapObject map, byte[]? key)
    {
        if (map.Type is MapType.ProgArray)
        {
            // Arrays: index+1, or 0 for a missing/out-of-range key (array_map_get_next_key).
            uint next = key is null ? 0 : BitConverter.ToUInt32(key) + 1;
            if (key is not null && BitConverter.ToUInt32(key) >= map.Definition.MaxEntries)
                next = 0;
            return next >= map.Definition.MaxEntries ? null : BitConverter.GetBytes(next);
        }
        throw NoStorage(map);
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
        throw NoStorage(map);
    }

    public static byte[]? Pop(MapObject map, bool remove) => throw NoStorage(map);

    public static void Push(MapObject map, byte[] value, ulong flags) => throw NoStorage(map);
}
