using System.Buffers.Binary;
using Ebpf.Abi;
using Ebpf.Elf;

namespace Ebpf.Loading;

/// <summary>
/// Maps defined in a "maps" section (or "maps/NAME" sections) as structs: one symbol per definition, all of the
/// same size, which is the section size divided by the symbol count (libbpf 0.x's rule). Layouts by size:
/// 20 bytes libbpf's bpf_map_def (type, key_size, value_size, max_entries, map_flags); 28 bytes either the kernel
/// samples' layout (+ inner_map_idx, numa_node) or old iproute2's bpf_elf_map (+ id, pinning) — told apart by
/// whether the object was written for the tc loader; 36 bytes and more iproute2/cilium's bpf_elf_map
/// (+ id, pinning, inner_id, inner_idx).
/// </summary>
internal static class LegacyMapReader
{
    private const int MinimumDefinitionSize = 4;

    public static List<(MapSpec Map, int SectionIndex, ulong Offset)> Read(ElfFile elf, ElfSection section, bool iproute2Object)
    {
        var result = new List<(MapSpec, int, ulong)>();
        var symbols = elf.Symbols
            .Where(s => s.SectionIndex == section.Index && s.Type != ElfSymbolType.Section && s.Name.Length > 0)
            .OrderBy(s => s.Value).ThenBy(s => s.Index)
            .ToList();
        if (symbols.Count == 0)
            return result;
        ulong size = section.Size;
        if (size % (ulong)symbols.Count != 0)
            throw new BpfException(Errno.EINVAL,
                $"{elf.Source}: section '{section.Name}': {size} bytes do not divide into {symbols.Count} map definitions");
        int defSize = (int)(size / (ulong)symbols.Count);
        if (defSize < MinimumDefinitionSize)
            throw new BpfException(Errno.EINVAL,
                $"{elf.Source}: section '{section.Name}': map definitions of {defSize} bytes are too small");

        var data = section.Data.Span;
        foreach (var sym in symbols)
        {
            if (sym.Value > size || size - sym.Value < (ulong)defSize)
                throw new BpfException(Errno.EINVAL,
                    $"{elf.Source}: section '{section.Name}': map '{sym.Name}' at offset {sym.Value} runs past the section end");
            var def = data.Slice((int)sym.Value, defSize).ToArray();
            uint Field(int i) => def.Length >= (i + 1) * 4 ? BinaryPrimitives.ReadUInt32LittleEndian(def.AsSpan(i * 4)) : 0;

            var map = new MapSpec
            {
                Name = sym.Name,
                Type = (MapType)Field(0),
                KeySize = Field(1),
                ValueSize = Field(2),
                MaxEntries = Field(3),
                Flags = (MapFlags)Field(4),
                SectionName = section.Name,
                Origin = MapOrigin.Legacy,
            };
            if (defSize >= 36 || (defSize >= 28 && iproute2Object))
            {
                map.Origin = MapOrigin.Iproute2;
                map.LegacyId = Field(5);
                map.Pinning = (MapPinning)Field(6);
                map.LegacyInnerId = Field(7);
                map.LegacyInnerIndex = Field(8);
            }
            else if (defSize >= 28)
            {
                map.SamplesInnerMapIndex = Field(5);
                map.NumaNode = Field(6);
            }
            result.Add((map, section.Index, sym.Value));
        }
        return result;
    }

    /// <summary>
    /// Kernel samples' layout: inner_map_idx names the template by its position among all legacy map definitions
    /// of the object, in section order and then offset order — one "maps" section or one "maps/NAME" section per
    /// map (as bpf_load.c and PREVAIL number them).
    /// </summary>
    public static void LinkSamplesInnerMaps(IReadOnlyList<MapSpec> legacyMaps)
    {
        foreach (var outer in legacyMaps)
        {
            if (outer.Origin != MapOrigin.Legacy || !IsMapInMap(outer.Type) || outer.InnerMap is not null)
                continue;
            uint index = outer.SamplesInnerMapIndex;
            if (index < legacyMaps.Count && legacyMaps[(int)index] != outer)
                outer.InnerMap = legacyMaps[(int)index].Clone();
        }
    }

    /// <summary>iproute2: an outer map names its template by id; a map with that id goes into the outer map at its inner_idx.</summary>
    public static void LinkIproute2InnerMaps(IReadOnlyList<MapSpec> maps)
    {
        foreach (var outer in maps)
        {
            if (outer.Origin != MapOrigin.Iproute2 || !IsMapInMap(outer.Type) || outer.LegacyInnerId == 0)
                continue;
            foreach (var inner in maps)
            {
                if (inner == outer || inner.Origin != MapOrigin.Iproute2 || inner.LegacyId != outer.LegacyInnerId)
                    continue;
                outer.InnerMap ??= inner.Clone();
                outer.InitialSlots.Add(new MapInitialSlot(inner.LegacyInnerIndex, inner.Name));
            }
        }
    }

    public static bool IsMapInMap(MapType type) => type is MapType.ArrayOfMaps or MapType.HashOfMaps;
}
