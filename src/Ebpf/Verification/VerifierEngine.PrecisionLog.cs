using System.Numerics;
using System.Text;

namespace Ebpf.Verification;

/// <summary>
/// The level-2 log lines of precision backtracking, in the kernel's wording (mark_chain_precision,
/// backtrack_insn, propagate_precision, mark_all_scalars_precise). Every caller tests <c>_log.Verbose</c> first so
/// that nothing is formatted at lower levels.
///
/// A backtracking run walks one "segment" per verifier state: the current state's instructions since its last
/// checkpoint, then each checkpoint's own instructions. Each segment opens with
/// <c>mark_precise: frameN: last_idx L first_idx F subseq_idx S </c> (L = its last instruction, F = the checkpoint
/// or path start it began at, S = the first instruction of the segment after it, -1 for the current one), every
/// instruction walked prints the wanted registers and slots before it is undone, and every checkpoint reached prints
/// what is still wanted there with its state, one line per frame from the innermost.
/// </summary>
internal sealed partial class VerifierEngine
{
    /// <summary>First instruction of the segment ending at checkpoint <paramref name="cp"/> (the state's first_insn_idx).</summary>
    private int SegmentStart(Checkpoint? cp) => cp?.Insn ?? _cur.Frames[0].FunctionStart;

    private void LogSegment(int lastIdx, Checkpoint? startCp, int subseqIdx, int frame) =>
        _log.Verbose2($"mark_precise: frame{frame}: last_idx {lastIdx} first_idx {SegmentStart(startCp)} subseq_idx {subseqIdx} \n");

    /// <summary>backtrack_insn's line: what is wanted after instruction <paramref name="idx"/>, in the frame of the
    /// instruction that ran after it.</summary>
    private void LogBacktrackInsn(int frame, int idx) =>
        _log.Verbose2($"mark_precise: frame{frame}: regs={RegMask(_btRegs[frame])} stack={StackMask(_btStack[frame])} before {idx}: ({_insns[idx].Opcode:x2}) {KernelDisassembler.Format(_insns, idx)}\n");

    /// <summary>What is still wanted in checkpoint <paramref name="cp"/> after marking it, frame by frame from the innermost.</summary>
    private void LogParentState(Checkpoint cp, int frame)
    {
        var st = cp.State;
        for (int f = Math.Min(frame, st.Frames.Count - 1); f >= 0; f--)
            _log.Verbose2($"mark_precise: frame{f}: parent state regs={RegMask(_btRegs[f])} stack={StackMask(_btStack[f])}:  {StateFormatter.Frame(st.Frames[f], st)}\n");
    }

    /// <summary>propagate_precision's list of what was precise in the pruning state. Like the kernel, the "first"
    /// flag is shared by all frames, so a frame after the first continues with a comma line.</summary>
    private void LogPropagating(VerifierState old)
    {
        bool first = true;
        var sb = new StringBuilder();
        for (int f = old.Frames.Count - 1; f >= 0; f--)
        {
            var fr = old.Frames[f];
            for (int r = 0; r < 10; r++)
            {
                if (!fr.Registers[r].Precise || fr.Registers[r].Type != RegisterType.Scalar) continue;
                sb.Append(first ? $"frame {f}: propagating r{r}" : $",r{r}");
                first = false;
            }
            for (int s = 0; s < FrameState.Slots; s++)
            {
                ref readonly var slot = ref fr.Stack[s];
                if (!slot.IsSpill || !slot.Spilled.Precise || slot.Spilled.Type != RegisterType.Scalar) continue;
                sb.Append(first ? $"frame {f}: propagating fp{-(s + 1) * 8}" : $",fp{-(s + 1) * 8}");
                first = false;
            }
            if (!first) sb.Append('\n');
        }
        _log.Verbose2(sb.ToString());
    }

    private void LogFallback() =>
        _log.Verbose2($"mark_precise: frame{_cur.Frames.Count - 1}: falling back to forcing all scalars precise\n");

    private void LogForced(int frame, int reg) => _log.Verbose2($"force_precise: frame{frame}: forcing r{reg} to be precise\n");

    private void LogForcedSlot(int frame, int slot) => _log.Verbose2($"force_precise: frame{frame}: forcing fp{-(slot + 1) * 8} to be precise\n");

    /// <summary>fmt_reg_mask: "r1,r6".</summary>
    private static string RegMask(ushort mask)
    {
        var sb = new StringBuilder();
        for (int r = 0; r < 16; r++)
        {
            if ((mask & (1 << r)) == 0) continue;
            if (sb.Length > 0) sb.Append(',');
            sb.Append('r').Append(r);
        }
        return sb.ToString();
    }

    /// <summary>bpf_fmt_stack_mask: slot offsets, "-8,-24".</summary>
    private static string StackMask(ulong mask)
    {
        var sb = new StringBuilder();
        while (mask != 0)
        {
            int s = BitOperations.TrailingZeroCount(mask);
            mask &= mask - 1;
            if (sb.Length > 0) sb.Append(',');
            sb.Append(-(s + 1) * 8);
        }
        return sb.ToString();
    }
}
