using Ebpf.Btf;
using Ebpf.Elf;
using Ebpf.Isa;

namespace Ebpf.Loading;

// BTF-dependent parts of the reader: .BTF/.BTF.ext, externs, and per-program func_info/line_info/CO-RE records.
internal sealed partial class ObjectReader
{
    private BpfException? _btfError;

    /// <summary>
    /// Like libbpf, a malformed .BTF or .BTF.ext is only fatal when something needs it (BTF-defined maps, externs);
    /// otherwise it is dropped with a warning.
    /// </summary>
    private void ReadBtf()
    {
        try
        {
            _spec.Btf = BtfElf.ReadBtf(_elf);
        }
        catch (BpfException e)
        {
            _btfError = e;
            _spec.Warnings.Add($"ignoring .BTF: {e.Message}");
            return;
        }
        if (_spec.Btf is null)
            return;
        try
        {
            _spec.BtfExt = BtfElf.ReadBtfExt(_elf, _spec.Btf);
        }
        catch (BpfException e)
        {
            _spec.Warnings.Add($"ignoring .BTF.ext: {e.Message}");
        }
    }

    private Btf.BtfSpec RequireBtf(string what) =>
        _spec.Btf ?? throw (_btfError?.Wrap($"{_source}: {what} needs BTF")
            ?? new BpfException(Errno.EINVAL, $"{_source}: {what} needs BTF, but the object has no .BTF section"));

    private void ReadBtfMaps()
    {
        if (_elf.FindSection(".maps") is not { } section)
            return;
        var btf = RequireBtf("BTF-defined maps in '.maps'");
        // clang leaves DATASEC offsets 0 in objects; libbpf fixes them up from the ELF symbols, and so do we.
        var symbolOffsets = _elf.Symbols
            .Where(s => s.SectionIndex == section.Index && s.Name.Length > 0 && s.Type != ElfSymbolType.Section)
            .GroupBy(s => s.Name).ToDictionary(g => g.Key, g => g.First().Value, StringComparer.Ordinal);
        foreach (var (map, offset) in BtfMapReader.Read(btf, _source, _spec.Warnings))
        {
            if (!symbolOffsets.TryGetValue(map.Name, out ulong symbolOffset))
                throw new BpfException(Errno.EINVAL, $"{_source}: map '{map.Name}': no ELF symbol for it in '.maps'");
            AddBtfMap(map, section.Index, symbolOffset);
        }
    }

    /// <summary>
    /// libbpf's bpf_object__collect_externs: undefined global symbols described by a VAR or FUNC in the .kconfig or
    /// .ksyms DATASEC. Kconfig externs are laid out in the .kconfig map by descending alignment, ascending size, name.
    /// </summary>
    private void ReadExterns()
    {
        var undefined = _elf.Symbols
            .Where(s => s.IsUndefined && s.Index != 0 && s.Name.Length > 0 && s.Binding is ElfSymbolBinding.Global or ElfSymbolBinding.Weak)
            .GroupBy(s => s.Name).Select(g => g.First()).ToList();
        if (undefined.Count == 0 || _spec.Btf is not { } btf)
            return;

        var placement = new Dictionary<string, (BtfType Type, string Section)>(StringComparer.Ordinal);
        foreach (var secName in new[] { ".kconfig", ".ksyms" })
        {
            if (btf.FindDatasec(secName) is not { } datasec)
                continue;
            foreach (var v in datasec.Variables)
            {
                if (btf.TryGetType(v.Type, out var t) && t.Name.Length > 0)
                    placement.TryAdd(t.Name, (t, secName));
            }
        }

        var kconfig = new List<(string Name, bool Weak, uint Id, string TypeName, uint Size, uint Align)>();
        foreach (var sym in undefined)
        {
            if (!placement.TryGetValue(sym.Name, out var p))
                continue; // no BTF description: a program referring to it fails as unresolved
            bool weak = sym.Binding == ElfSymbolBinding.Weak;
            if (p.Section == ".kconfig")
            {
                if (p.Type is not BtfVar kvar)
                    throw new BpfException(Errno.EINVAL, $"{_source}: extern (kcfg) '{sym.Name}' is not a variable");
                uint size = btf.SizeOf(kvar.Type);
                uint align = Math.Max(1, btf.AlignOf(kvar.Type));
                kconfig.Add((sym.Name, weak, kvar.Id, TypeNameOf(btf, kvar.Type), size, align));
            }
            else if (p.Type is BtfFunc func)
            {
                AddExtern(new ExternSpec(sym.Name, ExternKind.KsymFunction, weak, func.Id, TypeNameOf(btf, func.ProtoType), 0, 0, 0));
            }
            else if (p.Type is BtfVar ksym)
            {
                // A typeless ksym (extern const void x __ksym) has type void: only its address is wanted.
                AddExtern(new ExternSpec(sym.Name, ExternKind.KsymVariable, weak, ksym.Id, TypeNameOf(btf, ksym.Type), 0, 0, 0));
            }
        }

        if (kconfig.Count == 0)
            return;
        kconfig.Sort((a, b) => a.Align != b.Align ? b.Align.CompareTo(a.Align)
            : a.Size != b.Size ? a.Size.CompareTo(b.Size)
            : string.CompareOrdinal(a.Name, b.Name));
        ulong end = 0;
        foreach (var k in kconfig)
        {
            ulong start = (end + k.Align - 1) / k.Align * k.Align;
            end = start + k.Size;
            // Kconfig values are scalars and small char arrays; a huge one means corrupt BTF.
            if (end > DataMapReader.MaxDataSectionSize)
                throw new BpfException(Errno.E2BIG, $"{_source}: extern (kcfg) '{k.Name}': .kconfig data would be {end} bytes");
            AddExtern(new ExternSpec(k.Name, ExternKind.Kconfig, k.Weak, k.Id, k.TypeName, k.Size, k.Align, (uint)start));
        }
        uint offset = (uint)end;
        SetKconfigMap(new MapSpec
        {
            Name = DataMapReader.InternalMapName(_spec.Name, ".kconfig"),
            Type = Abi.MapType.Array,
            KeySize = 4,
            ValueSize = offset,
            MaxEntries = 1,
            Flags = Abi.MapFlags.RdonlyProg | Abi.MapFlags.Mmapable,
            InitialValue = new byte[offset],
            Freeze = true,
            Origin = MapOrigin.Kconfig,
            SectionName = ".kconfig",
        });
    }

    private static string TypeNameOf(Btf.BtfSpec btf, uint id)
    {
        if (id == 0)
            return "void";
        if (!btf.TryGetType(id, out var t))
            return $"#{id}";
        return t switch
        {
            BtfPtr p => TypeNameOf(btf, p.Type) + " *",
            BtfArray a => $"{TypeNameOf(btf, a.ElementType)}[{a.Count}]",
            BtfReferenceType { IsModifier: true } r => $"{t.Kind.ToKernelName().ToLowerInvariant()} {TypeNameOf(btf, r.Type)}",
            BtfFuncProto => "func",
            BtfComposite c => $"{(c.IsUnion ? "union" : "struct")} {c.Name}",
            _ => t.Name.Length > 0 ? t.Name : t.Kind.ToKernelName().ToLowerInvariant(),
        };
    }

    /// <summary>Relocations inside ".maps": initial prog-array and map-in-map slots from <c>values = { … }</c>.</summary>
    private void ReadMapRelocations()
    {
        if (_elf.FindSection(".maps") is not { } section || _spec.Btf is not { } btf)
            return;
        var mapsByOffset = _mapSymbols.Where(m => m.SectionIndex == section.Index).ToList();
        // A map's extent is its symbol's size (libbpf: the fixed-up DATASEC var size), which covers a `values`
        // initializer that the struct's own size (a flexible array) does not.
        var symbolSizes = _elf.Symbols.Where(s => s.SectionIndex == section.Index && s.Name.Length > 0)
            .GroupBy(s => s.Name).ToDictionary(g => g.Key, g => g.Max(s => s.Size), StringComparer.Ordinal);
        foreach (var relSection in _elf.RelocationSectionsFor(section.Index))
        {
            var relocations = _elf.ReadRelocations(relSection);
            for (int r = 0; r < relocations.Count; r++)
            {
                var rel = relocations[r];
                var sym = _elf.Symbols[(int)rel.SymbolIndex];
                MapSpec? outer = null;
                ulong outerOffset = 0;
                foreach (var (_, off, index) in mapsByOffset)
                {
                    var candidate = _spec.Maps[index];
                    ulong size = Math.Max(symbolSizes.GetValueOrDefault(candidate.Name), BtfMapReader.DefinitionSize(btf, candidate));
                    if (size >= 8 && off <= rel.Offset && rel.Offset - off <= size - 8)
                    {
                        outer = candidate;
                        outerOffset = off;
                    }
                }
                if (outer is null)
                    throw new BpfException(Errno.EINVAL, $"{_source}: .maps relo #{r} at offset {rel.Offset} does not fall into any map");
                uint valuesOffset = BtfMapReader.ValuesOffset(btf, outer)
                    ?? throw new BpfException(Errno.EINVAL, $"{_source}: map '{outer.Name}': relo #{r} for a map without a trailing 'values' member");
                if (rel.Offset - outerOffset < valuesOffset || (rel.Offset - outerOffset - valuesOffset) % 8 != 0)
                    throw new BpfException(Errno.EINVAL, $"{_source}: map '{outer.Name}': relo #{r} at offset {rel.Offset} is not a 'values' slot");
                ulong slotIndex = (rel.Offset - outerOffset - valuesOffset) / 8;
                if (slotIndex >= outer.MaxEntries)
                    throw new BpfException(Errno.EINVAL, $"{_source}: map '{outer.Name}': slot {slotIndex} is beyond max_entries {outer.MaxEntries}");
                uint slot = (uint)slotIndex;
                string target;
                if (outer.Type == Abi.MapType.ProgArray)
                {
                    var prog = _code.ContainsKey(sym.SectionIndex) && sym.Value / Instruction.Size < int.MaxValue
                        ? FunctionAt(sym.SectionIndex, (int)(sym.Value / Instruction.Size)) : null;
                    if (prog is null || !prog.IsEntry)
                        throw new BpfException(Errno.EINVAL, $"{_source}: map '{outer.Name}': slot {slot} names '{sym.Name}', which is not a program");
                    target = prog.Name;
                }
                else if (LegacyMapReader.IsMapInMap(outer.Type))
                {
                    var inner = _mapSymbols.Where(m => m.SectionIndex == sym.SectionIndex && m.Offset == sym.Value).Select(m => _spec.Maps[m.MapIndex]).FirstOrDefault()
                        ?? throw new BpfException(Errno.EINVAL, $"{_source}: map '{outer.Name}': slot {slot} names '{sym.Name}', which is not a map");
                    target = inner.Name;
                }
                else
                {
                    throw new BpfException(Errno.EINVAL, $"{_source}: map '{outer.Name}': initial values are only for prog arrays and map-in-maps");
                }
                if (slot >= outer.MaxEntries)
                    throw new BpfException(Errno.EINVAL, $"{_source}: map '{outer.Name}': slot {slot} is beyond max_entries {outer.MaxEntries}");
                outer.InitialSlots.Add(new MapInitialSlot(slot, target));
            }
        }
    }

    private readonly Dictionary<string, SectionExtRecords> _extBySection = new(StringComparer.Ordinal);

    /// <summary>A section's .BTF.ext records sorted by instruction offset, so each function finds its own by binary search.</summary>
    private sealed record SectionExtRecords(BtfFuncInfo[] Funcs, BtfLineInfo[] Lines, BtfCoreRelo[] Cores);

    private SectionExtRecords ExtRecords(BtfExt ext, string section)
    {
        if (!_extBySection.TryGetValue(section, out var records))
        {
            records = new SectionExtRecords(
                [.. ext.GetFuncInfos(section).OrderBy(r => r.InsnOffset)],
                [.. ext.GetLineInfos(section).OrderBy(r => r.InsnOffset)],
                [.. ext.GetCoreRelos(section).OrderBy(r => r.InsnOffset)]);
            _extBySection[section] = records;
        }
        return records;
    }

    /// <summary>The records whose byte offset lies in [from, to), from sorted input.</summary>
    private static IEnumerable<T> InRange<T>(T[] sorted, Func<T, uint> offsetOf, ulong from, ulong to)
    {
        int lo = 0, hi = sorted.Length;
        while (lo < hi)
        {
            int mid = (lo + hi) >>> 1;
            if (offsetOf(sorted[mid]) < from)
                lo = mid + 1;
            else
                hi = mid;
        }
        for (int i = lo; i < sorted.Length && offsetOf(sorted[i]) < to; i++)
            yield return sorted[i];
    }

    /// <summary>Copies func_info, line_info and CO-RE records of every placed function, rebased to the linked program.</summary>
    internal void AttachLineAndFuncInfo(ProgramSpec spec, IReadOnlyDictionary<ObjectFunction, int> placed)
    {
        if (_spec.BtfExt is not { } ext)
            return;
        foreach (var (function, offset) in placed.OrderBy(p => p.Value))
        {
            var records = ExtRecords(ext, function.SectionName);
            ulong from = (ulong)function.Start * Instruction.Size, to = (ulong)function.End * Instruction.Size;
            int Rebase(uint byteOffset) => offset + (int)(byteOffset / Instruction.Size) - function.Start;

            foreach (var f in InRange(records.Funcs, r => r.InsnOffset, from, to))
                if (f.InsnOffset % Instruction.Size == 0)
                    spec.FuncInfos.Add(new ProgramFuncInfo(Rebase(f.InsnOffset), f.TypeId));
            foreach (var l in InRange(records.Lines, r => r.InsnOffset, from, to))
                if (l.InsnOffset % Instruction.Size == 0)
                    spec.LineInfos.Add(new ProgramLineInfo(Rebase(l.InsnOffset), l.FileNameOffset, l.LineOffset, l.Line, l.Column, l.FileName, l.SourceLine));
            foreach (var c in InRange(records.Cores, r => r.InsnOffset, from, to))
                if (c.InsnOffset % Instruction.Size == 0)
                    spec.CoreRelocations.Add(new ProgramCoreRelocation(Rebase(c.InsnOffset), c.TypeId, c.AccessStringOffset, c.AccessString, c.Kind));
        }
    }
}
