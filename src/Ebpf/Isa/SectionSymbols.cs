using Ebpf.Elf;

namespace Ebpf.Isa;

/// <summary>One symbol as objdump sees it: address within the section, name and ELF type.</summary>
public readonly record struct SectionSymbol(ulong Address, string Name, byte Type);

/// <summary>
/// The symbols of one code section, ordered and chosen the way llvm-objdump does for branch labels and
/// headers: named, non-section symbols defined in the section, sorted by (address, name, type), plus the
/// section's own name as a dummy symbol at 0 when no symbol starts there. A branch target is labelled with
/// the last symbol at or before it: <c>&lt;LBB0_4&gt;</c>, or <c>&lt;func+0x18&gt;</c> with a byte displacement.
/// </summary>
public sealed class SectionSymbols
{
    private readonly SectionSymbol[] _symbols;

    /// <summary>
    /// The named symbols of section <paramref name="sectionName"/> (section symbols dropped), sorted by offset; a
    /// function symbol named after the section is added at offset 0 when none starts there.
    /// </summary>
    public SectionSymbols(string sectionName, IEnumerable<SectionSymbol> symbols)
    {
        var list = symbols.Where(s => s.Name.Length > 0 && s.Type != (byte)ElfSymbolType.Section).ToList();
        list.Sort(Compare);
        if (list.Count == 0 || list[0].Address != 0)
            list.Insert(0, new SectionSymbol(0, sectionName, (byte)ElfSymbolType.Func));
        _symbols = list.ToArray();
    }

    /// <summary>Symbols defined in <paramref name="section"/> of <paramref name="elf"/>.</summary>
    public static SectionSymbols FromElf(ElfFile elf, ElfSection section)
    {
        ArgumentNullException.ThrowIfNull(elf);
        ArgumentNullException.ThrowIfNull(section);
        return new SectionSymbols(section.Name, elf.Symbols
            .Where(s => s.SectionIndex == section.Index && s.Index != 0)
            .Select(s => new SectionSymbol(s.Value, s.Name, (byte)s.Type)));
    }

    /// <summary>The symbols, sorted by offset.</summary>
    public IReadOnlyList<SectionSymbol> Symbols => _symbols;

    /// <summary>The symbols that start exactly at <paramref name="address"/>, in objdump's order.</summary>
    public IEnumerable<SectionSymbol> At(ulong address) => _symbols.Where(s => s.Address == address);

    /// <summary>objdump's label for a branch target: <c>" &lt;name&gt;"</c> or <c>" &lt;name+0x…&gt;"</c>.</summary>
    public string? Label(ulong target)
    {
        // partition_point(Addr <= target), then the element before it.
        int lo = 0, hi = _symbols.Length;
        while (lo < hi)
        {
            int mid = (lo + hi) >>> 1;
            if (_symbols[mid].Address <= target)
                lo = mid + 1;
            else
                hi = mid;
        }
        if (lo == 0)
            return null;
        var symbol = _symbols[lo - 1];
        ulong displacement = target - symbol.Address;
        return displacement == 0 ? $" <{symbol.Name}>" : $" <{symbol.Name}+0x{displacement:x}>";
    }

    private static int Compare(SectionSymbol a, SectionSymbol b)
    {
        int c = a.Address.CompareTo(b.Address);
        if (c != 0)
            return c;
        c = string.CompareOrdinal(a.Name, b.Name);
        return c != 0 ? c : a.Type.CompareTo(b.Type);
    }
}
