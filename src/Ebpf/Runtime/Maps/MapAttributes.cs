using Ebpf.Abi;

namespace Ebpf.Runtime.Maps;

/// <summary>
/// What BPF_MAP_CREATE receives (the fields of <c>bpf_attr</c> the runtime uses). Plain data:
/// <see cref="BpfMapFactory.Create"/> validates it exactly as the kernel does.
/// </summary>
public sealed record MapAttributes
{
    public MapType Type { get; init; }
    public uint KeySize { get; init; }
    public uint ValueSize { get; init; }
    public uint MaxEntries { get; init; }
    public MapFlags Flags { get; init; }
    /// <summary>map_extra: bloom filter hash count (low 4 bits; 0 means 5).</summary>
    public ulong MapExtra { get; init; }
    /// <summary>Object name (≤ 15 chars of [A-Za-z0-9_.]).</summary>
    public string Name { get; init; } = "";
    /// <summary>Template for array_of_maps / hash_of_maps (the kernel's inner_map_fd).</summary>
    public BpfMapBase? InnerMap { get; init; }
    /// <summary>Offset of the <c>struct bpf_spin_lock</c> in the value (from BTF), or -1 for none.</summary>
    public int SpinLockOffset { get; init; } = -1;
    /// <summary>BTF ids recorded for info (btf_key_type_id, btf_value_type_id); not interpreted here.</summary>
    public uint BtfKeyTypeId { get; init; }
    public uint BtfValueTypeId { get; init; }
}

/// <summary>Information as BPF_OBJ_GET_INFO_BY_FD returns it for a map.</summary>
public sealed record MapInfo(
    MapType Type, uint Id, uint KeySize, uint ValueSize, uint MaxEntries, MapFlags Flags,
    string Name, ulong MapExtra, bool Frozen, uint BtfKeyTypeId, uint BtfValueTypeId);

/// <summary>Outcome of a batch operation: elements processed and the final errno (ENOENT = end reached).</summary>
public readonly record struct MapBatchResult(uint Count, Errno Errno);
