using System.Buffers.Binary;
using Ebpf.Abi;
using Ebpf.Btf;
using Ebpf.Elf;

namespace Ebpf.Loading;

// libbpf's open-time struct_ops work: every variable of a .struct_ops (registered by BPF_MAP_UPDATE_ELEM) or
// .struct_ops.link (BPF_F_LINK: registered through BPF_LINK_CREATE) section becomes a BPF_MAP_TYPE_STRUCT_OPS map
// named after the variable, holding its bytes; the section's R_BPF_64_ABS64 relocations name the program each
// function-pointer member points to. Messages are libbpf's (init_struct_ops_maps, collect_st_ops_relos).
internal sealed partial class ObjectReader
{
    internal const string StructOpsSection = ".struct_ops";
    internal const string StructOpsLinkSection = ".struct_ops.link";

    private readonly Dictionary<int, List<(MapSpec Map, uint Offset, uint Size, uint TypeId, Dictionary<int, string> Programs)>> _structOpsBySection = [];

    private static bool IsStructOpsSection(ElfSection s) =>
        s.Type == ElfSectionType.ProgBits && !s.IsExecutable && s.Name is StructOpsSection or StructOpsLinkSection;

    private void ReadStructOpsMaps()
    {
        foreach (var section in _elf.Sections.Where(IsStructOpsSection))
        {
            if (section.Size == 0)
                continue;
            var btf = _spec.Btf ?? throw new BpfException(Errno.EINVAL, $"{_source}: struct_ops init: DATASEC {section.Name} not found (no BTF)");
            var datasec = btf.FindDatasec(section.Name)
                ?? throw new BpfException(Errno.EINVAL, $"{_source}: struct_ops init: DATASEC {section.Name} not found");
            var vars = new List<(MapSpec, uint, uint, uint, Dictionary<int, string>)>();
            // clang leaves DATASEC offsets 0 in objects: each variable's place is its ELF symbol's value (libbpf's
            // find_elf_var_sym), its size the DATASEC's.
            var symbolOffsets = _elf.Symbols
                .Where(s => s.SectionIndex == section.Index && s.Name.Length > 0 && s.Type != ElfSymbolType.Section)
                .GroupBy(s => s.Name).ToDictionary(g => g.Key, g => g.First().Value, StringComparer.Ordinal);
            foreach (var (variable, secinfo) in btf.GetDatasecVariables(datasec))
            {
                if (!symbolOffsets.TryGetValue(variable.Name, out ulong symbolOffset) || symbolOffset > uint.MaxValue)
                    throw new BpfException(Errno.ENOENT, $"{_source}: struct_ops init: symbol for {variable.Name} not found in {section.Name}");
                var placement = (Offset: (uint)symbolOffset, secinfo.Size);
                uint typeId = btf.SkipTypedefs(variable.Type);
                if (!btf.TryGetType(typeId, out var type))
                    throw new BpfException(Errno.EINVAL, $"{_source}: struct_ops init: Cannot resolve var type_id {variable.Type} in DATASEC {section.Name}");
                if (string.IsNullOrEmpty(type.Name))
                    throw new BpfException(Errno.EOPNOTSUPP, $"{_source}: struct_ops init: anonymous type is not supported");
                if (type is not BtfStruct)
                    throw new BpfException(Errno.EINVAL, $"{_source}: struct_ops init: {type.Name} is not a struct");
                if ((ulong)placement.Offset + placement.Size > (ulong)section.Data.Length)
                    throw new BpfException(Errno.EINVAL, $"{_source}: struct_ops init: {variable.Name} lies outside section {section.Name}");
                var programs = new Dictionary<int, string>();
                var map = new MapSpec
                {
                    Name = variable.Name,
                    Type = MapType.StructOps,
                    KeySize = 4,
                    MaxEntries = 1,
                    Flags = section.Name == StructOpsLinkSection ? MapFlags.Link : MapFlags.None,
                    SectionName = section.Name,
                    InitialValue = section.Data.Span.Slice((int)placement.Offset, (int)placement.Size).ToArray(),
                    StructOps = new StructOpsSpec(type.Name, typeId, programs),
                };
                _spec.Maps.Add(map);
                vars.Add((map, placement.Offset, placement.Size, typeId, programs));
            }
            _structOpsBySection[section.Index] = vars;
            ReadStructOpsRelocations(section, btf, vars);
        }
    }

    private void ReadStructOpsRelocations(ElfSection section, BtfSpec btf, List<(MapSpec Map, uint Offset, uint Size, uint TypeId, Dictionary<int, string> Programs)> vars)
    {
        var symbols = _elf.Symbols;
        foreach (var relSection in _elf.RelocationSectionsFor(section.Index))
        {
            foreach (var rel in _elf.ReadRelocations(relSection))
            {
                if (rel.SymbolIndex >= symbols.Count)
                    throw new BpfException(Errno.EINVAL, $"{_source}: struct_ops reloc: symbol {rel.SymbolIndex:x} not found");
                var sym = symbols[(int)rel.SymbolIndex];
                var owner = vars.FirstOrDefault(v => rel.Offset >= v.Offset && rel.Offset < (ulong)v.Offset + v.Size);
                if (owner.Map is null)
                    throw new BpfException(Errno.EINVAL, $"{_source}: struct_ops reloc: cannot find map at rel->r_offset {rel.Offset}");
                uint moff = (uint)(rel.Offset - owner.Offset);
                var type = (BtfStruct)btf.GetType(owner.TypeId);
                int memberIndex = -1;
                for (int i = 0; i < type.Members.Count; i++)
                    if (type.Members[i].BitOffset == moff * 8) { memberIndex = i; break; }
                if (memberIndex < 0)
                    throw new BpfException(Errno.EINVAL, $"{_source}: struct_ops reloc {owner.Map.Name}: cannot find member at moff {moff}");
                var member = type.Members[memberIndex];
                bool funcPtr = btf.ResolveType(member.Type) is BtfPtr ptr && btf.ResolveType(ptr.Type) is BtfFuncProto;
                if (!funcPtr)
                    throw new BpfException(Errno.EINVAL, $"{_source}: struct_ops reloc {owner.Map.Name}: cannot relocate non func ptr {member.Name}");
                // The symbol is the program itself, or its section with the program's offset in the addend/slot.
                ulong target = sym.Value;
                if (sym.Type == ElfSymbolType.Section)
                    target += rel.HasAddend ? (ulong)rel.Addend
                        : BinaryPrimitives.ReadUInt64LittleEndian(owner.Map.InitialValue.AsSpan((int)moff, 8));
                var function = _functionsBySection.TryGetValue(sym.SectionIndex, out _)
                    ? FunctionAt(sym.SectionIndex, (int)(target / Isa.Instruction.Size)) : null;
                if (function is null || function.Start * Isa.Instruction.Size != (int)target)
                    throw new BpfException(Errno.EINVAL,
                        $"{_source}: struct_ops reloc {owner.Map.Name}: cannot find prog at shdr_idx {sym.SectionIndex} to relocate func ptr {member.Name}");
                owner.Programs[memberIndex] = function.Name;
                // The slot holds the program, not an address: the loader writes what the kernel wants there.
                owner.Map.InitialValue.AsSpan((int)moff, 8).Clear();
            }
        }
    }

    /// <summary>collect_st_ops_relos' last check, once the programs are known: a slot names a struct_ops program.</summary>
    private void CheckStructOpsPrograms()
    {
        foreach (var map in _spec.Maps.Where(m => m.StructOps is not null))
        {
            var type = (BtfStruct)_spec.Btf!.GetType(map.StructOps!.LocalTypeId);
            foreach (var (index, name) in map.StructOps.Programs)
            {
                var prog = _spec.Programs.FirstOrDefault(p => p.Name == name);
                if (prog is null || prog.Type != ProgramType.StructOps)
                    throw new BpfException(Errno.EINVAL,
                        $"{_source}: struct_ops reloc {map.Name}: prog {name} is not struct_ops BPF program");
                _ = type.Members[index];
            }
        }
    }
}
