using Ebpf.Isa;

namespace Ebpf.Loading;

/// <summary>One function of an executable section: an entry program or a subprogram, before linking.</summary>
internal sealed class ObjectFunction
{
    public required string Name { get; init; }
    public required int SectionIndex { get; init; }
    public required string SectionName { get; init; }
    /// <summary>First instruction, as an index into the section.</summary>
    public required int Start { get; init; }
    public required int Length { get; init; }
    public required bool IsGlobal { get; init; }
    /// <summary>The section's instructions (shared by every function of the section).</summary>
    public required Instruction[] SectionCode { get; init; }
    public bool IsEntry { get; set; }
    /// <summary>Relocations keyed by section-relative instruction index.</summary>
    public Dictionary<int, RawRelocation> Relocations { get; } = [];

    public int End => Start + Length;
    public ReadOnlySpan<Instruction> Code => SectionCode.AsSpan(Start, Length);

    public override string ToString() => $"{Name} [{SectionName} +{Start}, {Length}]";
}

internal enum RawRelocationKind
{
    Call,
    FunctionAddress,
    Map,
    Data,
    Extern,
    Unresolved,
}

/// <summary>A relocation as recorded from the ELF, before linking (libbpf's reloc_desc).</summary>
internal sealed record RawRelocation(
    int SectionInstruction,
    RawRelocationKind Kind,
    string SymbolName,
    int SymbolSectionIndex,
    long SymbolOffset,
    int MapIndex = -1,
    ExternSpec? Extern = null);
