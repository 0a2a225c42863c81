using Ebpf.Abi;

namespace Ebpf.Collections;

/// <summary>
/// What BPF_MAP_CREATE receives, on every backend (and what the managed map implementations are built from).
/// Plain data: each backend validates it as the kernel does.
/// </summary>
public sealed partial record MapDefinition(
    MapType Type,
    uint KeySize,
    uint ValueSize,
    uint MaxEntries,
    MapFlags Flags = MapFlags.None,
    string Name = "",
    uint InnerMapId = 0,
    uint BtfKeyTypeId = 0,
    uint BtfValueTypeId = 0,
    ulong MapExtra = 0)
{
    /// <summary>An empty definition, for object-initializer use.</summary>
    public MapDefinition() : this(MapType.Unspec, 0, 0, 0) { }

    /// <summary>
    /// The template of an array/hash of maps (the kernel's inner_map_fd). <see cref="InnerMapId"/> names it by id
    /// instead, as the managed runtime's ids stand in for fds.
    /// </summary>
    public BpfMap? InnerMap { get; init; }

    /// <summary>numa_node; only used with <see cref="MapFlags.NumaNode"/>.</summary>
    public uint NumaNode { get; init; }

    /// <summary>map_ifindex (offloaded maps); 0 otherwise.</summary>
    public uint Ifindex { get; init; }

    /// <summary>btf_vmlinux_value_type_id (struct_ops).</summary>
    public uint BtfVmlinuxValueTypeId { get; init; }

    /// <summary>Offset of the value's <c>struct bpf_spin_lock</c>, or -1. Found in the value's BTF type at creation
    /// (the kernel's btf_parse_fields); not settable by callers, like the kernel's map record.</summary>
    public int SpinLockOffset { get; internal init; } = -1;

    /// <summary>Offset of the value's <c>struct bpf_timer</c>, or -1 (from BTF, as <see cref="SpinLockOffset"/>).</summary>
    public int TimerOffset { get; internal init; } = -1;
}
