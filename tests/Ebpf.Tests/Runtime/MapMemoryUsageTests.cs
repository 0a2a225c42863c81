using Ebpf.Abi;
using Ebpf.Cli.Commands.Linux;
using Ebpf.Linux;
using Ebpf.Runtime.Maps;
using Ebpf.Tests.Linux;

namespace Ebpf.Tests.Runtime;

/// <summary>The memlock the runtime reports for a map equals the kernel's fdinfo memlock for the same map.</summary>
public class MapMemoryUsageTests
{
    public static TheoryData<MapType, uint, uint, uint, MapFlags> Cases() => new()
    {
        { MapType.Array, 4, 4, 1, MapFlags.None },
        { MapType.Array, 4, 40, 10, MapFlags.None },
        { MapType.Array, 4, 8, 1000, MapFlags.Mmapable },
        { MapType.PercpuArray, 4, 4, 3, MapFlags.None },
        { MapType.PercpuArray, 4, 20, 7, MapFlags.None },
        { MapType.ProgArray, 4, 4, 4, MapFlags.None },
        { MapType.Hash, 4, 8, 16, MapFlags.None },
        { MapType.Hash, 8, 40, 100, MapFlags.None },
        { MapType.Hash, 4, 8, 16, MapFlags.NoPrealloc },
        { MapType.LruHash, 4, 8, 16, MapFlags.None },
        { MapType.PercpuHash, 4, 8, 16, MapFlags.None },
        { MapType.LruPercpuHash, 16, 12, 33, MapFlags.None },
        { MapType.Queue, 0, 4, 4, MapFlags.None },
        { MapType.Stack, 0, 24, 9, MapFlags.None },
        { MapType.Ringbuf, 0, 0, 4096, MapFlags.None },
        { MapType.Ringbuf, 0, 0, 16384, MapFlags.None },
        { MapType.Devmap, 4, 8, 10, MapFlags.None },
        { MapType.DevmapHash, 4, 4, 10, MapFlags.None },
        { MapType.Cpumap, 4, 8, 2, MapFlags.None },
        { MapType.Xskmap, 4, 4, 10, MapFlags.None },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Memlock_matches_the_kernel(MapType type, uint key, uint value, uint max, MapFlags flags)
    {
        KernelRequirement.Require();
        using var m = KernelMap.Create(new MapCreateAttributes { Type = type, KeySize = key, ValueSize = value, MaxEntries = max, Flags = flags });
        long? kernel = KernelFdInfo.Read(m.Fd).Memlock;
        Assert.NotNull(kernel);
        Assert.Equal((ulong)kernel.Value, MapMemoryUsage.Of(type, key, value, max, flags, PossibleCpus.Count));
    }
}
