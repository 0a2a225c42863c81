using Ebpf.Btf;

namespace Ebpf.Loading;

/// <summary>
/// What an object may ask of a loader that the loaders here cannot honour. Loading such a program or object fails
/// with EOPNOTSUPP (or EINVAL) naming what is missing; it is never silently ignored.
/// Opening, listing and verifying a spec stay possible: only the backends' load paths call these.
/// </summary>
public static class LoaderRefusals
{
    /// <summary>
    /// Refuses a program whose section libbpf has no rule for (<see cref="SectionDefinitions.Resolve"/> gave it no
    /// type) when the loader was not told its type either: nothing is guessed.
    /// </summary>
    public static void ThrowIfUntyped(ProgramSpec program, Abi.ProgramType effectiveType)
    {
        ArgumentNullException.ThrowIfNull(program);
        if (effectiveType == Abi.ProgramType.Unspec || !Enum.IsDefined(effectiveType))
            throw new BpfException(Errno.EINVAL,
                $"program '{program.Name}': section '{program.SectionName}' does not name a program type (give one: the load options' program type, or ProgramSpec.Type)");
    }

    /// <summary>
    /// libbpf's bpf_object__resolve_externs for .kconfig: a weak extern the loader cannot supply reads as 0 (the
    /// .kconfig image starts zeroed); a strong one fails the load, naming the symbol.
    /// </summary>
    public static void ThrowIfUnsuppliedKconfig(ObjectSpec spec, Func<ExternSpec, bool> canSupply, string loader)
    {
        ArgumentNullException.ThrowIfNull(spec);
        ArgumentNullException.ThrowIfNull(canSupply);
        foreach (var ext in spec.Externs)
        {
            if (ext.Kind == ExternKind.Kconfig && !ext.IsWeak && !canSupply(ext))
                throw new BpfException(Errno.EOPNOTSUPP,
                    $"{spec.Name}: extern (kcfg) '{ext.Name}': {loader} cannot supply it (declare it __weak to read 0)");
        }
    }
}
