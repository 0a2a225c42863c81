using Ebpf.Isa;

namespace Ebpf.Runtime.Helpers;

/// <summary>
/// fixup_kfunc_call for a family of kfuncs this runtime implements on the host (dynptr, cpumask and pointer-cast
/// kfuncs): a call of a vmlinux kfunc (BTF id in imm, offset 0) whose name the family maps to a helper id becomes a
/// call of that host helper. Shared so every family resolves and rewrites calls the same way.
/// </summary>
internal static class HostKfuncBinding
{
    /// <summary>The family's kfunc a call instruction names, or null.</summary>
    public static string? NameOf(Instruction insn, Btf.BtfSpec? vmlinux, IReadOnlyDictionary<string, int> ids) =>
        insn.IsCall && insn.Src == (byte)CallSource.Kfunc && insn.Offset == 0
        && Verification.KernelFunctions.ResolveById(insn.Imm, vmlinux) is { } kf && ids.ContainsKey(kf.Name) ? kf.Name : null;

    /// <summary>Rewrites, in place, every call of the family's kfuncs into a call of its host helper.</summary>
    public static Instruction[] Bind(Instruction[] insns, Btf.BtfSpec? vmlinux, IReadOnlyDictionary<string, int> ids)
    {
        for (int pc = 0; pc < insns.Length; pc++)
        {
            if (insns[pc].IsLoadImm64)
            {
                pc++; // the second half of a 16-byte load is no instruction of its own
                continue;
            }
            if (NameOf(insns[pc], vmlinux, ids) is { } name)
                insns[pc] = new Instruction(insns[pc].Opcode, 0, 0, 0, ids[name]);
        }
        return insns;
    }
}
