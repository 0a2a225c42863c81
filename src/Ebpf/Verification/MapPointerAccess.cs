using Ebpf.Abi;
using Ebpf.Btf;

namespace Ebpf.Verification;

/// <summary>
/// Loads and stores through a map pointer (CONST_PTR_TO_MAP: an ld_imm64 of a map, or an inner map from a map-in-map
/// lookup): the kernel's check_ptr_to_map_access. The map is a kernel object whose struct (<c>bpf_array</c>,
/// <c>bpf_htab</c> …) vmlinux BTF describes; privileged programs may read its fields as through a typed kernel pointer.
/// Such a read is a BPF_PROBE_MEM load here: the runtime does not lay the kernel's struct out, so it reads 0, as a
/// probe load of memory the runtime does not own does (the program is then not fully modelled).
/// </summary>
internal sealed class MapPointerAccess(VerifierContext walk) : VerifierComponent(walk)
{
    /// <summary>check_ptr_to_map_access for register <paramref name="regno"/> at <paramref name="off"/> (insn off + reg off).</summary>
    public RegisterState Access(int regno, in RegisterState reg, int off, int size, bool write)
    {
        var map = reg.Map!;
        var kernel = Input.Profile.KernelBtf
            ?? throw Fail("map_ptr access not supported without CONFIG_DEBUG_INFO_BTF", Errno.ENOTSUPP);
        string tname = KernelStructOf(map.Type)
            ?? throw Fail($"map_ptr access not supported for map type {(int)map.Type}", Errno.ENOTSUPP);
        if (!Privileged)
            throw Fail($"'struct {tname}' access is allowed only to CAP_PERFMON and CAP_SYS_ADMIN", Errno.EPERM);
        if (off < 0)
            throw Fail($"R{regno} is {tname} invalid negative access: off={off}");
        if (write)
            throw Fail($"only read from {tname} is supported");
        // A kernel BTF without the map's struct is the kernel's case of a map type without a BTF id.
        if (!kernel.TryFindByName(tname, BtfKind.Struct, out var type) || type is not BtfComposite composite)
            throw Fail($"map_ptr access not supported for map type {(int)map.Type}", Errno.ENOTSUPP);
        string? pointee = new Attach.BtfPointerLoads(Walk).WalkStruct(kernel, composite, off, size);
        Walk.ProbeLoads.Add(InsnIdx);
        ReadsKernelPointers = true;
        return pointee is null ? RegisterState.UnknownOfSize(size) : Attach.BtfPointerLoads.TypedPointer(pointee, PointerTrust.None);
    }

    /// <summary>The kernel struct behind a map of <paramref name="type"/>: its ops' map_btf_id (null: none).</summary>
    internal static string? KernelStructOf(MapType type) => type switch
    {
        MapType.Array or MapType.PercpuArray or MapType.ProgArray or MapType.PerfEventArray or MapType.CgroupArray
            or MapType.ArrayOfMaps => "bpf_array",
        MapType.Hash or MapType.PercpuHash or MapType.LruHash or MapType.LruPercpuHash or MapType.HashOfMaps => "bpf_htab",
        MapType.StackTrace => "bpf_stack_map",
        MapType.LpmTrie => "lpm_trie",
        MapType.Devmap or MapType.DevmapHash => "bpf_dtab",
        MapType.Sockmap => "bpf_stab",
        MapType.Sockhash => "bpf_shtab",
        MapType.Cpumap => "bpf_cpu_map",
        MapType.Xskmap => "xsk_map",
        MapType.CgroupStorage or MapType.PercpuCgroupStorage => "bpf_cgroup_storage_map",
        MapType.ReuseportSockarray => "reuseport_array",
        MapType.Queue or MapType.Stack => "bpf_queue_stack",
        MapType.SkStorage or MapType.InodeStorage or MapType.TaskStorage or MapType.CgrpStorage => "bpf_local_storage_map",
        MapType.StructOps => "bpf_struct_ops_map",
        MapType.Ringbuf or MapType.UserRingbuf => "bpf_ringbuf_map",
        MapType.BloomFilter => "bpf_bloom_filter",
        MapType.Arena => "bpf_arena",
        _ => null,
    };
}
