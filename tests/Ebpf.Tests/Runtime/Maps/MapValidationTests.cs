using Ebpf.Abi;
using Ebpf.Runtime.Maps;
using static Ebpf.Tests.Runtime.Maps.MapTestUtil;

namespace Ebpf.Tests.Runtime.Maps;

public class MapValidationTests
{
    public static TheoryData<MapType, uint, uint, uint, MapFlags, ulong, Errno> BadSpecs => new()
    {
        { MapType.Array, 8, 4, 1, MapFlags.None, 0, Errno.EINVAL },           // key_size != 4
        { MapType.Array, 4, 4, 0, MapFlags.None, 0, Errno.EINVAL },           // max_entries 0
        { MapType.Array, 4, 0, 1, MapFlags.None, 0, Errno.EINVAL },           // value_size 0
        { MapType.Array, 4, (4u << 20) + 1, 1, MapFlags.None, 0, Errno.E2BIG },
        { MapType.Array, 4, 4, 1, MapFlags.NoPrealloc, 0, Errno.EINVAL },     // flag outside the array mask
        { MapType.Array, 4, 4, 1, MapFlags.Rdonly | MapFlags.Wronly, 0, Errno.EINVAL },
        { MapType.Array, 4, 4, 1, MapFlags.RdonlyProg | MapFlags.WronlyProg, 0, Errno.EINVAL },
        { MapType.Array, 4, 4, 1, MapFlags.None, 3, Errno.EINVAL },           // map_extra on a non-bloom map
        { MapType.PercpuArray, 4, 4, 1, MapFlags.Mmapable, 0, Errno.EINVAL },
        { MapType.PercpuArray, 4, 32769, 1, MapFlags.None, 0, Errno.E2BIG },
        { MapType.Hash, 0, 4, 1, MapFlags.None, 0, Errno.EINVAL },
        { MapType.Hash, 4, 0, 1, MapFlags.None, 0, Errno.EINVAL },
        { MapType.Hash, 4, 4, 0, MapFlags.None, 0, Errno.EINVAL },
        { MapType.Hash, 513, 4, 1, MapFlags.None, 0, Errno.E2BIG },
        { MapType.Hash, 4, 4u << 20, 1, MapFlags.None, 0, Errno.E2BIG },
        { MapType.Hash, 4, 4, 1, MapFlags.NoCommonLru, 0, Errno.EINVAL },
        { MapType.Hash, 4, 4, 1, MapFlags.Mmapable, 0, Errno.EINVAL },
        { MapType.LruHash, 4, 4, 1, MapFlags.NoPrealloc, 0, Errno.ENOTSUPP },
        { MapType.Queue, 4, 4, 1, MapFlags.None, 0, Errno.EINVAL },
        { MapType.Stack, 0, 0, 1, MapFlags.None, 0, Errno.EINVAL },
        { MapType.Stack, 0, 4, 0, MapFlags.None, 0, Errno.EINVAL },
        { MapType.Ringbuf, 0, 0, 4095, MapFlags.None, 0, Errno.EINVAL },
        { MapType.Ringbuf, 0, 0, 12288, MapFlags.None, 0, Errno.EINVAL },
        { MapType.Ringbuf, 4, 0, 4096, MapFlags.None, 0, Errno.EINVAL },
        { MapType.LpmTrie, 8, 4, 16, MapFlags.None, 0, Errno.EINVAL },        // no BPF_F_NO_PREALLOC
        { MapType.LpmTrie, 4, 4, 16, MapFlags.NoPrealloc, 0, Errno.EINVAL },
        { MapType.LpmTrie, 261, 4, 16, MapFlags.NoPrealloc, 0, Errno.EINVAL },
        { MapType.LpmTrie, 8, 0, 16, MapFlags.NoPrealloc, 0, Errno.EINVAL },
        { MapType.BloomFilter, 4, 4, 16, MapFlags.None, 0, Errno.EINVAL },
        { MapType.BloomFilter, 0, 4, 16, MapFlags.None, 16, Errno.EINVAL },
        { MapType.ProgArray, 4, 8, 4, MapFlags.None, 0, Errno.EINVAL },
        { MapType.ProgArray, 4, 4, 4, MapFlags.RdonlyProg, 0, Errno.EINVAL },
        { MapType.ArrayOfMaps, 4, 4, 4, MapFlags.None, 0, Errno.EBADF },      // no inner map
        { MapType.HashOfMaps, 4, 8, 4, MapFlags.None, 0, Errno.EINVAL },
        { MapType.Sockmap, 4, 4, 4, MapFlags.None, 0, Errno.EINVAL },
        { MapType.Hash, 4, 4, 1u << 27, MapFlags.None, 0, Errno.ENOMEM },
        { MapType.Hash, 4, 4, (1u << 31) + 1, MapFlags.None, 0, Errno.E2BIG },
        { MapType.Array, 4, 4096, 1u << 20, MapFlags.None, 0, Errno.ENOMEM },
    };

    [Theory]
    [MemberData(nameof(BadSpecs))]
    public void BadSpecIsRejectedWithTheKernelsErrno(MapType type, uint key, uint value, uint max, MapFlags flags, ulong extra, Errno expected)
    {
        var e = ErrnoOf(() => BpfMapFactory.Create(new MapDefinition
            { Type = type, KeySize = key, ValueSize = value, MaxEntries = max, Flags = flags, MapExtra = extra }));
        Assert.Equal(expected, e);
    }

    [Theory]
    [InlineData("has space")]
    [InlineData("sixteen_chars_xx")]
    public void BadNameIsEinval(string name) =>
        Assert.Equal(Errno.EINVAL, ErrnoOf(() => BpfMapFactory.Create(new MapDefinition
            { Type = MapType.Array, KeySize = 4, ValueSize = 4, MaxEntries = 1, Name = name })));

    [Fact]
    public void SpinLockRules()
    {
        Assert.Equal(Errno.EOPNOTSUPP, ErrnoOf(() => Make<QueueStackMap>(MapType.Queue, 0, 8, 4, spinLock: 0)));
        Assert.Equal(Errno.EINVAL, ErrnoOf(() => Make<ArrayMap>(MapType.Array, 4, 8, 4, spinLock: 2)));
        Assert.Equal(Errno.EINVAL, ErrnoOf(() => Make<ArrayMap>(MapType.Array, 4, 8, 4, spinLock: 8)));
    }

    [Fact]
    public void PercpuLruRoundsMaxEntriesToCpuMultiple()
    {
        using var m = Make<HashMap>(MapType.LruPercpuHash, 4, 4, 1, MapFlags.NoCommonLru);
        Assert.Equal((uint)BpfCpu.PossibleCount, m.MaxEntries);
    }

    [Fact]
    public void GoodSpecsOfEveryTypeCreate()
    {
        using var inner = Make<ArrayMap>(MapType.Array, 4, 4, 2);
        var specs = new[]
        {
            new MapDefinition { Type = MapType.Array, KeySize = 4, ValueSize = 4, MaxEntries = 1 },
            new MapDefinition { Type = MapType.PercpuArray, KeySize = 4, ValueSize = 4, MaxEntries = 1 },
            new MapDefinition { Type = MapType.Hash, KeySize = 4, ValueSize = 4, MaxEntries = 1, Flags = MapFlags.NoPrealloc },
            new MapDefinition { Type = MapType.PercpuHash, KeySize = 4, ValueSize = 4, MaxEntries = 1 },
            new MapDefinition { Type = MapType.LruHash, KeySize = 4, ValueSize = 4, MaxEntries = 1 },
            new MapDefinition { Type = MapType.LruPercpuHash, KeySize = 4, ValueSize = 4, MaxEntries = 1 },
            new MapDefinition { Type = MapType.ProgArray, KeySize = 4, ValueSize = 4, MaxEntries = 1 },
            new MapDefinition { Type = MapType.PerfEventArray, KeySize = 4, ValueSize = 4, MaxEntries = 1 },
            new MapDefinition { Type = MapType.ArrayOfMaps, KeySize = 4, ValueSize = 4, MaxEntries = 1, InnerTemplate = inner },
            new MapDefinition { Type = MapType.HashOfMaps, KeySize = 4, ValueSize = 4, MaxEntries = 1, InnerTemplate = inner },
            new MapDefinition { Type = MapType.Queue, ValueSize = 4, MaxEntries = 1 },
            new MapDefinition { Type = MapType.Stack, ValueSize = 4, MaxEntries = 1 },
            new MapDefinition { Type = MapType.Ringbuf, MaxEntries = 4096 },
            new MapDefinition { Type = MapType.LpmTrie, KeySize = 8, ValueSize = 4, MaxEntries = 1, Flags = MapFlags.NoPrealloc },
            new MapDefinition { Type = MapType.BloomFilter, ValueSize = 4, MaxEntries = 1 },
        };
        foreach (var s in specs)
        {
            using var m = BpfMapFactory.Create(s);
            Assert.Equal(s.Type, m.Type);
            Assert.Equal(s.Type, m.Info.Type);
        }
    }
}
