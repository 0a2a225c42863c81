using Ebpf.Abi;

namespace Ebpf.Linux;

/// <summary>Everything BPF_MAP_CREATE takes, as the attr (what the Linux backend fills from a MapDefinition).</summary>
public sealed class MapCreateAttributes
{
    /// <summary>map_type: the kind of map to create.</summary>
    public required MapType Type { get; init; }
    /// <summary>key_size in bytes.</summary>
    public uint KeySize { get; init; }
    /// <summary>value_size in bytes.</summary>
    public uint ValueSize { get; init; }
    /// <summary>max_entries (for ring buffers, the byte size; for arena, pages).</summary>
    public uint MaxEntries { get; init; }
    /// <summary>map_flags (BPF_F_NO_PREALLOC, BPF_F_MMAPABLE, …).</summary>
    public MapFlags Flags { get; init; }
    /// <summary>The map name; sanitised to what the kernel accepts (see <see cref="ObjectName"/>).</summary>
    public string? Name { get; init; }
    /// <summary>A template map for ARRAY_OF_MAPS / HASH_OF_MAPS.</summary>
    public KernelMap? InnerMap { get; init; }
    /// <summary>NUMA node; only sent when <see cref="MapFlags.NumaNode"/> is set.</summary>
    public uint NumaNode { get; init; }
    /// <summary>btf_fd: the BTF describing key and value, needed for spin locks, timers and kptrs.</summary>
    public BpfFd? Btf { get; init; }
    /// <summary>btf_key_type_id in <see cref="Btf"/>.</summary>
    public uint BtfKeyTypeId { get; init; }
    /// <summary>btf_value_type_id in <see cref="Btf"/>.</summary>
    public uint BtfValueTypeId { get; init; }
    /// <summary>btf_vmlinux_value_type_id: the kernel struct a struct_ops map implements.</summary>
    public uint BtfVmlinuxValueTypeId { get; init; }
    /// <summary>map_extra: bloom filter hash count, arena address hint, …</summary>
    public ulong MapExtra { get; init; }
    /// <summary>map_ifindex: the device for offloaded maps; 0 otherwise.</summary>
    public uint Ifindex { get; init; }
}
