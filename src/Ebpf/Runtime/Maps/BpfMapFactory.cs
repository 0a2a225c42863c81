using Ebpf.Collections;
using Ebpf.Abi;

namespace Ebpf.Runtime.Maps;

/// <summary>BPF_MAP_CREATE for the managed runtime: validates (<see cref="MapValidation"/>) and allocates.</summary>
public static class BpfMapFactory
{
    /// <summary>Creates a map (<paramref name="innerTemplate"/>: a map-in-map's inner_map_fd). Bad attributes throw <see cref="BpfException"/> with the kernel's errno before anything is allocated.</summary>
    public static BpfMapBase Create(MapDefinition attributes, BpfMapBase? innerTemplate = null)
    {
        ArgumentNullException.ThrowIfNull(attributes);
        if (innerTemplate is not null)
            attributes = attributes with { InnerTemplate = innerTemplate };
        uint max = MapValidation.Validate(attributes);
        try
        {
            return Construct(attributes, max);
        }
        catch (OutOfMemoryException e)
        {
            // Constructors allocate native memory last, so nothing is left behind.
            throw new BpfException(Errno.ENOMEM, $"map '{attributes.Name}' ({attributes.Type}): cannot allocate", e);
        }
    }

    private static BpfMapBase Construct(MapDefinition attributes, uint max)
    {
        return attributes.Type switch
        {
            MapType.Array or MapType.PercpuArray => new ArrayMap(attributes),
            MapType.Hash or MapType.PercpuHash or MapType.LruHash or MapType.LruPercpuHash => new HashMap(attributes, max),
            MapType.ProgArray => new ProgArrayMap(attributes),
            MapType.ArrayOfMaps or MapType.HashOfMaps => new MapInMap(attributes, max),
            MapType.PerfEventArray => new PerfEventArrayMap(attributes),
            MapType.Queue or MapType.Stack => new QueueStackMap(attributes),
            MapType.Ringbuf => new RingBufMap(attributes),
            MapType.LpmTrie => new LpmTrieMap(attributes),
            MapType.BloomFilter => new BloomFilterMap(attributes),
            MapType.Devmap or MapType.DevmapHash => new DevMap(attributes),
            MapType.Cpumap => new CpuMap(attributes),
            MapType.Xskmap => new XskMap(attributes),
            _ => throw new BpfException(Errno.EINVAL, $"map '{attributes.Name}': type {attributes.Type} not supported"),
        };
    }

    /// <summary>Shorthand for the common fields.</summary>
    public static BpfMapBase Create(MapType type, uint keySize, uint valueSize, uint maxEntries,
        MapFlags flags = MapFlags.None, string name = "") =>
        Create(new MapDefinition { Type = type, KeySize = keySize, ValueSize = valueSize, MaxEntries = maxEntries, Flags = flags, Name = name });

    /// <summary>Typed shorthand: <c>BpfMapFactory.Create&lt;HashMap&gt;(...)</c>.</summary>
    public static T Create<T>(MapDefinition attributes, BpfMapBase? innerTemplate = null) where T : BpfMapBase
    {
        var m = Create(attributes, innerTemplate);
        if (m is T t) return t;
        m.Dispose();
        throw new BpfException(Errno.EINVAL, $"map '{attributes.Name}': {attributes.Type} is not a {typeof(T).Name}");
    }
}
