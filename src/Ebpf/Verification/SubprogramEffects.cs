using Ebpf.Abi;
using Ebpf.Abi.Helpers;
using Ebpf.Isa;

namespace Ebpf.Verification;

/// <summary>
/// The kernel's per-subprogram <c>changes_pkt_data</c> property: a subprogram changes packet data when it, or anything
/// it calls, calls a helper that may move packet data (<c>bpf_helper_changes_pkt_data</c>), tails-calls, or calls a
/// kfunc (whose effect is not known here, so it is assumed). Global-function calls invalidate the caller's packet
/// pointers by it, and an extension may replace a function only if it changes packet data no more than the function
/// did (rule P6).
/// </summary>
internal static class SubprogramEffects
{
    /// <summary>
    /// Whether the subprogram starting at <paramref name="start"/> may change packet data.
    /// <paramref name="subprogramStarts"/> is sorted and holds every subprogram's first instruction.
    /// </summary>
    public static bool ChangesPacketData(IReadOnlyList<Instruction> insns, IReadOnlyList<int> subprogramStarts, int start, ProgramType type) =>
        AnyCall(insns, subprogramStarts, start, [], insn =>
            insn.Src == 2 // kfuncs: not known here, assume they may
            || (insn.Src == 0 && (insn.Imm == (int)HelperId.TailCall
                || HelperPrototypes.Get((HelperId)insn.Imm, type) is { ChangesPacketData: true })));

    /// <summary>
    /// Whether the subprogram starting at <paramref name="start"/>, or a static subprogram it calls, makes a tail call
    /// (which, from a subprogram, comes back to the subprogram's caller after the tail-called program ran).
    /// </summary>
    public static bool HasTailCall(IReadOnlyList<Instruction> insns, IReadOnlyList<int> subprogramStarts, int start) =>
        AnyCall(insns, subprogramStarts, start, [], insn => insn.Src == 0 && insn.Imm == (int)HelperId.TailCall);

    /// <summary>Whether a call instruction of the subprogram at <paramref name="start"/>, or of a static subprogram it
    /// calls (each visited once), satisfies <paramref name="matches"/>.</summary>
    private static bool AnyCall(IReadOnlyList<Instruction> insns, IReadOnlyList<int> starts, int start, HashSet<int> seen,
        Func<Instruction, bool> matches)
    {
        if (!seen.Add(start)) return false;
        int end = SubprogramEnd(insns, starts, start);
        for (int pc = start; pc < end; pc++)
        {
            var insn = insns[pc];
            if (insn.IsLoadImm64) { pc++; continue; }
            if (!insn.IsCall) continue;
            if (matches(insn)) return true;
            if (insn.Src == 1 && AnyCall(insns, starts, pc + insn.Imm + 1, seen, matches)) return true;
        }
        return false;
    }

    private static int SubprogramEnd(IReadOnlyList<Instruction> insns, IReadOnlyList<int> starts, int start)
    {
        foreach (int s in starts)
        {
            if (s > start) return Math.Min(s, insns.Count);
        }
        return insns.Count;
    }

    /// <summary>Every subprogram's first instruction: 0 and every bpf-to-bpf call target, sorted.</summary>
    public static List<int> SubprogramStarts(IReadOnlyList<Instruction> insns)
    {
        var starts = new SortedSet<int> { 0 };
        for (int pc = 0; pc < insns.Count; pc++)
        {
            var insn = insns[pc];
            if (insn.IsLoadImm64) { pc++; continue; }
            if (insn.IsCall && insn.Src == 1 && pc + insn.Imm + 1 is int target && target >= 0 && target < insns.Count)
                starts.Add(target);
        }
        return [.. starts];
    }
}
