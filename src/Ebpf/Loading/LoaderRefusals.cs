using Ebpf.Btf;

namespace Ebpf.Loading;

/// <summary>
/// What an object may ask of a loader that the loaders here cannot honour yet. Loading such a program or
/// object fails with EOPNOTSUPP naming what is missing; it is never silently ignored (a CO-RE relocation left
/// unapplied leaves the compiler's guess at a field offset in the code, which the verifier may well accept).
/// Opening, listing and verifying a spec stay possible: only the backends' load paths call these.
/// </summary>
public static class LoaderRefusals
{
    /// <summary>Refuses a program with CO-RE relocations (.BTF.ext core_relo records): none is applied yet.</summary>
    public static void ThrowIfCoreRelocations(ProgramSpec program)
    {
        ArgumentNullException.ThrowIfNull(program);
        if (program.CoreRelocations.Count == 0)
            return;
        var first = program.CoreRelocations[0];
        string more = program.CoreRelocations.Count > 1 ? $" (and {program.CoreRelocations.Count - 1} more)" : "";
        throw new BpfException(Errno.EOPNOTSUPP,
            $"program '{program.Name}' ({program.SectionName}): insn {first.InstructionIndex}: CO-RE relocation {KindName(first.Kind)} " +
            $"of type [{first.TypeId}] access '{first.AccessString}'{more} cannot be applied: CO-RE relocations are not supported by this loader");
    }

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

    /// <summary>libbpf's names of the relocation kinds (core_relo_kind_str).</summary>
    public static string KindName(BtfCoreReloKind kind) => kind switch
    {
        BtfCoreReloKind.FieldByteOffset => "byte_off",
        BtfCoreReloKind.FieldByteSize => "byte_sz",
        BtfCoreReloKind.FieldExists => "field_exists",
        BtfCoreReloKind.FieldSigned => "signed",
        BtfCoreReloKind.FieldLShiftU64 => "lshift_u64",
        BtfCoreReloKind.FieldRShiftU64 => "rshift_u64",
        BtfCoreReloKind.TypeIdLocal => "local_type_id",
        BtfCoreReloKind.TypeIdTarget => "target_type_id",
        BtfCoreReloKind.TypeExists => "type_exists",
        BtfCoreReloKind.TypeSize => "type_size",
        BtfCoreReloKind.EnumValueExists => "enumval_exists",
        BtfCoreReloKind.EnumValueValue => "enumval_value",
        BtfCoreReloKind.TypeMatches => "type_matches",
        _ => $"kind {(uint)kind}",
    };
}
