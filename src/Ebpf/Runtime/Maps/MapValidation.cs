using Ebpf.Collections;
using Ebpf.Abi;
using Ebpf.Runtime.Memory;

namespace Ebpf.Runtime.Maps;

/// <summary>
/// BPF_MAP_CREATE checks, per type, as the kernel's map_create + ops->map_alloc_check do (6.x).
/// Everything here runs before any allocation, so a rejected spec leaves nothing behind.
/// <list type="table">
/// <item>any: unknown type → EINVAL; name longer than 15 or with characters outside [A-Za-z0-9_.] → EINVAL;
/// map_extra ≠ 0 on a non-bloom map → EINVAL; BPF_F_RDONLY|BPF_F_WRONLY or BPF_F_RDONLY_PROG|BPF_F_WRONLY_PROG → EINVAL;
/// a flag outside the type's mask → EINVAL.</item>
/// <item>array/percpu_array: key_size ≠ 4, value_size 0, max_entries 0 → EINVAL; value_size > KMALLOC_MAX_SIZE (4 MiB) → E2BIG;
/// per-CPU value_size > PCPU_MIN_UNIT_SIZE (32 KiB) → E2BIG; BPF_F_MMAPABLE on percpu_array → EINVAL;
/// total size ≥ U32_MAX − PAGE_SIZE → ENOMEM.</item>
/// <item>hash family: key_size 0, value_size 0, max_entries 0 → EINVAL; key_size > MAX_BPF_STACK (512) → E2BIG;
/// value_size ≥ KMALLOC_MAX_SIZE − MAX_BPF_STACK − sizeof(htab_elem) → E2BIG; per-CPU value_size > 32 KiB → E2BIG;
/// LRU with BPF_F_NO_PREALLOC → ENOTSUPP; BPF_F_NO_COMMON_LRU on a non-LRU hash → EINVAL;
/// max_entries > 2^31 → E2BIG (n_buckets overflow). lru_hash with NO_COMMON_LRU rounds max_entries to a multiple of the CPU count.</item>
/// <item>prog_array / perf_event_array / array_of_maps: value_size ≠ 4 → EINVAL; BPF_F_RDONLY_PROG/WRONLY_PROG → EINVAL; then the array rules.</item>
/// <item>hash_of_maps: value_size ≠ 4 → EINVAL; then the hash rules. Map-in-map without an inner map → EBADF;
/// an inner map that is itself map-in-map → EINVAL.</item>
/// <item>queue/stack: key_size ≠ 0, value_size 0, max_entries 0 → EINVAL; (max_entries+1)×value_size ≥ U32_MAX − PAGE_SIZE → E2BIG.</item>
/// <item>ringbuf: key_size ≠ 0, value_size ≠ 0, max_entries not a power of 2 or not a multiple of 4096 → EINVAL.</item>
/// <item>lpm_trie: no BPF_F_NO_PREALLOC, max_entries 0, key_size &lt; 5 or &gt; 260, value_size 0 or too large → EINVAL.</item>
/// <item>bloom_filter: key_size ≠ 0, value_size 0, max_entries 0, map_extra &amp; ~0xF → EINVAL.</item>
/// <item>devmap/devmap_hash: key_size 4, value_size 4 or 8, flags ⊆ NUMA|RDONLY|WRONLY → else EINVAL. cpumap: the same with
/// flags ⊆ NUMA, and max_entries &gt; NR_CPUS → E2BIG. xskmap: key_size 4, value_size 4.</item>
/// <item>a bpf_spin_lock (SpinLockOffset ≥ 0) on anything but hash/array → EOPNOTSUPP; misaligned or outside the value → EINVAL.</item>
/// </list>
/// </summary>
internal static class MapValidation
{
    public const uint KmallocMaxSize = 4u << 20;
    public const uint PcpuMinUnitSize = 32u << 10;
    public const uint MaxBpfStack = 512;
    private const uint HtabElemSize = 48;
    private const uint PageSize = NativeBlock.PageSize;

    private const MapFlags Access = MapFlags.Rdonly | MapFlags.Wronly | MapFlags.RdonlyProg | MapFlags.WronlyProg;
    private const MapFlags ArrayMask = MapFlags.NumaNode | MapFlags.Mmapable | Access | MapFlags.PreserveElems | MapFlags.InnerMap;
    private const MapFlags HashMask = MapFlags.NoPrealloc | MapFlags.NoCommonLru | MapFlags.NumaNode | Access | MapFlags.ZeroSeed;
    private const MapFlags QueueMask = MapFlags.NumaNode | Access;
    private const MapFlags LpmMask = MapFlags.NoPrealloc | MapFlags.NumaNode | Access;
    private const MapFlags BloomMask = MapFlags.NumaNode | MapFlags.ZeroSeed | Access;
    private const MapFlags RingbufMask = MapFlags.NumaNode;

    /// <summary>Validates <paramref name="a"/>; returns the effective max_entries. Throws <see cref="BpfException"/>.</summary>
    public static uint Validate(MapDefinition a)
    {
        string where = $"map '{a.Name}' ({a.Type})";
        BpfException Fail(Errno e, string why) => new(e, $"{where}: {why}");

        if (a.Name.Length > 15) throw Fail(Errno.EINVAL, "name longer than 15 characters");
        foreach (char c in a.Name)
            if (!(char.IsAsciiLetterOrDigit(c) || c == '_' || c == '.'))
                throw Fail(Errno.EINVAL, $"invalid character '{c}' in name");
        if (a.MapExtra != 0 && a.Type != MapType.BloomFilter) throw Fail(Errno.EINVAL, "map_extra is only valid for bloom filters");
        if ((a.Flags & (MapFlags.Rdonly | MapFlags.Wronly)) == (MapFlags.Rdonly | MapFlags.Wronly))
            throw Fail(Errno.EINVAL, "BPF_F_RDONLY and BPF_F_WRONLY together");
        if ((a.Flags & (MapFlags.RdonlyProg | MapFlags.WronlyProg)) == (MapFlags.RdonlyProg | MapFlags.WronlyProg))
            throw Fail(Errno.EINVAL, "BPF_F_RDONLY_PROG and BPF_F_WRONLY_PROG together");

        void Mask(MapFlags allowed)
        {
            var bad = a.Flags & ~allowed;
            if (bad != 0) throw Fail(Errno.EINVAL, $"flags 0x{(uint)bad:x} not valid for this map type");
        }

        uint effective = a.MaxEntries;
        switch (a.Type)
        {
            case MapType.Array:
            case MapType.PercpuArray:
                CheckArray(a, Fail, Mask);
                break;
            case MapType.ProgArray:
            case MapType.PerfEventArray:
            case MapType.ArrayOfMaps:
                if (a.ValueSize != 4) throw Fail(Errno.EINVAL, "value_size must be 4 (an fd) for fd arrays");
                if ((a.Flags & (MapFlags.RdonlyProg | MapFlags.WronlyProg)) != 0) throw Fail(Errno.EINVAL, "BPF_F_RDONLY_PROG/WRONLY_PROG not allowed on fd arrays");
                CheckArray(a, Fail, Mask);
                if ((a.Flags & MapFlags.Mmapable) != 0) throw Fail(Errno.EINVAL, "BPF_F_MMAPABLE not allowed on fd arrays");
                if (a.Type == MapType.ArrayOfMaps) CheckInner(a, Fail);
                break;
            case MapType.Hash:
            case MapType.PercpuHash:
            case MapType.LruHash:
            case MapType.LruPercpuHash:
            case MapType.HashOfMaps:
                if (a.Type == MapType.HashOfMaps && a.ValueSize != 4) throw Fail(Errno.EINVAL, "value_size must be 4 (an fd) for hash_of_maps");
                effective = CheckHash(a, Fail, Mask);
                if (a.Type == MapType.HashOfMaps) CheckInner(a, Fail);
                break;
            case MapType.Queue:
            case MapType.Stack:
                Mask(QueueMask);
                if (a.MaxEntries == 0 || a.KeySize != 0 || a.ValueSize == 0)
                    throw Fail(Errno.EINVAL, "queue/stack need key_size 0, value_size > 0 and max_entries > 0");
                if (((ulong)a.MaxEntries + 1) * a.ValueSize >= uint.MaxValue - PageSize) throw Fail(Errno.E2BIG, "queue/stack too large");
                break;
            case MapType.Ringbuf:
                Mask(RingbufMask);
                if (a.KeySize != 0 || a.ValueSize != 0) throw Fail(Errno.EINVAL, "ringbuf needs key_size 0 and value_size 0");
                if (a.MaxEntries == 0 || (a.MaxEntries & (a.MaxEntries - 1)) != 0 || a.MaxEntries % PageSize != 0)
                    throw Fail(Errno.EINVAL, $"ringbuf size {a.MaxEntries} must be a power of 2 and a multiple of {PageSize}");
                if (a.MaxEntries > (1u << 30)) throw Fail(Errno.E2BIG, "ringbuf larger than 1 GiB");
                break;
            case MapType.LpmTrie:
                Mask(LpmMask);
                if ((a.Flags & MapFlags.NoPrealloc) == 0) throw Fail(Errno.EINVAL, "lpm_trie requires BPF_F_NO_PREALLOC");
                if (a.MaxEntries == 0) throw Fail(Errno.EINVAL, "max_entries 0");
                if (a.KeySize < 5 || a.KeySize > 4 + 256) throw Fail(Errno.EINVAL, $"lpm key_size {a.KeySize} outside [5, 260]");
                if (a.ValueSize == 0 || a.ValueSize > KmallocMaxSize - MaxBpfStack - 64) throw Fail(Errno.EINVAL, $"lpm value_size {a.ValueSize} invalid");
                break;
            case MapType.BloomFilter:
                Mask(BloomMask);
                if (a.KeySize != 0 || a.ValueSize == 0 || a.MaxEntries == 0 || (a.MapExtra & ~0xFul) != 0)
                    throw Fail(Errno.EINVAL, "bloom filter needs key_size 0, value_size > 0, max_entries > 0 and map_extra ≤ 15");
                break;
            case MapType.Devmap:
            case MapType.DevmapHash:
                // dev_map_alloc_check: value is bpf_devmap_val up to ifindex (4) or bpf_prog.fd (8).
                Mask(MapFlags.NumaNode | MapFlags.Rdonly | MapFlags.Wronly);
                if (a.MaxEntries == 0 || a.KeySize != 4 || a.ValueSize is not (4 or 8))
                    throw Fail(Errno.EINVAL, "devmap needs key_size 4, value_size 4 or 8 (struct bpf_devmap_val) and max_entries > 0");
                if (a.Type == MapType.DevmapHash && DevMap.BucketCount(a.MaxEntries) > 1u << 26)
                    throw Fail(Errno.ENOMEM, $"max_entries {a.MaxEntries}: bucket array too large");
                break;
            case MapType.Cpumap:
                // cpu_map_alloc: value is bpf_cpumap_val up to qsize (4) or bpf_prog.fd (8); at most NR_CPUS entries.
                Mask(MapFlags.NumaNode);
                if (a.MaxEntries == 0 || a.KeySize != 4 || a.ValueSize is not (4 or 8))
                    throw Fail(Errno.EINVAL, "cpumap needs key_size 4, value_size 4 or 8 (struct bpf_cpumap_val) and max_entries > 0");
                if (a.MaxEntries > CpuMap.NrCpus) throw Fail(Errno.E2BIG, $"max_entries {a.MaxEntries} > NR_CPUS ({CpuMap.NrCpus})");
                break;
            case MapType.Xskmap:
                Mask(MapFlags.NumaNode | MapFlags.Rdonly | MapFlags.Wronly);
                if (a.MaxEntries == 0 || a.KeySize != 4 || a.ValueSize != 4)
                    throw Fail(Errno.EINVAL, "xskmap needs key_size 4, value_size 4 and max_entries > 0");
                break;
            default:
                throw Fail(Errno.EINVAL, "map type not supported by the managed runtime");
        }

        if (a.SpinLockOffset >= 0)
        {
            if (a.Type is not (MapType.Hash or MapType.Array))
                throw Fail(Errno.EOPNOTSUPP, "bpf_spin_lock is only supported in hash and array map values here");
            if (a.SpinLockOffset % 4 != 0 || (uint)a.SpinLockOffset + 4 > a.ValueSize)
                throw Fail(Errno.EINVAL, $"bpf_spin_lock offset {a.SpinLockOffset} misaligned or outside the value");
        }
        return effective;
    }

    private static void CheckArray(MapDefinition a, Func<Errno, string, BpfException> fail, Action<MapFlags> mask)
    {
        mask(ArrayMask);
        bool percpu = a.Type == MapType.PercpuArray;
        if (a.MaxEntries == 0 || a.KeySize != 4 || a.ValueSize == 0)
            throw fail(Errno.EINVAL, "array needs key_size 4, value_size > 0 and max_entries > 0");
        if (percpu && (a.Flags & MapFlags.Mmapable) != 0) throw fail(Errno.EINVAL, "BPF_F_MMAPABLE not allowed on percpu_array");
        if (a.ValueSize > KmallocMaxSize) throw fail(Errno.E2BIG, $"value_size {a.ValueSize} larger than KMALLOC_MAX_SIZE");
        if (percpu && NativeBlock.RoundUp8((int)Math.Min(a.ValueSize, int.MaxValue - 8)) > PcpuMinUnitSize)
            throw fail(Errno.E2BIG, $"per-CPU value_size {a.ValueSize} larger than PCPU_MIN_UNIT_SIZE");
        ulong elem = (ulong)((a.ValueSize + 7) & ~7u);
        ulong total = elem * a.MaxEntries * (percpu ? (ulong)BpfCpu.PossibleCount : 1);
        if (elem * a.MaxEntries >= uint.MaxValue - PageSize) throw fail(Errno.ENOMEM, "array too large");
        if (total > (1ul << 34)) throw fail(Errno.ENOMEM, "array too large");
    }

    private static uint CheckHash(MapDefinition a, Func<Errno, string, BpfException> fail, Action<MapFlags> mask)
    {
        mask(HashMask);
        bool lru = a.Type is MapType.LruHash or MapType.LruPercpuHash;
        bool percpu = a.Type is MapType.PercpuHash or MapType.LruPercpuHash;
        bool percpuLru = (a.Flags & MapFlags.NoCommonLru) != 0;
        if (lru && (a.Flags & MapFlags.NoPrealloc) != 0) throw fail(Errno.ENOTSUPP, "LRU maps cannot use BPF_F_NO_PREALLOC");
        if (!lru && percpuLru) throw fail(Errno.EINVAL, "BPF_F_NO_COMMON_LRU needs an LRU map");
        if (a.MaxEntries == 0 || a.KeySize == 0 || a.ValueSize == 0)
            throw fail(Errno.EINVAL, "hash needs key_size, value_size and max_entries > 0");
        if (a.KeySize > MaxBpfStack) throw fail(Errno.E2BIG, $"key_size {a.KeySize} larger than MAX_BPF_STACK");
        if (a.ValueSize >= KmallocMaxSize - MaxBpfStack - HtabElemSize) throw fail(Errno.E2BIG, $"value_size {a.ValueSize} too large");
        if (percpu && ((a.ValueSize + 7) & ~7u) > PcpuMinUnitSize) throw fail(Errno.E2BIG, $"per-CPU value_size {a.ValueSize} larger than PCPU_MIN_UNIT_SIZE");
        if (a.MaxEntries > 1u << 31) throw fail(Errno.E2BIG, "max_entries too large");
        uint effective = a.MaxEntries;
        if (lru && percpuLru)
        {
            // Each CPU's list gets the same number of elements, at least one.
            uint cpus = (uint)BpfCpu.PossibleCount;
            ulong up = ((ulong)a.MaxEntries + cpus - 1) / cpus * cpus;
            effective = up > uint.MaxValue ? a.MaxEntries / cpus * cpus : (uint)up;
        }
        // The bucket array is allocated at creation (as the kernel's): cap it at 2^26 buckets (512 MiB).
        if (effective > 1u << 26) throw fail(Errno.ENOMEM, $"max_entries {a.MaxEntries}: bucket array too large");
        return effective;
    }

    private static void CheckInner(MapDefinition a, Func<Errno, string, BpfException> fail)
    {
        var inner = a.InnerTemplate ?? throw fail(Errno.EBADF, "map-in-map needs an inner map template (inner_map_fd)");
        if (inner.IsFreed) throw fail(Errno.EBADF, "inner map template has been freed");
        if (inner.Type is MapType.ArrayOfMaps or MapType.HashOfMaps) throw fail(Errno.EINVAL, "inner map cannot itself be a map-in-map");
        if (inner.Type == MapType.ProgArray) throw fail(Errno.ENOTSUPP, "prog_array cannot be an inner map");
    }
}
