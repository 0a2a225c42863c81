using Ebpf.Collections;
using Ebpf.Abi;

namespace Ebpf.Runtime.Objects;

/// <summary>
/// The type-independent BPF_MAP_CREATE checks (map_create / bpf_map_attr_check). Per-type rules
/// (key size 4 for arrays, ring sizes …) belong to each map implementation's alloc_check.
/// </summary>
internal static class MapDefinitionChecks
{
    public static void Validate(MapDefinition d)
    {
        if (!Enum.IsDefined(d.Type) || d.Type == MapType.Unspec)
            throw new BpfException(Errno.EINVAL, $"map '{d.Name}': unknown map type {(uint)d.Type}");
        if ((d.Flags & MapFlags.Rdonly) != 0 && (d.Flags & MapFlags.Wronly) != 0)
            throw new BpfException(Errno.EINVAL, $"map '{d.Name}': BPF_F_RDONLY and BPF_F_WRONLY together");
        if ((d.Flags & MapFlags.RdonlyProg) != 0 && (d.Flags & MapFlags.WronlyProg) != 0)
            throw new BpfException(Errno.EINVAL, $"map '{d.Name}': BPF_F_RDONLY_PROG and BPF_F_WRONLY_PROG together");
        bool keyless = d.Type is MapType.Queue or MapType.Stack or MapType.Ringbuf or MapType.UserRingbuf or MapType.BloomFilter or MapType.Arena;
        bool valueless = d.Type is MapType.Ringbuf or MapType.UserRingbuf;
        if (!keyless && d.KeySize == 0)
            throw new BpfException(Errno.EINVAL, $"map '{d.Name}': key_size 0 is not allowed for {d.Type}");
        if (keyless && d.KeySize != 0)
            throw new BpfException(Errno.EINVAL, $"map '{d.Name}': {d.Type} requires key_size 0 (got {d.KeySize})");
        if (!valueless && d.ValueSize == 0 && d.Type is not (MapType.Arena))
            throw new BpfException(Errno.EINVAL, $"map '{d.Name}': value_size 0 is not allowed for {d.Type}");
        if (d.Type is MapType.SkStorage or MapType.InodeStorage or MapType.TaskStorage or MapType.CgrpStorage)
        {
            // bpf_local_storage_map_alloc_check: one value per owner, so no max_entries; always BTF-described.
            if (d.MaxEntries != 0 || d.KeySize != 4 || (d.Flags & MapFlags.NoPrealloc) == 0 || d.BtfKeyTypeId == 0 || d.BtfValueTypeId == 0)
                throw new BpfException(Errno.EINVAL, $"map '{d.Name}': {d.Type} needs max_entries 0, key_size 4, BPF_F_NO_PREALLOC and BTF key/value types");
        }
        else if (d.MaxEntries == 0)
            throw new BpfException(Errno.EINVAL, $"map '{d.Name}': max_entries 0");
        if (d.Type is MapType.Array or MapType.PercpuArray or MapType.ProgArray or MapType.PerfEventArray
            or MapType.CgroupArray or MapType.ArrayOfMaps or MapType.Devmap or MapType.DevmapHash or MapType.Cpumap or MapType.Xskmap
            && d.KeySize != 4)
            throw new BpfException(Errno.EINVAL, $"map '{d.Name}': {d.Type} requires key_size 4 (got {d.KeySize})");
        if (d.Type is MapType.ProgArray or MapType.PerfEventArray or MapType.CgroupArray or MapType.ArrayOfMaps or MapType.HashOfMaps
            && d.ValueSize != 4)
            throw new BpfException(Errno.EINVAL, $"map '{d.Name}': {d.Type} requires value_size 4 (got {d.ValueSize})");
        if (d.Type is MapType.Hash or MapType.LruHash or MapType.PercpuHash or MapType.LruPercpuHash && d.KeySize > 512)
            throw new BpfException(Errno.E2BIG, $"map '{d.Name}': key_size {d.KeySize} is larger than the BPF stack (512)");
        // KMALLOC_MAX_SIZE-like guard: no element bigger than the kernel would ever allocate.
        if (d.KeySize > 512 * 1024 * 1024 || d.ValueSize > 512 * 1024 * 1024)
            throw new BpfException(Errno.E2BIG, $"map '{d.Name}': key or value size too large");
    }
}
