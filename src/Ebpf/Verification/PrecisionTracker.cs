using System.Numerics;
using System.Text;
using Ebpf.Isa;

namespace Ebpf.Verification;

/// <summary>
/// Precision tracking (the kernel's mark_chain_precision / backtrack_insn / propagate_precision).
///
/// Scalars are compared by value at pruning points only when some decision depended on their value: a
/// pointer offset, a helper size or constant argument, a branch decided from known bounds, a return value
/// range. When such a decision is made, the registers and stack slots that fed the value are found by walking
/// the instruction history of the current path backwards, and the matching scalars of the checkpoints on the
/// path are marked <see cref="RegisterState.Precise"/>. The history is one append-only arena shared by all
/// paths: each entry links to its predecessor, so a cloned state shares its prefix for free.
/// </summary>
/// <remarks>
/// The level-2 log lines of precision backtracking, in the kernel's wording (mark_chain_precision,
/// backtrack_insn, propagate_precision, mark_all_scalars_precise). Every caller tests <c>Log.Verbose</c> first so
/// that nothing is formatted at lower levels.
///
/// A backtracking run walks one "segment" per verifier state: the current state's instructions since its last
/// checkpoint, then each checkpoint's own instructions. Each segment opens with
/// <c>mark_precise: frameN: last_idx L first_idx F subseq_idx S </c> (L = its last instruction, F = the checkpoint
/// or path start it began at, S = the first instruction of the segment after it, -1 for the current one), every
/// instruction walked prints the wanted registers and slots before it is undone, and every checkpoint reached prints
/// what is still wanted there with its state, one line per frame from the innermost.
/// </remarks>
internal sealed class PrecisionTracker(VerifierContext walk) : VerifierComponent(walk)
{
    private struct HistoryEntry
    {
        public int Insn;
        public int Prev;
        /// <summary>Index of the current frame when the instruction ran.</summary>
        public byte Depth;
        /// <summary>Set when the instruction was an exit from a callback (R0 does not flow to the caller).</summary>
        public bool CallbackExit;
        /// <summary>Fixed-offset stack access: 1 + frame * 64 + slot, or 0.</summary>
        public short Stack;
        public bool FullStackWrite;
        /// <summary>Scalars linked by id to a compared register at a conditional jump: start in <see cref="_linked"/> (+1), or 0.</summary>
        public int Linked;
    }

    private HistoryEntry[] _hist = new HistoryEntry[4096];

    private int _histCount;

    /// <summary>Groups of linked scalars at conditional jumps: (depth, register or 16 + slot) runs ended by (-1, -1).</summary>
    private readonly List<(int Depth, int Reg)> _linked = [];

    private readonly ushort[] _btRegs = new ushort[SubprogramCalls.MaxCallFrames + 1];

    private readonly ulong[] _btStack = new ulong[SubprogramCalls.MaxCallFrames + 1];

    /// <summary>Appends the instruction about to run to the current path's history.</summary>
    internal void PushHistory(int insn)
    {
        if (_histCount == _hist.Length) Array.Resize(ref _hist, _hist.Length * 2);
        _hist[_histCount] = new HistoryEntry { Insn = insn, Prev = Cur.HistTail, Depth = (byte)(Cur.Frames.Count - 1) };
        Cur.HistTail = _histCount++;
    }

    internal void RecordStackAccess(int frameNo, int slot, bool fullSpill)
    {
        if (Cur.HistTail < 0) return;
        ref var e = ref _hist[Cur.HistTail];
        e.Stack = (short)(1 + frameNo * 64 + slot);
        e.FullStackWrite = fullSpill;
        Cur.JumpHistory++;
    }

    internal void RecordCallbackExit()
    {
        if (Cur.HistTail >= 0) _hist[Cur.HistTail].CallbackExit = true;
    }

    /// <summary>Records which scalars share <paramref name="id"/> at this jump: a refinement reaches all of them.</summary>
    internal void RecordLinked(int id)
    {
        if (id == 0 || Cur.HistTail < 0 || !Privileged) return;
        int start = _linked.Count;
        for (int f = 0; f < Cur.Frames.Count; f++)
        {
            var fr = Cur.Frames[f];
            for (int r = 0; r < 10; r++)
                if (fr.Registers[r].Type == RegisterType.Scalar && fr.Registers[r].BaseId == (id & ~RegisterState.AddConstMask)) _linked.Add((f, r));
            for (int s = 0; s < FrameState.Slots; s++)
                if (fr.Stack[s].IsSpill && fr.Stack[s].Spilled.Type == RegisterType.Scalar
                    && fr.Stack[s].Spilled.BaseId == (id & ~RegisterState.AddConstMask)) _linked.Add((f, 16 + s));
        }
        if (_linked.Count - start < 2) { _linked.RemoveRange(start, _linked.Count - start); return; }
        ref var e = ref _hist[Cur.HistTail];
        // A second group at the same jump (both operands linked) chains to the first; (-1, -1) ends the chain.
        _linked.Add(e.Linked != 0 ? (-2, e.Linked - 1) : (-1, -1));
        e.Linked = start + 1;
    }

    // ---- marking ----

    /// <summary>mark_chain_precision: the value of scalar register <paramref name="regno"/> of the current frame
    /// decided something at the current instruction.</summary>
    internal void MarkPrecise(int regno)
    {
        if (!Privileged || regno is < 0 or >= 10) return;
        if (Reg(regno).Type != RegisterType.Scalar) return;
        ClearBacktrack();
        _btRegs[Cur.Frames.Count - 1] = (ushort)(1 << regno);
        Backtrack(skipFirst: true);
    }

    /// <summary>The value spilled in stack slot <paramref name="slot"/> of frame <paramref name="frameNo"/> decided something.</summary>
    internal void MarkPreciseSlot(int frameNo, int slot)
    {
        if (!Privileged) return;
        ClearBacktrack();
        _btStack[frameNo] = 1UL << slot;
        Backtrack(skipFirst: true);
    }

    /// <summary>propagate_precision: the current path was pruned by <paramref name="old"/>, so what was precise there
    /// is precise for the current path's checkpoints too.</summary>
    internal void PropagatePrecision(VerifierState old)
    {
        if (!Privileged) return;
        ClearBacktrack();
        bool any = false;
        for (int f = 0; f < old.Frames.Count; f++)
        {
            var fr = old.Frames[f];
            for (int r = 0; r < 10; r++)
                if (fr.Registers[r].Precise && fr.Registers[r].Type == RegisterType.Scalar) { _btRegs[f] |= (ushort)(1 << r); any = true; }
            for (int s = 0; s < FrameState.Slots; s++)
            {
                ref readonly var slot = ref fr.Stack[s];
                if (slot.IsSpill && slot.Spilled.Precise && slot.Spilled.Type == RegisterType.Scalar) { _btStack[f] |= 1UL << s; any = true; }
            }
        }
        if (!any) return;
        if (Log.Verbose) LogPropagating(old);
        Backtrack(skipFirst: false);
    }

    private void ClearBacktrack()
    {
        Array.Clear(_btRegs);
        Array.Clear(_btStack);
    }

    private bool BacktrackEmpty()
    {
        for (int f = 0; f < _btRegs.Length; f++)
            if (_btRegs[f] != 0 || _btStack[f] != 0) return false;
        return true;
    }

    /// <summary>Walks the current path's history backwards from its last entry, moving the wanted registers and
    /// slots to their sources and marking them precise in each checkpoint passed.</summary>
    private void Backtrack(bool skipFirst)
    {
        int i = Cur.HistTail;
        var cp = Cur.Parent;
        int nextDepth = Cur.Frames.Count - 1;
        bool first = skipFirst;
        // Propagation starts at the pruned instruction, which never ran (the kernel skips it as the first).
        if (Log.Verbose) LogSegment(skipFirst ? _hist[i].Insn : InsnIdx, cp, -1, nextDepth);
        while (true)
        {
            while (cp is not null && cp.HistPos == i)
            {
                bool more = MarkCheckpoint(cp);
                if (Log.Verbose) LogParentState(cp, nextDepth);
                if (!more) return;
                if (Log.Verbose) LogSegment(i >= 0 ? _hist[i].Insn : -1, cp.Parent, cp.Insn, nextDepth);
                cp = cp.Parent;
            }
            if (i < 0) return;
            ref readonly var e = ref _hist[i];
            if (first)
            {
                first = false;
            }
            else
            {
                if (Log.Verbose) LogBacktrackInsn(nextDepth, e.Insn);
                if (!BacktrackInsn(e, nextDepth))
                {
                    MarkAllPrecise();
                    return;
                }
            }
            if (BacktrackEmpty()) return;
            nextDepth = e.Depth;
            i = e.Prev;
        }
    }

    /// <summary>Marks the wanted scalars of a checkpoint precise; those already precise were propagated before and
    /// are dropped. Returns false when nothing is left to track.</summary>
    private bool MarkCheckpoint(Checkpoint cp)
    {
        var st = cp.State;
        bool any = false;
        for (int f = 0; f < _btRegs.Length; f++)
        {
            if (_btRegs[f] == 0 && _btStack[f] == 0) continue;
            if (f >= st.Frames.Count) { _btRegs[f] = 0; _btStack[f] = 0; continue; }
            var fr = st.Frames[f];
            for (int r = 0; r < 11; r++)
            {
                if ((_btRegs[f] & (1 << r)) == 0) continue;
                ref var reg = ref fr.Registers[r];
                if (reg.Type != RegisterType.Scalar || reg.Precise) _btRegs[f] &= (ushort)~(1 << r);
                else reg.Precise = true;
            }
            ulong slots = _btStack[f];
            while (slots != 0)
            {
                int s = System.Numerics.BitOperations.TrailingZeroCount(slots);
                slots &= slots - 1;
                var slot = fr.Stack[s];
                if (!slot.IsSpill || slot.Spilled.Type != RegisterType.Scalar || slot.Spilled.Precise) _btStack[f] &= ~(1UL << s);
                else MarkSpillPrecise(fr, s);
            }
            if (_btRegs[f] != 0 || _btStack[f] != 0) any = true;
        }
        return any;
    }

    /// <summary>The fallback when backtracking meets a flow it does not model: every scalar of every checkpoint on
    /// the path becomes precise (always sound, prunes less).</summary>
    private void MarkAllPrecise()
    {
        ClearBacktrack();
        if (Log.Verbose) LogFallback();
        for (var cp = Cur.Parent; cp is not null; cp = cp.Parent)
        {
            foreach (var fr in cp.State.Frames)
            {
                for (int r = 0; r < 10; r++)
                    if (fr.Registers[r].Type == RegisterType.Scalar && !fr.Registers[r].Precise)
                    {
                        fr.Registers[r].Precise = true;
                        if (Log.Verbose) LogForced(fr.FrameNo, r);
                    }
                for (int s = 0; s < FrameState.Slots; s++)
                    if (fr.Stack[s].IsSpill && fr.Stack[s].Spilled.Type == RegisterType.Scalar && !fr.Stack[s].Spilled.Precise)
                    {
                        MarkSpillPrecise(fr, s);
                        if (Log.Verbose) LogForcedSlot(fr.FrameNo, s);
                    }
            }
        }
    }

    private static void MarkSpillPrecise(FrameState frame, int slot)
    {
        ref var s = ref frame.WritableStack[slot];
        var value = s.Spilled;
        value.Precise = true;
        s.Spilled = value;
    }

    private bool RegWanted(int depth, int r) => (_btRegs[depth] & (1 << r)) != 0;

    private void Want(int depth, int r) { if (r < 10) _btRegs[depth] |= (ushort)(1 << r); }

    private void Drop(int depth, int r) => _btRegs[depth] &= (ushort)~(1 << r);

    /// <summary>backtrack_insn: what the instruction of <paramref name="e"/> needed precise given what is wanted after it.
    /// <paramref name="nextDepth"/> is the frame of the instruction that ran after it. False = not modelled.</summary>
    private bool BacktrackInsn(in HistoryEntry e, int nextDepth)
    {
        var insn = Insns[e.Insn];
        int d = e.Depth;
        if (nextDepth > d)
        {
            // A call entered the callee frame nextDepth: the callee's R1-R5 were the caller's.
            int callee = nextDepth;
            if (insn.IsLocalCall)
            {
                if ((_btRegs[callee] & ~0x3e) != 0 || _btStack[callee] != 0) return false;
                _btRegs[d] = (ushort)((_btRegs[d] & ~0x3f) | _btRegs[callee]);
            }
            else if (_btRegs[callee] != 0 || _btStack[callee] != 0)
            {
                // Callback arguments come from the helper, not from the caller's registers.
                return false;
            }
            _btRegs[callee] = 0;
            _btStack[callee] = 0;
            return true;
        }
        if (nextDepth < d)
        {
            // An exit returned to frame nextDepth: the caller's R0 is the callee's.
            bool wantR0 = RegWanted(nextDepth, 0);
            _btRegs[nextDepth] &= unchecked((ushort)~0x3f);
            _btRegs[d] = 0;
            _btStack[d] = 0;
            if (wantR0 && !e.CallbackExit) Want(d, 0);
            return true;
        }
        switch (insn.Class)
        {
            case InstructionClass.Alu:
            case InstructionClass.Alu64:
            {
                if (!RegWanted(d, insn.Dst)) return true;
                bool reg = insn.Source == OperandSource.Register;
                if (insn.AluOperation == AluOperation.Mov)
                {
                    Drop(d, insn.Dst);
                    if (reg && insn.Src != 10) Want(d, insn.Src);
                }
                else if (reg && insn.AluOperation != AluOperation.End && insn.AluOperation != AluOperation.Neg && insn.Src != 10)
                {
                    Want(d, insn.Src);
                }
                return true;
            }
            case InstructionClass.Ldx:
                if (!RegWanted(d, insn.Dst)) return true;
                Drop(d, insn.Dst);
                if (e.Stack != 0) WantSlot(e.Stack);
                return true;
            case InstructionClass.St:
            case InstructionClass.Stx:
            {
                if (e.Stack == 0) return true;
                int fr = (e.Stack - 1) / 64, slot = (e.Stack - 1) % 64;
                if ((_btStack[fr] & (1UL << slot)) == 0) return true;
                bool atomic = insn.AccessMode == AccessMode.Atomic;
                if (e.FullStackWrite && !atomic) _btStack[fr] &= ~(1UL << slot);
                if (insn.Class == InstructionClass.Stx) Want(d, insn.Src);
                return true;
            }
            case InstructionClass.Ld:
                if (insn.IsLoadImm64) Drop(d, insn.Dst);
                else _btRegs[d] &= unchecked((ushort)~0x3f);
                return true;
            default:
                switch (insn.JumpOperation)
                {
                    case JumpOperation.Call:
                        // Helpers, kfuncs and global functions define R0 and clobber R1-R5.
                        _btRegs[d] &= unchecked((ushort)~0x3f);
                        return true;
                    case JumpOperation.Exit:
                    case JumpOperation.Ja:
                        return true;
                }
                if (insn.Source == OperandSource.Register && (RegWanted(d, insn.Dst) || RegWanted(d, insn.Src)))
                {
                    // Each operand's bounds were refined by the other's.
                    Want(d, insn.Dst);
                    Want(d, insn.Src);
                }
                if (e.Linked != 0) WantLinked(e.Linked - 1);
                return true;
        }
    }

    private void WantSlot(short stack)
    {
        int fr = (stack - 1) / 64, slot = (stack - 1) % 64;
        _btStack[fr] |= 1UL << slot;
    }

    /// <summary>sync_linked_regs in reverse: if any scalar of a linked group is wanted, all of them are.</summary>
    private void WantLinked(int start)
    {
        int i = start;
        while (true)
        {
            int groupStart = i;
            bool hit = false;
            for (; _linked[i].Depth >= 0; i++)
            {
                var (depth, r) = _linked[i];
                if (r < 16 ? RegWanted(depth, r) : (_btStack[depth] & (1UL << (r - 16))) != 0) hit = true;
            }
            if (hit)
            {
                for (int j = groupStart; _linked[j].Depth >= 0; j++)
                {
                    var (depth, r) = _linked[j];
                    if (r < 16) Want(depth, r);
                    else _btStack[depth] |= 1UL << (r - 16);
                }
            }
            if (_linked[i].Depth == -2) { i = _linked[i].Reg; continue; }
            return;
        }
    }

    /// <summary>First instruction of the segment ending at checkpoint <paramref name="cp"/> (the state's first_insn_idx).</summary>
    private int SegmentStart(Checkpoint? cp) => cp?.Insn ?? Cur.Frames[0].FunctionStart;

    private void LogSegment(int lastIdx, Checkpoint? startCp, int subseqIdx, int frame) =>
        Log.Verbose2($"mark_precise: frame{frame}: last_idx {lastIdx} first_idx {SegmentStart(startCp)} subseq_idx {subseqIdx} \n");

    /// <summary>backtrack_insn's line: what is wanted after instruction <paramref name="idx"/>, in the frame of the
    /// instruction that ran after it.</summary>
    private void LogBacktrackInsn(int frame, int idx) =>
        Log.Verbose2($"mark_precise: frame{frame}: regs={RegMask(_btRegs[frame])} stack={StackMask(_btStack[frame])} before {idx}: {VerifierLog.Disassemble(Insns, idx, Input.HostHelpers)}\n");

    /// <summary>What is still wanted in checkpoint <paramref name="cp"/> after marking it, frame by frame from the innermost.</summary>
    private void LogParentState(Checkpoint cp, int frame)
    {
        var st = cp.State;
        for (int f = Math.Min(frame, st.Frames.Count - 1); f >= 0; f--)
            Log.Verbose2($"mark_precise: frame{f}: parent state regs={RegMask(_btRegs[f])} stack={StackMask(_btStack[f])}:  {StateFormatter.Frame(st.Frames[f], st)}\n");
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
        Log.Verbose2(sb.ToString());
    }

    private void LogFallback() =>
        Log.Verbose2($"mark_precise: frame{Cur.Frames.Count - 1}: falling back to forcing all scalars precise\n");

    private void LogForced(int frame, int reg) => Log.Verbose2($"force_precise: frame{frame}: forcing r{reg} to be precise\n");

    private void LogForcedSlot(int frame, int slot) => Log.Verbose2($"force_precise: frame{frame}: forcing fp{-(slot + 1) * 8} to be precise\n");

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
