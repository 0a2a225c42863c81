using System.Runtime.CompilerServices;
using Ebpf.Abi;
using Ebpf.Loading;

namespace Ebpf.Collections;

/// <summary>
/// A backend that can register struct_ops maps with its kernel (the Linux backend). The managed runtime has no
/// kernel struct_ops types, so it is not one, and refuses struct_ops maps at creation.
/// </summary>
internal interface IStructOpsBackend
{
    /// <summary>
    /// Writes <paramref name="image"/> (the kernel's bpf_struct_ops_NAME value, data members filled) with each slot's
    /// program fd into <paramref name="map"/> — which registers the struct_ops for a plain map — and for a BPF_F_LINK
    /// map creates its BPF_LINK_CREATE link. Disposing the result unregisters it (link detach, or element delete).
    /// </summary>
    IDisposable Register(BpfMap map, byte[] image, IReadOnlyList<(int Offset, BpfProgram Program)> slots, bool link);
}

/// <summary>
/// The collection loader's struct_ops work (libbpf's bpf_object__init_kern_struct_ops_maps, bpf_map__attach_struct_ops):
/// the map is created with the kernel wrapper's size and btf_vmlinux_value_type_id, its programs load with
/// attach_btf_id and the member index, and the bound value waits beside the map until it is attached.
/// </summary>
internal static class StructOpsMaps
{
    private sealed record Pending(StructOpsBinding Binding, IReadOnlyList<(int Offset, BpfProgram Program)> Slots, bool Link);

    private static readonly ConditionalWeakTable<BpfMap, Pending> Bound = new();

    /// <summary>BPF_MAP_CREATE of a struct_ops map bound to the backend's kernel BTF. The kernel wants the object's BTF
    /// fd too (map_create takes it whenever btf_vmlinux_value_type_id is set), with no key/value type ids.</summary>
    public static BpfMap Create(IBpfBackend backend, MapSpec ms, StructOpsBinding binding, BtfHandle? objectBtf)
    {
        if (backend is not IStructOpsBackend)
            throw new BpfException(Errno.EOPNOTSUPP,
                $"map '{ms.Name}': struct_ops maps are not supported by the {backend.Name} backend: it has no kernel struct_ops "
                + $"type ({binding.KernelTypeName}) to register programs with");
        if (objectBtf is null)
            throw new BpfException(Errno.EINVAL, $"map '{ms.Name}': a struct_ops map needs the object's BTF loaded into the kernel");
        return backend.CreateMap(new MapDefinition(MapType.StructOps, 4, binding.ValueSize, 1, ms.Flags, ObjectNames.Sanitize(ms.Name))
        {
            BtfVmlinuxValueTypeId = binding.ValueTypeId,
        }, objectBtf);
    }

    /// <summary>Keeps the value to write at attach, once the programs are loaded (a slot whose program was not loaded stays empty).</summary>
    public static void Remember(BpfMap map, MapSpec ms, StructOpsBinding binding, IReadOnlyDictionary<string, BpfProgram> programs)
    {
        var slots = binding.Slots.Where(s => programs.ContainsKey(s.Program)).Select(s => (s.ValueOffset, programs[s.Program])).ToList();
        Bound.AddOrUpdate(map, new Pending(binding, slots, (ms.Flags & MapFlags.Link) != 0));
    }

    /// <summary>bpf_map__attach_struct_ops.</summary>
    public static IDisposable Attach(BpfMap map)
    {
        ArgumentNullException.ThrowIfNull(map);
        if (!Bound.TryGetValue(map, out var pending))
            throw new BpfException(Errno.EINVAL, $"map {map.Name}: not a struct_ops map of a loaded collection");
        if (map.Backend is not IStructOpsBackend backend)
            throw new BpfException(Errno.EOPNOTSUPP, $"map {map.Name}: the {map.Backend.Name} backend cannot register struct_ops");
        return backend.Register(map, (byte[])pending.Binding.Image.Clone(), pending.Slots, pending.Link);
    }
}

/// <summary>struct_ops maps of a loaded collection (<c>SEC(".struct_ops")</c> / <c>SEC(".struct_ops.link")</c> variables).</summary>
public static class StructOpsExtensions
{
    /// <summary>
    /// Registers the struct_ops map with the kernel as libbpf's bpf_map__attach_struct_ops does: the value (data
    /// members and program fds) is written into the map, and a <c>.struct_ops.link</c> map is attached through
    /// BPF_LINK_CREATE. Disposing the result unregisters it. The managed runtime refuses struct_ops maps at load.
    /// </summary>
    /// <param name="map">A struct_ops map of a collection loaded by the Linux backend.</param>
    /// <returns>The registration; dispose it to unregister.</returns>
    public static IDisposable AttachStructOps(this BpfMap map) => StructOpsMaps.Attach(map);
}
