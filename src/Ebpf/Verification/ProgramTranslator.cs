using Ebpf.Isa;

namespace Ebpf.Verification;

/// <summary>What the verifier proved about one instruction that the translation needs (the kernel's insn_aux_data).</summary>
/// <param name="Seen">Some path reached the instruction (<c>aux->seen</c>).</param>
/// <param name="PointerType">For loads and stores: the base register's pointer type on every path that reached it
/// (<c>aux->ptr_type</c>); <see cref="RegisterType.NotInit"/> otherwise.</param>
internal readonly record struct InstructionFacts(bool Seen, RegisterType PointerType);

/// <summary>
/// The kernel's convert_ctx_access for one program type: what a ctx load or store becomes in the runtime's internal
/// context layout. The runtime's program types implement it; the verifier calls it only where it proved a ctx pointer.
/// </summary>
public interface IContextAccessConverter
{
    /// <summary>The replacement for <paramref name="insn"/> (a load or store through PTR_TO_CTX), or null to keep it.</summary>
    Instruction[]? Convert(Instruction insn);
}

/// <summary>The translated program and how its instructions map back to the ones the verifier checked.</summary>
/// <param name="Instructions">The xlated instructions.</param>
/// <param name="SourceIndex">For each xlated instruction, the verified instruction it came from.</param>
/// <param name="NewIndex">For each verified instruction (and one past the end), where it, or the next surviving
/// instruction when it was removed, starts in <paramref name="Instructions"/>: line info and func info move by this.</param>
internal sealed record TranslatedProgram(Instruction[] Instructions, int[] SourceIndex, int[] NewIndex)
{
    /// <summary>True when verified instruction <paramref name="original"/> is still in the program.</summary>
    public bool Survives(int original) => NewIndex[original] < NewIndex[original + 1];
}

/// <summary>
/// The verifier's fixups after do_check, in the kernel's order: for a privileged loader
/// opt_hard_wire_dead_code_branches (a conditional jump whose one side no path took becomes <c>ja</c>),
/// opt_remove_dead_code (instructions no path reached are removed) and opt_remove_nops (<c>ja +0</c> is removed);
/// for an unprivileged one sanitize_dead_code (unreached instructions become <c>ja -1</c>). Then
/// convert_ctx_accesses: each load or store whose base was proved PTR_TO_CTX is rewritten by the program type.
/// Every jump, local call and function reference is re-targeted to where its target ended up, so the program
/// the engines run is exactly the one that was verified, minus what no path can execute.
/// </summary>
internal static class ProgramTranslator
{
    private static readonly Instruction Nop = Instruction.Ja(0);
    private static readonly Instruction Trap = Instruction.Ja(-1);

    public static TranslatedProgram Translate(IReadOnlyList<Instruction> insns, IReadOnlyList<InstructionFacts> facts,
        bool privileged, IContextAccessConverter? converter)
    {
        int n = insns.Count;
        var work = insns.ToArray();
        var removed = new bool[n];
        // Which instructions keep a relative target that must be moved (an original jump, call or func reference).
        var relocate = new bool[n];
        for (int i = 0; i < n; i++)
        {
            var insn = work[i];
            if (!facts[i].Seen)
            {
                if (privileged) removed[i] = true;
                else work[i] = Trap;
                continue;
            }
            if (privileged && IsConditionalJump(insn))
            {
                int target = i + 1 + insn.Offset;
                if (i + 1 < n && !facts[i + 1].Seen)
                    work[i] = insn = Instruction.Ja(insn.Offset);
                else if ((uint)target < (uint)n && !facts[target].Seen)
                    work[i] = insn = Nop;
            }
            relocate[i] = RelativeTarget(insn, i) is not null;
            if (insn.IsLoadImm64) i++; // the second half is data
        }
        if (privileged)
        {
            // opt_remove_nops, after dead-code removal: a plain "ja +0" goes, and so does a ja whose every skipped
            // instruction was dead (its offset is 0 once they are removed). The kernel scans forward once, so a
            // jump that only becomes a nop when a later nop is removed stays (so does it here: the instructions
            // it skips are all above it and only dead ones count).
            for (int i = 0; i < n; i++)
            {
                var insn = work[i];
                if (removed[i] || insn.Opcode != Nop.Opcode || insn.Dst != 0 || insn.Src != 0 || insn.Imm != 0 || insn.Offset < 0)
                    continue;
                bool allDead = true;
                for (int k = i + 1; k <= i + insn.Offset && allDead; k++)
                    allDead = k < n && removed[k];
                if (!allDead) continue;
                removed[i] = true;
                relocate[i] = false;
            }
        }

        var output = new List<Instruction>(n);
        var source = new List<int>(n);
        var newIndex = new int[n + 1];
        for (int i = 0; i < n; i++)
        {
            newIndex[i] = output.Count;
            if (removed[i]) continue;
            var insn = work[i];
            Instruction[]? patch = null;
            if (converter is not null && facts[i].Seen && facts[i].PointerType == RegisterType.Ctx && IsMemoryAccess(insn))
                patch = converter.Convert(insn);
            if (patch is null)
            {
                output.Add(insn);
                source.Add(i);
                continue;
            }
            foreach (var p in patch)
            {
                output.Add(p);
                source.Add(i);
            }
        }
        newIndex[n] = output.Count;

        for (int i = 0; i < n; i++)
        {
            if (!relocate[i] || removed[i]) continue;
            var insn = output[newIndex[i]];
            int target = RelativeTarget(insn, i)!.Value;
            if ((uint)target > (uint)n)
                throw new BpfException(Errno.EFAULT, $"insn {i}: jump target {target} outside the program");
            int delta = newIndex[target] - newIndex[i] - 1;
            output[newIndex[i]] = WithRelativeTarget(insn, delta, i);
        }
        return new TranslatedProgram([.. output], [.. source], newIndex);
    }

    /// <summary>insn_is_cond_jump: JMP32 except ja, JMP except ja, exit and call.</summary>
    private static bool IsConditionalJump(Instruction insn) => insn.Class switch
    {
        InstructionClass.Jmp32 => insn.JumpOperation != JumpOperation.Ja,
        InstructionClass.Jmp => insn.JumpOperation is not (JumpOperation.Ja or JumpOperation.Exit or JumpOperation.Call),
        _ => false,
    };

    private static bool IsMemoryAccess(Instruction insn) =>
        insn.Class is InstructionClass.Ldx or InstructionClass.St or InstructionClass.Stx;

    /// <summary>The absolute target of an instruction that addresses another one relatively, or null.</summary>
    private static int? RelativeTarget(Instruction insn, int pc)
    {
        if (insn.IsLoadImm64)
            return insn.IsFunctionReference ? pc + 1 + insn.Imm : null;
        if (insn.Class is not (InstructionClass.Jmp or InstructionClass.Jmp32))
            return null;
        if (insn.IsCall)
            return insn.IsLocalCall ? pc + 1 + insn.Imm : null;
        if (insn.IsExit)
            return null;
        if (insn.Class == InstructionClass.Jmp32 && insn.JumpOperation == JumpOperation.Ja)
            return pc + 1 + insn.Imm; // gotol
        return pc + 1 + insn.Offset;
    }

    private static Instruction WithRelativeTarget(Instruction insn, int delta, int pc)
    {
        bool inImm = insn.IsLoadImm64 || insn.IsCall || (insn.Class == InstructionClass.Jmp32 && insn.JumpOperation == JumpOperation.Ja);
        if (inImm)
            return new Instruction(insn.Opcode, insn.Dst, insn.Src, insn.Offset, delta);
        if (delta is < short.MinValue or > short.MaxValue)
            throw new BpfException(Errno.ERANGE, $"insn {pc} cannot be patched due to 16-bit range");
        return new Instruction(insn.Opcode, insn.Dst, insn.Src, (short)delta, insn.Imm);
    }
}
