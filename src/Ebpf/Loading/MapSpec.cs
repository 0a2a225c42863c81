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
    public required string Name { get; set; }
    public MapType Type { get; set; }
    public uint KeySize { get; set; }
    public uint ValueSize { get; set; }
    public uint MaxEntries { get; set; }
    public MapFlags Flags { get; set; }
    public uint NumaNode { get; set; }
    /// <summary>libbpf's pinning (ByName); iproute2's PIN_GLOBAL_NS keeps its raw value 2.</summary>
    public MapPinning Pinning { get; set; }
    public ulong MapExtra { get; set; }
    /// <summary>BTF type ids of key and value in the object's BTF (0 when the map has none).</summary>
    public uint KeyTypeId { get; set; }
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
    public MapOrigin Origin { get; set; }
    /// <summary>The ELF section that defined it (".maps", "maps", ".data", …).</summary>
    public string SectionName { get; set; } = "";
    /// <summary>iproute2 layout only: the map's id, the inner map's id, and this map's slot in its outer map.</summary>
    public uint LegacyId { get; set; }
    public uint LegacyInnerId { get; set; }
    public uint LegacyInnerIndex { get; set; }
    /// <summary>Kernel samples' 28-byte layout only: inner_map_idx, the template's position among the object's legacy maps.</summary>
    public uint SamplesInnerMapIndex { get; set; }

    public bool IsGlobalData => Origin is MapOrigin.GlobalData or MapOrigin.Kconfig;

    public MapSpec Clone()
    {
        var copy = (MapSpec)MemberwiseClone();
        copy.InnerMap = InnerMap?.Clone();
        copy.InitialValue = (byte[]?)InitialValue?.Clone();
        copy.InitialSlots = [.. InitialSlots];
        return copy;
    }

    public override string ToString() => $"{Name} ({Type} key={KeySize} value={ValueSize} max={MaxEntries})";
}

/// <summary>An initial entry of a prog array or map-in-map: slot index and the program or map put there.</summary>
public sealed record MapInitialSlot(uint Index, string Name);
