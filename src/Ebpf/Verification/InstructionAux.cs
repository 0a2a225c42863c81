using Ebpf.Btf;

namespace Ebpf.Verification;

/// <summary>
/// Per-instruction facts the translation needs (the kernel's insn_aux_data): whether some path reached the
/// instruction, and for each load and store the pointer type its base register had. One load or store reached
/// with ctx on one path and another pointer kind on another cannot be rewritten for both, so it is refused
/// exactly as the kernel's save_aux_ptr_type does.
/// </summary>
internal sealed class InstructionAux(VerifierContext walk) : VerifierComponent(walk)
{
    private InstructionFacts[]? _facts;

    private InstructionFacts[] Facts => _facts ??= new InstructionFacts[Insns.Count];

    /// <summary>aux->seen: the instruction (both halves of an ld_imm64) was executed on some path.</summary>
    internal void MarkSeen(int insn)
    {
        var facts = Facts;
        facts[insn] = facts[insn] with { Seen = true };
        if (Insns[insn].IsLoadImm64 && insn + 1 < facts.Length)
            facts[insn + 1] = facts[insn + 1] with { Seen = true };
    }

    /// <summary>
    /// save_aux_ptr_type: the first path to reach this load/store records its base's type; a later path with a
    /// different type is refused when either type is one whose accesses get rewritten (ctx, sockets, BTF pointers).
    /// Loads may mix trusted and untrusted BTF pointers (<paramref name="allowTrustMismatch"/>): both become
    /// fault-handled loads.
    /// </summary>
    internal void SaveAuxPointerType(RegisterType type, bool allowTrustMismatch)
    {
        var facts = Facts;
        var prev = facts[InsnIdx].PointerType;
        if (prev == RegisterType.NotInit)
        {
            facts[InsnIdx] = facts[InsnIdx] with { PointerType = type };
            return;
        }
        if (type == prev || (!IsRewrittenAccess(type) && !IsRewrittenAccess(prev)))
            return;
        if (allowTrustMismatch && type == RegisterType.BtfId && prev == RegisterType.BtfId)
            return;
        throw Fail("same insn cannot be used with different pointers", Errno.EINVAL);
    }

    /// <summary>reg_type_mismatch_ok's "not ok" list: pointer kinds whose accesses convert_ctx_accesses rewrites.</summary>
    private static bool IsRewrittenAccess(RegisterType type) =>
        type is RegisterType.Ctx or RegisterType.SockCommon or RegisterType.Socket or RegisterType.TcpSock or RegisterType.XdpSock
            or RegisterType.BtfId;

    /// <summary>The program the engines run: dead code handled and ctx accesses converted where ctx was proved.</summary>
    internal TranslatedProgram Translate() =>
        ProgramTranslator.Translate(Insns, Facts, Privileged, Input.ContextConverter);
}
