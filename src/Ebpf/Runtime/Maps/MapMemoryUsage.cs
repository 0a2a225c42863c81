using Ebpf.Abi;

namespace Ebpf.Runtime.Maps;

/// <summary>
/// What the kernel reports as a map's memlock (fdinfo / bpftool "memlock"): the map type's
/// map_mem_usage on Linux 6.18 x86-64, with that kernel's struct sizes. Checked against bpftool for
/// array, percpu_array, prog_array, hash (prealloc and not), lru_hash, percpu_hash, queue, ringbuf and
/// empty devmap/devmap_hash/cpumap/xskmap; other types fall back to an array-like estimate.
/// </summary>
public static class MapMemoryUsage
{
    private const ulong PageSize = 4096;
    private const ulong BpfArray = 312;          // sizeof(struct bpf_array)
    private const ulong BpfHtab = 896;           // sizeof(struct bpf_htab)
    private const ulong Bucket = 16;             // sizeof(struct bucket)
    private const ulong HtabElem = 48;           // sizeof(struct htab_elem)
    private const ulong LlistNode = 8;
    private const ulong QueueStack = 312;        // sizeof(struct bpf_queue_stack)
    private const ulong RingbufMap = 304;        // sizeof(struct bpf_ringbuf_map)
    private const ulong RingbufMetaPages = 3;    // RINGBUF_PGOFF + RINGBUF_POS_PAGES
    private const ulong BpfDtab = 344;           // sizeof(struct bpf_dtab)
    private const ulong BpfCpuMap = 304;         // sizeof(struct bpf_cpu_map)
    private const ulong XskMap = 304;            // sizeof(struct xsk_map)

    private static ulong Round8(ulong v) => (v + 7) & ~7ul;
    private static ulong PageAlign(ulong v) => (v + PageSize - 1) & ~(PageSize - 1);

    /// <summary>The memlock bytes Linux reports for a map created with these attributes.</summary>
    /// <param name="type">map_type.</param>
    /// <param name="keySize">key_size.</param>
    /// <param name="valueSize">value_size.</param>
    /// <param name="maxEntries">max_entries.</param>
    /// <param name="flags">map_flags (no-prealloc hashes are charged per element).</param>
    /// <param name="possibleCpus">Possible CPUs (per-CPU maps are charged once per CPU).</param>
    /// <param name="elements">Current element count (only no-prealloc hashes charge per element).</param>
    public static ulong Of(MapType type, uint keySize, uint valueSize, uint maxEntries, MapFlags flags, int possibleCpus, ulong elements = 0)
    {
        ulong cpus = (ulong)Math.Max(1, possibleCpus);
        ulong entries = maxEntries;
        switch (type)
        {
            case MapType.Array:
            case MapType.PercpuArray:
            case MapType.ProgArray:
            case MapType.PerfEventArray:
            case MapType.CgroupArray:
            case MapType.ArrayOfMaps:
            {
                bool fd = type is not (MapType.Array or MapType.PercpuArray);
                ulong elem = fd ? 8 : Round8(valueSize);
                if (type == MapType.PercpuArray)
                    return BpfArray + entries * 8 + entries * elem * cpus;
                if ((flags & MapFlags.Mmapable) != 0)
                    return PageAlign(BpfArray) + PageAlign(entries * elem);
                return BpfArray + entries * elem;
            }
            case MapType.Hash:
            case MapType.PercpuHash:
            case MapType.LruHash:
            case MapType.LruPercpuHash:
            case MapType.HashOfMaps:
            {
                bool percpu = type is MapType.PercpuHash or MapType.LruPercpuHash;
                bool lru = type is MapType.LruHash or MapType.LruPercpuHash;
                bool fdHash = type == MapType.HashOfMaps;
                bool prealloc = (flags & MapFlags.NoPrealloc) == 0;
                ulong value = Round8(valueSize);
                ulong elemSize = HtabElem + Round8(keySize) + (percpu || fdHash ? 8 : value);
                ulong usage = BpfHtab + Bucket * System.Numerics.BitOperations.RoundUpToPowerOf2(entries);
                if (prealloc)
                {
                    bool extra = !percpu && !lru && !fdHash; // htab_has_extra_elems: one spare element per CPU
                    ulong n = entries + (extra ? cpus : 0);
                    usage += elemSize * n;
                    if (extra) usage += 8 * cpus; // the per-CPU extra_elems pointers
                    if (percpu) usage += value * cpus * n;
                }
                else
                {
                    usage += (elemSize + LlistNode) * elements;
                    if (percpu) usage += (LlistNode + 8) * elements + value * cpus * elements;
                }
                return usage;
            }
            case MapType.Devmap:
                return BpfDtab + entries * 8; // + per filled slot a bpf_dtab_netdev (not charged here)
            case MapType.DevmapHash:
                return BpfDtab + System.Numerics.BitOperations.RoundUpToPowerOf2(entries) * 8;
            case MapType.Cpumap:
                return BpfCpuMap + entries * 8;
            case MapType.Xskmap:
                return XskMap + entries * 8;
            case MapType.Queue:
            case MapType.Stack:
                return QueueStack + (entries + 1) * valueSize;
            case MapType.Ringbuf:
            {
                ulong dataPages = entries / PageSize;
                return RingbufMap + ((RingbufMetaPages + dataPages) * PageSize) + (RingbufMetaPages + 2 * dataPages) * 8;
            }
            default:
                return BpfArray + entries * (Round8(keySize) + Round8(valueSize));
        }
    }
}
