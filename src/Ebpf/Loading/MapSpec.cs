using Ebpf.Abi;

namespace Ebpf.Loading;

/// <summary>Where a map definition came from.</summary>
public enum MapOrigin
{
    /// <summary>BTF-defined, in the ".maps" section.</summary>
    Btf,
    /// <summary>Legacy struct bpf_map_def in the "maps" section (libbpf/samples layout).</summary>
    Legacy,
    /// <summary>iproute2/cilium struct bpf_elf_map in the "maps" section.</summary>
    Iproute2,
    /// <summary>A global-data section (.data, .rodata, .bss and their .suffix variants).</summary>
    GlobalData,
    /// <summary>The .kconfig extern map.</summary>
    Kconfig,
    /// <summary>An inner-map template (the prototype of a map-in-map's values).</summary>
    InnerTemplate,
}

/// <summary>
/// A map the object asks for, as plain editable data (like cilium/ebpf's MapSpec). Global-data maps carry their
/// initial bytes; prog arrays and map-in-maps may carry initial slots naming programs or maps.
/// </summary>
public sealed class MapSpec
{
    /// <summary>The map's name (the kernel keeps the first 15 characters).</summary>
    public required string Name { get; set; }
    /// <summary>map_type.</summary>
    public MapType Type { get; set; }
    /// <summary>key_size in bytes.</summary>
    public uint KeySize { get; set; }
    /// <summary>value_size in bytes.</summary>
    public uint ValueSize { get; set; }
    /// <summary>
    /// max_entries (for a ring buffer, its size in bytes; 0 for a perf event array means "possible CPUs").
    /// </summary>
    public uint MaxEntries { get; set; }
    /// <summary>map_flags.</summary>
    public MapFlags Flags { get; set; }
    /// <summary>numa_node (used with <see cref="MapFlags.NumaNode"/>).</summary>
    public uint NumaNode { get; set; }
    /// <summary>libbpf's pinning (ByName); iproute2's PIN_GLOBAL_NS keeps its raw value 2.</summary>
    public MapPinning Pinning { get; set; }
    /// <summary>map_extra (bloom filter hash count, arena address hint).</summary>
    public ulong MapExtra { get; set; }
    /// <summary>BTF type ids of key and value in the object's BTF (0 when the map has none).</summary>
    public uint KeyTypeId { get; set; }
    /// <summary>BTF type id of the value in the object's BTF (0 when the map has none).</summary>
    public uint ValueTypeId { get; set; }
    /// <summary>BTF id of the map's own definition (the VAR's struct for .maps, the DATASEC for data maps), 0 if none.</summary>
    public uint BtfTypeId { get; set; }
    /// <summary>The template of the maps stored in a map-in-map.</summary>
    public MapSpec? InnerMap { get; set; }
    /// <summary>Initial bytes of a global-data map (length <see cref="ValueSize"/>; zeroes for .bss).</summary>
    public byte[]? InitialValue { get; set; }
    /// <summary>Initial slots of a prog array (program names) or map-in-map (map names) from <c>values = {…}</c>.</summary>
    public List<MapInitialSlot> InitialSlots { get; set; } = [];
    /// <summary>Freeze after initialisation (.rodata, .kconfig): the program sees read-only data.</summary>
    public bool Freeze { get; set; }
    /// <summary>Where the definition came from (.maps, legacy maps, global data, ...).</summary>
    public MapOrigin Origin { get; set; }
    /// <summary>The ELF section that defined it (".maps", "maps", ".data", …).</summary>
    public string SectionName { get; set; } = "";
    /// <summary>iproute2 layout only: the map's id (what an outer map's inner id names).</summary>
    public uint LegacyId { get; set; }
    /// <summary>iproute2 layout only: the id of this map's inner-map template.</summary>
    public uint LegacyInnerId { get; set; }
    /// <summary>iproute2 layout only: this map's slot in its outer map.</summary>
    public uint LegacyInnerIndex { get; set; }
    /// <summary>Kernel samples' 28-byte layout only: inner_map_idx, the template's position among the object's legacy maps.</summary>
    public uint SamplesInnerMapIndex { get; set; }

    /// <summary>A struct_ops variable's local type and program slots (libbpf's st_ops); null for other maps.</summary>
    internal StructOpsSpec? StructOps { get; set; }

    /// <summary>Whether this is a global-data map (.data, .rodata, .bss, .kconfig).</summary>
    public bool IsGlobalData => Origin is MapOrigin.GlobalData or MapOrigin.Kconfig;

    /// <summary>
    /// A deep copy (inner template, initial value and slots included), to edit without touching this spec.
    /// </summary>
    public MapSpec Clone()
    {
        var copy = (MapSpec)MemberwiseClone();
        copy.InnerMap = InnerMap?.Clone();
        copy.InitialValue = (byte[]?)InitialValue?.Clone();
        copy.InitialSlots = [.. InitialSlots];
        return copy;
    }

    /// <summary>Name, type and sizes, for diagnostics.</summary>
    public override string ToString() => $"{Name} ({Type} key={KeySize} value={ValueSize} max={MaxEntries})";
}

/// <summary>An initial entry of a prog array or map-in-map: slot index and the program or map put there.</summary>
public sealed record MapInitialSlot(uint Index, string Name);
