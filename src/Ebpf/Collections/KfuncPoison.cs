using Ebpf.Isa;
using Ebpf.Loading;

namespace Ebpf.Collections;

/// <summary>
/// libbpf's poison_kfunc_call (libbpf ≥ 1.2): the call of a __weak kfunc that is in neither vmlinux nor a module
/// becomes an invalid helper call whose id identifies the extern, <see cref="Base"/> + its index in libbpf's extern
/// order. The load succeeds when the verifier proves the call unreachable (typically behind bpf_ksym_exists); a
/// reachable one is refused with the kernel's "invalid func unknown#2002000N".
/// </summary>
internal static class KfuncPoison
{
    /// <summary>POISON_CALL_KFUNC_BASE.</summary>
    public const int Base = 2002000000;

    /// <summary>The poisoned instruction: call with src_reg 0, dst_reg 0, off 0 and imm = base + extern index.</summary>
    public static Instruction Call(int externIndex) => new(Opcodes.Call, 0, 0, 0, Base + externIndex);

    /// <summary>
    /// The extern's index in libbpf's obj->externs, sorted by cmp_externs: Kconfig externs first (descending
    /// alignment, ascending size, then name: the order of their .kconfig offsets), then every ksym, variable or
    /// function, by name.
    /// </summary>
    public static int ExternIndex(IReadOnlyList<ExternSpec> externs, ExternSpec ext)
    {
        var order = externs.Where(e => e.Kind == ExternKind.Kconfig).OrderBy(e => e.DataOffset).ThenBy(e => e.Name, StringComparer.Ordinal)
            .Concat(externs.Where(e => e.Kind != ExternKind.Kconfig).OrderBy(e => e.Name, StringComparer.Ordinal));
        int i = 0;
        foreach (var e in order)
        {
            if (ReferenceEquals(e, ext))
                return i;
            i++;
        }
        throw new ArgumentException($"extern '{ext.Name}' is not one of the object's externs", nameof(ext));
    }
}
