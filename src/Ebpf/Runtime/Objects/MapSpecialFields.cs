using Ebpf.Collections;
namespace Ebpf.Runtime.Objects;

/// <summary>
/// The special fields of a map value that BTF describes (btf_parse_fields): where its <c>struct bpf_spin_lock</c>
/// and <c>struct bpf_timer</c> sit. BPF_F_LOCK updates, bpf_spin_lock and the timer helpers depend on them, and
/// the verifier checks that a program's lock or timer pointer points exactly there.
/// </summary>
internal static class MapSpecialFields
{
    public static MapDefinition FromBtf(MapDefinition definition, Btf.BtfSpec btf)
    {
        if (!btf.TryGetType(definition.BtfValueTypeId, out _))
            throw new BpfException(Errno.EINVAL, $"map '{definition.Name}': btf_value_type_id {definition.BtfValueTypeId} is not in the map's BTF");
        // map_check_btf: the value type must have exactly the map's value size. Global-data maps are described
        // by a DATASEC, whose size the object's BTF leaves 0 (libbpf fills it in at load; the runtime's loader
        // hands the BTF over as the ELF has it), so those are not compared.
        uint size = btf.GetType(definition.BtfValueTypeId) is Btf.BtfDatasec ? definition.ValueSize : btf.SizeOf(definition.BtfValueTypeId);
        if (size != definition.ValueSize)
            throw new BpfException(Errno.EINVAL, $"map '{definition.Name}': BTF value type {definition.BtfValueTypeId} is {size} bytes, value_size is {definition.ValueSize}");
        return definition with
        {
            SpinLockOffset = btf.OffsetOfStructMember(definition.BtfValueTypeId, "bpf_spin_lock"),
            TimerOffset = btf.OffsetOfStructMember(definition.BtfValueTypeId, "bpf_timer"),
        };
    }
}
