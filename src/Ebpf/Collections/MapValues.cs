using Ebpf.Abi;

namespace Ebpf.Collections;

/// <summary>How user space sees a map's values (the same on every backend).</summary>
public static class MapValues
{
    /// <summary>Whether a value holds one slot per possible CPU.</summary>
    public static bool IsPerCpu(MapType type) =>
        type is MapType.PercpuArray or MapType.PercpuHash or MapType.LruPercpuHash or MapType.PercpuCgroupStorage;

    /// <summary>Bytes of a value buffer: value_size, or round_up(value_size, 8) × possible CPUs for per-CPU maps.</summary>
    public static int BufferSize(MapType type, uint valueSize, int possibleCpus) =>
        IsPerCpu(type) ? (int)((valueSize + 7) & ~7u) * possibleCpus : (int)valueSize;
}
