using Ebpf.Elf;

namespace Ebpf.Loading;

// BTF-dependent parts of the reader (.BTF, .BTF.ext, BTF-defined maps, externs).
internal sealed partial class ObjectReader
{
    private void ReadBtf() { }

    /// <summary>Every object symbol of ".maps" is one BTF-defined map; its definition comes from the DATASEC.</summary>
    private void ReadBtfMaps()
    {
        if (_elf.FindSection(".maps") is not { } section)
            return;
        foreach (var sym in _elf.Symbols.Where(s => s.SectionIndex == section.Index && s.Type == ElfSymbolType.Object && s.Name.Length > 0).OrderBy(s => s.Value))
            AddBtfMap(new MapSpec { Name = sym.Name, SectionName = section.Name, Origin = MapOrigin.Btf }, section.Index, sym.Value);
    }

    private void ReadExterns() { }
    private void ReadMapRelocations() { }
    internal void AttachLineAndFuncInfo(ProgramSpec spec, IReadOnlyDictionary<ObjectFunction, int> placed) { }
}
