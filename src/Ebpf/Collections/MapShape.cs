using Ebpf.Abi;
using Ebpf.Loading;

namespace Ebpf.Collections;

/// <summary>
/// The key size, value size and max_entries a map definition becomes at BPF_MAP_CREATE, after the adjustments
/// loaders make to what compilers and old headers write. Read from the MapSpec at load time, so a caller that
/// edits the spec (e.g. sets MaxEntries, as falco does for its scratch maps) gets what it set.
/// </summary>
public readonly record struct MapShape(uint KeySize, uint ValueSize, uint MaxEntries)
{
    /// <summary>
    /// Adjusts a definition as the loaders do:
    /// <list type="bullet">
    /// <item>ring buffers (ringbuf, user_ringbuf): no key or value (the kernel refuses any; cilium/ebpf clears
    /// a declared value type's size), and max_entries rounded up to a power-of-two multiple of the page size
    /// (libbpf's adjust_ringbuf_sz; 0 stays 0 so the caller sees the error);</item>
    /// <item>perf event arrays: 4-byte key and value (the kernel accepts nothing else; cilium/ebpf normalises),
    /// and max_entries 0 becomes the number of possible CPUs (libbpf, cilium/ebpf);</item>
    /// <item>array/hash of maps: the value is an inner map fd, 4 bytes, whatever the definition says
    /// (samples' bpf_load.c and libbpf's BTF `values` both pass 4).</item>
    /// </list>
    /// Then a max_entries of 0 on a type that needs entries is refused here, with the map's name, instead of
    /// by the kernel's bare EINVAL.
    /// </summary>
    public static MapShape For(MapSpec spec, int possibleCpus, int pageSize)
    {
        ArgumentNullException.ThrowIfNull(spec);
        uint key = spec.KeySize, value = spec.ValueSize, max = spec.MaxEntries;
        switch (spec.Type)
        {
            case MapType.Ringbuf:
            case MapType.UserRingbuf:
                key = 0;
                value = 0;
                max = RingBufferSize(max, (uint)pageSize);
                break;
            case MapType.PerfEventArray:
                key = 4;
                value = 4;
                if (max == 0)
                    max = (uint)possibleCpus;
                break;
            case MapType.ArrayOfMaps:
            case MapType.HashOfMaps:
                value = 4;
                break;
        }
        if (max == 0 && NeedsEntries(spec.Type))
            throw new BpfException(Errno.EINVAL,
                $"map '{spec.Name}' ({spec.Type}): max_entries is 0; the object leaves the size to its loader: set MapSpec.MaxEntries before loading");
        return new MapShape(key, value, max);
    }

    /// <summary>
    /// Whether the map's BTF key/value type ids go to the kernel. libbpf leaves them out for the fd-valued and
    /// keyless types (the kernel has no use for them and older kernels refuse them); ring buffers too here,
    /// as their sizes were cleared above and a declared value type would no longer match.
    /// </summary>
    public static bool TakesBtfKeyValue(MapType type) => type is not (
        MapType.PerfEventArray or MapType.CgroupArray or MapType.StackTrace or MapType.ArrayOfMaps or MapType.HashOfMaps
        or MapType.Devmap or MapType.DevmapHash or MapType.Cpumap or MapType.Xskmap or MapType.Sockmap or MapType.Sockhash
        or MapType.Queue or MapType.Stack or MapType.Arena or MapType.Ringbuf or MapType.UserRingbuf);

    /// <summary>The smallest page_size × 2^n not below the request (the request itself when it already is one).</summary>
    public static uint RingBufferSize(uint requested, uint pageSize)
    {
        if (requested == 0 || pageSize == 0)
            return requested;
        if (requested % pageSize == 0 && ulong.IsPow2(requested / pageSize))
            return requested;
        for (ulong size = pageSize; size <= uint.MaxValue; size <<= 1)
        {
            if (size > requested)
                return (uint)size;
        }
        return requested; // no such size fits in 32 bits: the kernel refuses it with its own EINVAL
    }

    /// <summary>
    /// Types whose max_entries the kernel requires to be 0 (local and cgroup storage: one value per owner) or
    /// ignores; every other type refuses 0 with EINVAL.
    /// </summary>
    private static bool NeedsEntries(MapType type) => type is not (
        MapType.CgroupStorage or MapType.PercpuCgroupStorage or MapType.SkStorage or MapType.InodeStorage
        or MapType.TaskStorage or MapType.CgrpStorage or MapType.StructOps or MapType.Unspec);
}
