namespace Ebpf.Loading;

/// <summary>Where an extern is resolved: a Kconfig value libbpf supplies, or a kernel symbol (variable or kfunc).</summary>
public enum ExternKind
{
    /// <summary>A <c>CONFIG_*</c> value libbpf supplies in the .kconfig map.</summary>
    Kconfig,
    /// <summary>A kernel variable (<c>__ksym</c>), resolved to its BTF id.</summary>
    KsymVariable,
    /// <summary>A kernel function (<c>__ksym</c> kfunc), resolved to its BTF id.</summary>
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
