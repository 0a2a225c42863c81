namespace Ebpf.Loading;

/// <summary>Where an extern is resolved: a Kconfig value libbpf supplies, or a kernel symbol (variable or kfunc).</summary>
public enum ExternKind
{
    Kconfig,
    KsymVariable,
    KsymFunction,
}

/// <summary>
/// An <c>extern</c> the object declares in its .kconfig or .ksyms DATASEC. Kconfig externs live in the .kconfig map at
/// <see cref="DataOffset"/> (laid out as libbpf does: by descending alignment, ascending size, then name); ksyms are
/// resolved to kernel BTF ids at load time.
/// </summary>
public sealed record ExternSpec(
    string Name,
    ExternKind Kind,
    bool IsWeak,
    uint BtfTypeId,
    string TypeName,
    uint Size,
    uint Alignment,
    uint DataOffset);
