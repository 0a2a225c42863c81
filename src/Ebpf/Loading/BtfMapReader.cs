using Ebpf.Abi;
using Ebpf.Btf;

namespace Ebpf.Loading;

/// <summary>
/// BTF-defined maps (libbpf's parse_btf_map_def): the ".maps" DATASEC lists one VAR per map whose type is a struct
/// of idiomatic members — <c>__uint(type, …)</c> and friends are pointers to arrays whose length is the value,
/// <c>__type(key, T)</c> a pointer to T, and <c>__array(values, …)</c> a trailing flexible array giving the inner
/// map's definition (map-in-map) or marking a prog array's initial values.
/// </summary>
internal static class BtfMapReader
{
    public static IEnumerable<(MapSpec Map, ulong Offset)> Read(Btf.BtfSpec btf, string source, List<string> warnings)
    {
        var datasec = btf.FindDatasec(".maps")
            ?? throw new BpfException(Errno.EINVAL, $"{source}: DATASEC '.maps' not found in BTF");
        foreach (var (variable, placement) in btf.GetDatasecVariables(datasec))
        {
            if (variable.Linkage is not (BtfVarLinkage.GlobalAllocated or BtfVarLinkage.Static))
                throw new BpfException(Errno.EOPNOTSUPP, $"{source}: map '{variable.Name}': unsupported map linkage {variable.Linkage}");
            var map = new MapSpec { Name = variable.Name, SectionName = ".maps", Origin = MapOrigin.Btf, BtfTypeId = variable.Type };
            Parse(btf, source, variable.Type, map, inner: false, warnings);
            yield return (map, placement.Offset);
        }
    }

    private static void Parse(Btf.BtfSpec btf, string source, uint typeId, MapSpec map, bool inner, List<string> warnings)
    {
        string what = $"{source}: map '{map.Name}'";
        if (btf.ResolveType(typeId) is not BtfStruct def)
            throw new BpfException(Errno.EINVAL, $"{what}: unexpected def kind {btf.ResolveType(typeId).Kind.ToKernelName()}");
        for (int i = 0; i < def.Members.Count; i++)
        {
            var m = def.Members[i];
            switch (m.Name)
            {
                case "type": map.Type = (MapType)Count(btf, m, what); break;
                case "max_entries": map.MaxEntries = Count(btf, m, what); break;
                case "map_flags": map.Flags = (MapFlags)Count(btf, m, what); break;
                case "numa_node": map.NumaNode = Count(btf, m, what); break;
                case "map_extra": map.MapExtra = Long(btf, m, what); break;
                case "key_size": SetSize(map, isKey: true, Count(btf, m, what), what); break;
                case "value_size": SetSize(map, isKey: false, Count(btf, m, what), what); break;
                case "key":
                case "value":
                {
                    if (!btf.TryGetPointee(m.Type, out uint target))
                        throw new BpfException(Errno.EINVAL, $"{what}: {m.Name} spec is not PTR");
                    SetSize(map, m.Name == "key", btf.SizeOf(target), what);
                    if (m.Name == "key")
                        map.KeyTypeId = target;
                    else
                        map.ValueTypeId = target;
                    break;
                }
                case "pinning":
                {
                    if (inner)
                        throw new BpfException(Errno.EINVAL, $"{what}: inner def can't be pinned");
                    // libbpf knows NONE and BY_NAME; other values (cilium's own loader uses 16, "replace") are kept for
                    // the backend to judge.
                    map.Pinning = (MapPinning)Count(btf, m, what);
                    break;
                }
                case "values":
                    ParseValues(btf, source, def, i, m, map, inner, what, warnings);
                    break;
                default:
                    // libbpf rejects unknown fields in strict mode; loaders for older objects ignore them. Keep going.
                    warnings.Add($"{what}: ignoring unknown field '{m.Name}'");
                    break;
            }
        }
        if (map.Type == MapType.Unspec)
            throw new BpfException(Errno.EINVAL, $"{what}: map type isn't specified");
    }

    private static void ParseValues(Btf.BtfSpec btf, string source, BtfStruct def, int index, BtfMember m, MapSpec map, bool inner, string what, List<string> warnings)
    {
        bool mapInMap = LegacyMapReader.IsMapInMap(map.Type);
        bool progArray = map.Type == MapType.ProgArray;
        if (!mapInMap && !progArray)
            throw new BpfException(Errno.EOPNOTSUPP, $"{what}: should be map-in-map or prog-array");
        if (index != def.Members.Count - 1)
            throw new BpfException(Errno.EINVAL, $"{what}: '{m.Name}' member should be last");
        if (btf.ResolveType(m.Type) is not BtfArray array || array.Count != 0)
            throw new BpfException(Errno.EINVAL, $"{what}: {m.Name} spec is not a zero-sized array");
        if (!btf.TryGetPointee(array.ElementType, out uint element))
            throw new BpfException(Errno.EINVAL, $"{what}: {m.Name} elem is not a pointer");
        SetSize(map, isKey: false, 4, what);
        if (progArray)
        {
            if (btf.ResolveType(element) is not BtfFuncProto)
                throw new BpfException(Errno.EINVAL, $"{what}: prog-array value def is of unexpected kind");
            return;
        }
        if (inner)
            throw new BpfException(Errno.EINVAL, $"{what}: multi-level inner maps not supported");
        var innerMap = new MapSpec { Name = map.Name + ".inner", SectionName = ".maps", Origin = MapOrigin.InnerTemplate, BtfTypeId = element };
        Parse(btf, source, element, innerMap, inner: true, warnings);
        map.InnerMap = innerMap;
    }

    private static void SetSize(MapSpec map, bool isKey, uint size, string what)
    {
        uint current = isKey ? map.KeySize : map.ValueSize;
        if (current != 0 && current != size)
            throw new BpfException(Errno.EINVAL, $"{what}: conflicting {(isKey ? "key" : "value")} size {current} != {size}");
        if (isKey)
            map.KeySize = size;
        else
            map.ValueSize = size;
    }

    /// <summary>The value of <c>__uint(name, N)</c>: a pointer to an array of N elements.</summary>
    private static uint Count(Btf.BtfSpec btf, BtfMember m, string what)
    {
        if (!btf.TryGetArrayCountBehindPointer(m.Type, out uint count))
            throw new BpfException(Errno.EINVAL, $"{what}: attr '{m.Name}': expected PTR to ARRAY");
        return count;
    }

    /// <summary><c>__ulong(name, N)</c> is an enum with one enumerator N; <c>__uint</c> also works.</summary>
    private static ulong Long(Btf.BtfSpec btf, BtfMember m, string what)
    {
        if (btf.TryGetArrayCountBehindPointer(m.Type, out uint count))
            return count;
        if (btf.ResolveType(m.Type) is BtfEnumType e && EnumValue(e) is { } v)
            return v;
        throw new BpfException(Errno.EINVAL, $"{what}: attr '{m.Name}': expected PTR to ARRAY or an enum");
    }

    private static ulong? EnumValue(BtfEnumType e) => e.Values.Count > 0 ? (ulong)e.Values[0].Value : null;

    /// <summary>Byte size of a BTF-defined map's definition struct (where its slots may be).</summary>
    public static uint DefinitionSize(Btf.BtfSpec btf, MapSpec map) =>
        map.Origin == MapOrigin.Btf && map.BtfTypeId != 0 && btf.ResolveType(map.BtfTypeId) is BtfStruct s ? s.Size : 0;

    /// <summary>Byte offset of the trailing "values" member of a BTF-defined map, or null.</summary>
    public static uint? ValuesOffset(Btf.BtfSpec btf, MapSpec map)
    {
        if (map.BtfTypeId == 0 || btf.ResolveType(map.BtfTypeId) is not BtfStruct s || s.Members.Count == 0)
            return null;
        var last = s.Members[^1];
        return last.Name == "values" ? last.BitOffset / 8 : null;
    }
}
