using Ebpf.Abi;
using Ebpf.Abi.Helpers;
using Ebpf.Isa;

namespace Ebpf.Verification;

/// <summary>
/// check_btf_func's rule on subprograms (after check_subprogs, before check_cfg): a subprogram whose BTF return type
/// is not a scalar may not hold LD_ABS/LD_IND nor a tail call, since both may end the program with R0 as the return
/// value of the whole program. Refused at load time, whether or not the subprogram is ever called.
/// </summary>
internal static class SubprogReturnTypes
{
    internal static void Check(VerifierInput input, ControlFlow cfg, IReadOnlyList<Instruction> insns)
    {
        if (input.Functions is not { Count: > 0 } functions) return;
        for (int s = 1; s < cfg.SubprogStarts.Count; s++)
        {
            int start = cfg.SubprogStarts[s];
            if (functions.FirstOrDefault(f => f.StartInstruction == start) is not { ReturnsNonScalar: true }) continue;
            bool hasLdAbs = false, hasTailCall = false;
            for (int i = start; i < cfg.SubprogEnd(s); i++)
            {
                var insn = insns[i];
                if (insn.Class == InstructionClass.Ld && insn.AccessMode is AccessMode.Abs or AccessMode.Ind) hasLdAbs = true;
                if (insn.IsHelperCall && insn.Imm == (int)HelperId.TailCall) hasTailCall = true;
            }
            if (hasLdAbs) throw new VerifierError(Errno.EINVAL, "LD_ABS is only allowed in functions that return 'int'.", start);
            if (hasTailCall) throw new VerifierError(Errno.EINVAL, "tail_call is only allowed in functions that return 'int'.", start);
        }
    }
}
