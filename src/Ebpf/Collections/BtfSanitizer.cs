using Ebpf.Btf;
using Ebpf.Elf;
using Ebpf.Loading;

namespace Ebpf.Collections;

/// <summary>
/// Turns an object's .BTF into what BPF_BTF_LOAD accepts, the fix-ups libbpf makes before loading (for every
/// backend: the collection loader runs it once). First what libbpf does at open time: DATASEC sizes and variable
/// offsets from the ELF sections and symbols (clang writes 0s), .kconfig laid out as the extern map, extern VARs made
/// global-allocated, extern FUNCs made static, and the FUNC entries of .ksyms (not VARs, which the kernel rejects in a
/// DATASEC) replaced by a dummy int VAR appended at the end, so no existing type id moves. Then the kinds the
/// kernel profile lacks are replaced as libbpf's bpf_object__sanitize_btf does (<see cref="BtfKindSanitizer"/>).
/// </summary>
public static class BtfSanitizer
{
    /// <summary>The sanitised BTF (parsed, and the raw bytes to load), or null with a reason when a DATASEC cannot be fixed without the ELF.</summary>
    /// <param name="spec">The object.</param>
    /// <param name="elf">Its ELF, for DATASEC sizes and offsets.</param>
    /// <param name="profile">The kernel to sanitise for (null: no kind is replaced).</param>
    /// <param name="objectBtf">The object's BTF as the loader sends it (e.g. with arg:ctx clones appended); default <c>spec.Btf</c>.</param>
    public static (Btf.BtfSpec? Btf, byte[]? Raw, string? Problem) Sanitize(ObjectSpec spec, ElfFile? elf, Abi.Profiles.KernelProfile? profile = null,
        Btf.BtfSpec? objectBtf = null)
    {
        var btf = objectBtf ?? spec.Btf ?? throw new BpfException(Errno.EINVAL, $"{spec.Name}: no BTF to sanitise");
        var types = new List<BtfType>(btf.Types);
        uint firstId = btf.FirstTypeId;
        uint? dummyKsymVar = null;

        for (int i = 0; i < types.Count; i++)
        {
            switch (types[i])
            {
                case BtfVar { Linkage: BtfVarLinkage.GlobalExtern } v:
                    types[i] = new BtfVar(v.Name, v.Type, BtfVarLinkage.GlobalAllocated);
                    break;
                case BtfFunc { Linkage: BtfFuncLinkage.Extern } f:
                    types[i] = new BtfFunc(f.Name, f.ProtoType, BtfFuncLinkage.Static);
                    break;
            }
        }

        for (int i = 0; i < types.Count; i++)
        {
            if (types[i] is not BtfDatasec ds)
                continue;
            if (ds.Name == ".ksyms")
            {
                if (dummyKsymVar is null)
                {
                    types.Add(new BtfInt("int", 4, BtfIntEncoding.Signed, 0, 32));
                    uint intId = firstId + (uint)types.Count - 1;
                    types.Add(new BtfVar("dummy_ksym", intId, BtfVarLinkage.GlobalAllocated));
                    dummyKsymVar = firstId + (uint)types.Count - 1;
                }
                // Kernel variables are typed `const void` or an opaque struct in objects: give them a sized type.
                uint dummyInt = dummyKsymVar.Value - 1;
                foreach (var v in ds.Variables)
                {
                    int index = (int)(v.Type - firstId);
                    if (index >= 0 && index < types.Count && types[index] is BtfVar kv)
                        types[index] = new BtfVar(kv.Name, dummyInt, BtfVarLinkage.GlobalAllocated);
                    // A kfunc extern: clang leaves its parameters unnamed, which the kernel refuses for a FUNC
                    // ("Invalid arg#1"); libbpf names them after the dummy variable.
                    else if (index >= 0 && index < types.Count && types[index] is BtfFunc kf
                        && (int)(kf.ProtoType - firstId) is int pi && pi >= 0 && pi < types.Count && types[pi] is BtfFuncProto proto
                        && proto.Parameters.Any(p => p.Type != 0 && p.Name.Length == 0))
                        types[pi] = new BtfFuncProto(proto.ReturnType, [.. proto.Parameters.Select(p => p.Type != 0 && p.Name.Length == 0 ? p with { Name = "dummy_ksym" } : p)]);
                }
                types[i] = new BtfDatasec(ds.Name, 4, [new BtfVarSecinfo(dummyKsymVar.Value, 0, 4)]);
                continue;
            }
            if (ds.Name == ".kconfig")
            {
                var map = spec.Maps.FirstOrDefault(m => m.Origin == MapOrigin.Kconfig);
                var vars = ds.Variables.Select(v =>
                {
                    string name = btf.GetType(v.Type).Name;
                    var ext = spec.Externs.FirstOrDefault(e => e.Name == name && e.Kind == ExternKind.Kconfig);
                    return new BtfVarSecinfo(v.Type, ext?.DataOffset ?? 0, v.Size);
                }).OrderBy(v => v.Offset).ToList();
                types[i] = new BtfDatasec(ds.Name, map?.ValueSize ?? (uint)vars.Sum(v => (long)v.Size), vars);
                continue;
            }
            if (ds.Size != 0 && ds.Variables.All(v => v.Offset != 0 || ds.Variables.Count == 1))
                continue; // already laid out
            var section = elf?.FindSection(ds.Name);
            if (section is null)
            {
                // Without the ELF, a one-variable section is still exact: the variable sits at 0.
                var dataMap = spec.Maps.FirstOrDefault(m => m.IsGlobalData && m.SectionName == ds.Name);
                if (dataMap is not null && ds.Variables.Count <= 1)
                {
                    types[i] = new BtfDatasec(ds.Name, dataMap.ValueSize, ds.Variables.ToList());
                    continue;
                }
                return (null, null, $"DATASEC '{ds.Name}': needs the ELF symbols to place its {ds.Variables.Count} variables");
            }
            var offsets = elf!.Symbols
                .Where(s => s.SectionIndex == section.Index && s.Name.Length > 0 && s.Type != ElfSymbolType.Section)
                .GroupBy(s => s.Name, StringComparer.Ordinal)
                .ToDictionary(g => g.Key, g => g.First().Value, StringComparer.Ordinal);
            var placed = new List<BtfVarSecinfo>();
            foreach (var v in ds.Variables)
            {
                string name = btf.GetType(v.Type).Name;
                if (!offsets.TryGetValue(name, out ulong offset))
                    return (null, null, $"DATASEC '{ds.Name}': no ELF symbol for variable '{name}'");
                placed.Add(new BtfVarSecinfo(v.Type, (uint)offset, v.Size));
            }
            placed.Sort((a, b) => a.Offset.CompareTo(b.Offset));
            types[i] = new BtfDatasec(ds.Name, (uint)section.Size, placed);
        }

        if (profile is not null)
            BtfKindSanitizer.Sanitize(types, firstId, profile);
        byte[] raw = BtfWriter.Write(types);
        // The writer keeps only the strings types use; line_info names file and source-line strings too.
        // CO-RE access strings too: kernel-side CO-RE sends their offsets (core_relo's access_str_off).
        var lineStrings = spec.Programs.SelectMany(p => p.LineInfos).SelectMany(l => new[] { l.FileName, l.LineText })
            .Concat(spec.Programs.SelectMany(p => p.CoreRelocations).Select(r => r.AccessString));
        raw = AppendStrings(raw, lineStrings);
        return (Btf.BtfSpec.Parse(raw), raw, null);
    }

    /// <summary>Adds strings missing from a raw BTF's string section at its end (header str_len grows).</summary>
    public static byte[] AppendStrings(byte[] raw, IEnumerable<string> strings)
    {
        var parsed = Btf.BtfSpec.Parse(raw);
        var extra = new MemoryStream();
        var added = new HashSet<string>(StringComparer.Ordinal);
        foreach (var str in strings)
        {
            if (str.Length == 0 || parsed.TryFindString(str, out _) || !added.Add(str))
                continue;
            extra.Write(System.Text.Encoding.UTF8.GetBytes(str));
            extra.WriteByte(0);
        }
        if (extra.Length == 0)
            return raw;
        var result = new byte[raw.Length + extra.Length];
        raw.CopyTo(result, 0);
        extra.ToArray().CopyTo(result, raw.Length);
        // The writer puts the string section last, so growing str_len is enough.
        uint strLen = System.Buffers.Binary.BinaryPrimitives.ReadUInt32LittleEndian(result.AsSpan(20));
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(result.AsSpan(20), strLen + (uint)extra.Length);
        return result;
    }
}
