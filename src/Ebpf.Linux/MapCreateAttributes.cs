using Ebpf.Abi;

namespace Ebpf.Linux;

/// <summary>Everything BPF_MAP_CREATE takes, as the attr (what the Linux backend fills from a MapDefinition).</summary>
public sealed class MapCreateAttributes
{
    public required MapType Type { get; init; }
    public uint KeySize { get; init; }
    public uint ValueSize { get; init; }
    public uint MaxEntries { get; init; }
    public MapFlags Flags { get; init; }
    /// <summary>The map name; sanitised to what the kernel accepts (see <see cref="ObjectName"/>).</summary>
    public string? Name { get; init; }
    /// <summary>A template map for ARRAY_OF_MAPS / HASH_OF_MAPS.</summary>
    public KernelMap? InnerMap { get; init; }
    /// <summary>NUMA node; only sent when <see cref="MapFlags.NumaNode"/> is set.</summary>
    public uint NumaNode { get; init; }
    public BpfFd? Btf { get; init; }
    public uint BtfKeyTypeId { get; init; }
    public uint BtfValueTypeId { get; init; }
    public uint BtfVmlinuxValueTypeId { get; init; }
    /// <summary>map_extra: bloom filter hash count, arena address hint, …</summary>
    public ulong MapExtra { get; init; }
    public uint Ifindex { get; init; }
}
