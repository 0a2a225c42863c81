using System.Buffers.Binary;
using Ebpf.Elf;
using Ebpf.Isa;

namespace Ebpf.Loading;

/// <summary>
/// Turns an <see cref="ElfFile"/> into an <see cref="ObjectSpec"/> following libbpf's bpf_object__open: collect
/// sections, functions, maps and externs; record relocations; link every entry program with its subprograms.
/// </summary>
internal sealed partial class ObjectReader
{
    private readonly ElfFile _elf;
    private readonly string _source;
    private readonly ObjectSpec _spec;
    private readonly Dictionary<int, Instruction[]> _code = [];
    private readonly Dictionary<int, ObjectFunction[]> _functionsBySection = [];
    private readonly List<ObjectFunction> _functions = [];
    private readonly List<(int SectionIndex, ulong Offset, int MapIndex)> _mapSymbols = [];
    private readonly Dictionary<int, int> _dataMapBySection = [];
    private readonly Dictionary<string, ExternSpec> _externs = new(StringComparer.Ordinal);
    private int _kconfigMapIndex = -1;

    private ObjectReader(ElfFile elf, string source)
    {
        _elf = elf;
        _source = source;
        _spec = new ObjectSpec { Name = ObjectSpec.ObjectNameFromPath(source) };
    }

    public static ObjectSpec Read(ElfFile elf, string source) => new ObjectReader(elf, source).Read();

    private ObjectSpec Read()
    {
        if (_elf.Type != 1)
            throw new BpfException(Errno.EINVAL, $"{_source}: not a valid eBPF object file: e_type {_elf.Type} is not ET_REL");
        if (_elf.SymbolTableSection is null)
            throw new BpfException(Errno.EINVAL, $"{_source}: object has no symbol table");
        ReadLicenseAndVersion();
        ReadBtf();
        CollectFunctions();
        ReadMaps();
        ReadExterns();
        CollectRelocations();
        ReadMapRelocations();
        foreach (var entry in _functions.Where(f => f.IsEntry))
            _spec.Programs.Add(ProgramLinker.Link(this, entry));
        CheckStructOpsPrograms();
        return _spec;
    }

    internal ObjectSpec Spec => _spec;
    internal string Source => _source;
    internal IReadOnlyList<MapSpec> Maps => _spec.Maps;
    internal int KconfigMapIndex => _kconfigMapIndex;
    internal IReadOnlyCollection<string> AllSectionNames => _allSectionNames ??= _elf.Sections.Select(s => s.Name).ToList();
    private List<string>? _allSectionNames;

    private void ReadLicenseAndVersion()
    {
        if (_elf.FindSection("license") is { } license)
            _spec.License = ElfObjectText.CString(license.Data.Span);
        if (_elf.FindSection("version") is { } version)
        {
            if (version.Data.Length != 4)
                throw new BpfException(Errno.EINVAL, $"{_source}: invalid kver section: {version.Data.Length} bytes, expected 4");
            _spec.KernelVersion = BinaryPrimitives.ReadUInt32LittleEndian(version.Data.Span);
        }
    }

    /// <summary>Every STT_FUNC symbol of an executable section is a function (libbpf splits sections this way).</summary>
    private void CollectFunctions()
    {
        var execSections = _elf.Sections.Where(s => s.Type == ElfSectionType.ProgBits && s.IsExecutable && s.Size > 0).ToList();
        // One pass over the symbol table instead of one per section: big objects have dozens of program sections
        // and thousands of symbols. Symbol order within a section is kept, so errors name the same symbol.
        var funcSymbols = new Dictionary<int, List<ElfSymbol>>();
        foreach (var sym in _elf.Symbols)
        {
            if (sym.Type != ElfSymbolType.Func || sym.Size == 0)
                continue;
            if (!funcSymbols.TryGetValue(sym.SectionIndex, out var inSection))
                funcSymbols[sym.SectionIndex] = inSection = [];
            inSection.Add(sym);
        }
        foreach (var section in execSections)
        {
            var code = ElfObjectText.Instructions(_elf, section);
            _code[section.Index] = code;
            var list = new List<ObjectFunction>();
            foreach (var sym in funcSymbols.GetValueOrDefault(section.Index) ?? [])
            {
                if (!sym.NameIsValid)
                    throw new BpfException(Errno.EINVAL,
                        $"{_source}: section '{section.Name}': function symbol {sym.Index} has a name outside the string table");
                if (sym.Value % Instruction.Size != 0 || sym.Size % Instruction.Size != 0)
                    throw new BpfException(Errno.EINVAL,
                        $"{_source}: section '{section.Name}': function '{sym.Name}' at 0x{sym.Value:x} size {sym.Size} is not instruction-aligned");
                if (sym.Value > section.Size || section.Size - sym.Value < sym.Size)
                    throw new BpfException(Errno.EINVAL,
                        $"{_source}: section '{section.Name}': program '{sym.Name}' at offset {sym.Value} crosses section boundary");
                list.Add(new ObjectFunction
                {
                    Name = sym.Name,
                    SectionIndex = section.Index,
                    SectionName = section.Name,
                    Start = (int)(sym.Value / Instruction.Size),
                    Length = (int)(sym.Size / Instruction.Size),
                    IsGlobal = sym.Binding != ElfSymbolBinding.Local && !sym.IsHidden,
                    SectionCode = code,
                });
            }
            // Objects from before function symbols: the whole section is one program named after it.
            if (list.Count == 0)
            {
                list.Add(new ObjectFunction
                {
                    Name = section.Name,
                    SectionIndex = section.Index,
                    SectionName = section.Name,
                    Start = 0,
                    Length = code.Length,
                    IsGlobal = true,
                    SectionCode = code,
                });
            }
            list.Sort((a, b) => a.Start.CompareTo(b.Start));
            for (int i = 1; i < list.Count; i++)
            {
                if (list[i].Start < list[i - 1].End)
                    throw new BpfException(Errno.EINVAL,
                        $"{_source}: section '{section.Name}': functions '{list[i - 1].Name}' and '{list[i].Name}' overlap");
            }
            _functionsBySection[section.Index] = [.. list];
            _functions.AddRange(list);
        }

        // .text holds subprograms; only an object with no other program section loads its .text functions as programs.
        bool hasNonText = _functions.Any(f => f.SectionName != ".text");
        foreach (var f in _functions)
            f.IsEntry = f.SectionName != ".text" || !hasNonText;
    }

    private void ReadMaps()
    {
        bool iproute2 = SectionDefinitions.LooksLikeTcLoaderObject(AllSectionNames);
        var legacy = new List<MapSpec>();
        foreach (var section in _elf.Sections.Where(ElfObjectText.IsLegacyMapsSection))
        {
            foreach (var (map, sectionIndex, offset) in LegacyMapReader.Read(_elf, section, iproute2))
            {
                _mapSymbols.Add((sectionIndex, offset, _spec.Maps.Count));
                _spec.Maps.Add(map);
                legacy.Add(map);
            }
        }
        LegacyMapReader.LinkIproute2InnerMaps(legacy);
        LegacyMapReader.LinkSamplesInnerMaps(legacy);

        ReadBtfMaps();
        ReadStructOpsMaps();

        foreach (var section in _elf.Sections.Where(ElfObjectText.IsDataSection))
        {
            if (section.Size == 0)
                continue;
            _dataMapBySection[section.Index] = _spec.Maps.Count;
            var data = DataMapReader.Read(_elf, section, _spec.Name);
            // libbpf's map_fill_btf_type_info: an internal map's value type is its section's DATASEC (none when absent).
            data.BtfTypeId = _spec.Btf?.FindDatasec(section.Name)?.Id ?? 0;
            _spec.Maps.Add(data);
        }
    }

    internal void SetKconfigMap(MapSpec map)
    {
        _kconfigMapIndex = _spec.Maps.Count;
        _spec.Maps.Add(map);
    }

    internal void AddBtfMap(MapSpec map, int sectionIndex, ulong offset)
    {
        _mapSymbols.Add((sectionIndex, offset, _spec.Maps.Count));
        _spec.Maps.Add(map);
    }

    internal void AddExtern(ExternSpec ext)
    {
        _externs[ext.Name] = ext;
        _spec.Externs.Add(ext);
    }

    /// <summary>Records every relocation of every executable section against the function it falls in (libbpf's record_reloc).</summary>
    private void CollectRelocations()
    {
        var symbols = _elf.Symbols;
        foreach (var (sectionIndex, code) in _code)
        {
            var section = _elf.GetSection(sectionIndex);
            var functions = _functionsBySection[sectionIndex];
            foreach (var relSection in _elf.RelocationSectionsFor(sectionIndex))
            {
                var relocations = _elf.ReadRelocations(relSection);
                for (int r = 0; r < relocations.Count; r++)
                {
                    var rel = relocations[r];
                    if (rel.Offset % Instruction.Size != 0 || rel.Offset / Instruction.Size >= (ulong)code.Length)
                        throw new BpfException(Errno.EINVAL,
                            $"{_source}: section '{section.Name}': relo #{r}: bad insn offset 0x{rel.Offset:x}");
                    int insnIndex = (int)(rel.Offset / Instruction.Size);
                    var function = FindFunction(functions, insnIndex);
                    if (function is null)
                        continue; // libbpf: no program covers it (e.g. an overridden weak function); nothing to patch
                    var sym = symbols[(int)rel.SymbolIndex];
                    var raw = Classify(function, insnIndex, code[insnIndex], sym, rel, code);
                    function.Relocations.TryAdd(insnIndex, raw);
                }
            }
        }
    }

    private RawRelocation Classify(ObjectFunction function, int insnIndex, Instruction insn, ElfSymbol sym, ElfRelocation rel, Instruction[] code)
    {
        int local = insnIndex - function.Start;
        // Only error messages need this, so it is formatted on demand rather than once per relocation.
        string Where() => $"at insn {local} of program {function.Name}";
        long addend = rel.HasAddend ? rel.Addend : 0;
        // Offsets below come from the file; wrap instead of throwing, the checks that follow reject nonsense.
        long symbolOffset = unchecked((long)sym.Value + addend);

        if (IsExtern(sym))
        {
            if (!_externs.TryGetValue(sym.Name, out var ext))
            {
                // Not an error yet: as with libbpf-compatible loaders, only programs reaching it fail to load.
                return new RawRelocation(insnIndex, RawRelocationKind.Unresolved, sym.Name, 0, 0);
            }
            if (insn.Opcode != Opcodes.Call && (!insn.IsLoadImm64 || insnIndex + 1 >= code.Length))
                throw new BpfException(Errno.EINVAL,
                    $"{_source}: invalid relo against extern '{sym.Name}' for insns[{local}].code 0x{insn.Opcode:x2} of program {function.Name}");
            return new RawRelocation(insnIndex, RawRelocationKind.Extern, sym.Name, 0, 0, Extern: ext);
        }

        if (insn.Opcode == Opcodes.Call)
        {
            if (insn.Src != (byte)CallSource.Local)
                throw new BpfException(Errno.EINVAL, $"{_source}: incorrect bpf_call opcode {Where()} (relocation against '{sym.Name}')");
            if (!_code.ContainsKey(sym.SectionIndex))
                throw new BpfException(Errno.EINVAL,
                    $"{_source}: bad call relo against '{sym.Name}' in section '{SectionName(sym.SectionIndex)}' {Where()}");
            if (sym.Value % Instruction.Size != 0)
                throw new BpfException(Errno.EINVAL, $"{_source}: bad call relo against '{sym.Name}' at offset {sym.Value} {Where()}");
            return new RawRelocation(insnIndex, RawRelocationKind.Call, sym.Name, sym.SectionIndex, symbolOffset);
        }

        if (!insn.IsLoadImm64 || insnIndex + 1 >= code.Length)
            throw new BpfException(Errno.EINVAL,
                $"{_source}: invalid relo against '{sym.Name}' for insns[{local}].code 0x{insn.Opcode:x2} of program {function.Name}");

        if (_code.ContainsKey(sym.SectionIndex))
        {
            if (unchecked(sym.Value + (ulong)(long)insn.Imm) % Instruction.Size != 0)
                throw new BpfException(Errno.EINVAL, $"{_source}: bad subprog addr relo against '{sym.Name}' {Where()}");
            return new RawRelocation(insnIndex, RawRelocationKind.FunctionAddress, sym.Name, sym.SectionIndex, symbolOffset);
        }

        var symSection = sym.SectionIndex < _elf.Sections.Count ? _elf.Sections[sym.SectionIndex] : null;
        if (symSection is not null && (ElfObjectText.IsLegacyMapsSection(symSection) || symSection.Name == ".maps"))
        {
            ulong offset = unchecked((ulong)symbolOffset);
            if (MapAt(sym.SectionIndex, offset) is int mapIndex)
                return new RawRelocation(insnIndex, RawRelocationKind.Map, sym.Name, sym.SectionIndex, (long)offset, mapIndex);
            throw new BpfException(Errno.EINVAL,
                $"{_source}: map relo failed to find map for section '{symSection.Name}', off {offset} {Where()}");
        }

        if (symSection is not null && _dataMapBySection.TryGetValue(symSection.Index, out int dataMap))
            return new RawRelocation(insnIndex, RawRelocationKind.Data, sym.Name.Length > 0 ? sym.Name : symSection.Name,
                sym.SectionIndex, symbolOffset, dataMap);

        throw new BpfException(Errno.EINVAL,
            $"{_source}: bad data relo against '{sym.Name}' in section '{symSection?.Name ?? sym.SectionIndex.ToString()}' {Where()}");
    }

    private Dictionary<(int SectionIndex, ulong Offset), int>? _mapByPlace;

    /// <summary>
    /// The first map defined at (section, offset), like a scan of <see cref="_mapSymbols"/> in order, but indexed:
    /// big objects have thousands of map relocations against dozens of maps.
    /// </summary>
    private int? MapAt(int sectionIndex, ulong offset)
    {
        if (_mapByPlace is null)
        {
            _mapByPlace = new Dictionary<(int, ulong), int>(_mapSymbols.Count);
            foreach (var (secIdx, off, mapIndex) in _mapSymbols)
                _mapByPlace.TryAdd((secIdx, off), mapIndex);
        }
        return _mapByPlace.TryGetValue((sectionIndex, offset), out int index) ? index : null;
    }

    /// <summary>libbpf's sym_is_extern: an undefined global or weak symbol that is not a section.</summary>
    private static bool IsExtern(ElfSymbol sym) =>
        sym.IsUndefined && sym.Index != 0
        && (sym.Binding is ElfSymbolBinding.Global or ElfSymbolBinding.Weak)
        && sym.Type is ElfSymbolType.NoType or ElfSymbolType.Func or ElfSymbolType.Object;

    internal static ObjectFunction? FindFunction(ObjectFunction[] functions, int insnIndex)
    {
        int lo = 0, hi = functions.Length - 1;
        while (lo <= hi)
        {
            int mid = (lo + hi) >>> 1;
            var f = functions[mid];
            if (insnIndex < f.Start)
                hi = mid - 1;
            else if (insnIndex >= f.End)
                lo = mid + 1;
            else
                return f;
        }
        return null;
    }

    /// <summary>The non-entry function (a subprogram) named <paramref name="name"/>, or null.</summary>
    internal ObjectFunction? SubprogramNamed(string name) => _functions.FirstOrDefault(f => !f.IsEntry && f.Name == name);

    internal ObjectFunction? FunctionAt(int sectionIndex, int insnIndex) =>
        _functionsBySection.TryGetValue(sectionIndex, out var fs) ? FindFunction(fs, insnIndex) : null;

    internal string SectionName(int index) => index < _elf.Sections.Count ? _elf.Sections[index].Name : $"#{index}";
}
