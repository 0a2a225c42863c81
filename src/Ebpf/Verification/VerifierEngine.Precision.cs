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
internal sealed partial class VerifierEngine
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
    private readonly ushort[] _btRegs = new ushort[MaxCallFrames + 1];
    private readonly ulong[] _btStack = new ulong[MaxCallFrames + 1];

    /// <summary>Appends the instruction about to run to the current path's history.</summary>
    private void PushHistory(int insn)
    {
        if (_histCount == _hist.Length) Array.Resize(ref _hist, _hist.Length * 2);
        _hist[_histCount] = new HistoryEntry { Insn = insn, Prev = _cur.HistTail, Depth = (byte)(_cur.Frames.Count - 1) };
        _cur.HistTail = _histCount++;
    }

    private void RecordStackAccess(int frameNo, int slot, bool fullSpill)
    {
        if (_cur.HistTail < 0) return;
        ref var e = ref _hist[_cur.HistTail];
        e.Stack = (short)(1 + frameNo * 64 + slot);
        e.FullStackWrite = fullSpill;
        _cur.JumpHistory++;
    }

    private void RecordCallbackExit()
    {
        if (_cur.HistTail >= 0) _hist[_cur.HistTail].CallbackExit = true;
    }

    /// <summary>Records which scalars share <paramref name="id"/> at this jump: a refinement reaches all of them.</summary>
    private void RecordLinked(int id)
    {
        if (id == 0 || _cur.HistTail < 0 || !_privileged) return;
        int start = _linked.Count;
        for (int f = 0; f < _cur.Frames.Count; f++)
        {
            var fr = _cur.Frames[f];
            for (int r = 0; r < 10; r++)
                if (fr.Registers[r].Type == RegisterType.Scalar && fr.Registers[r].Id == id) _linked.Add((f, r));
            for (int s = 0; s < FrameState.Slots; s++)
                if (fr.Stack[s].IsSpill && fr.Stack[s].Spilled.Type == RegisterType.Scalar && fr.Stack[s].Spilled.Id == id) _linked.Add((f, 16 + s));
        }
        if (_linked.Count - start < 2) { _linked.RemoveRange(start, _linked.Count - start); return; }
        ref var e = ref _hist[_cur.HistTail];
        // A second group at the same jump (both operands linked) chains to the first; (-1, -1) ends the chain.
        _linked.Add(e.Linked != 0 ? (-2, e.Linked - 1) : (-1, -1));
        e.Linked = start + 1;
    }

    // ---- marking ----

    /// <summary>mark_chain_precision: the value of scalar register <paramref name="regno"/> of the current frame
    /// decided something at the current instruction.</summary>
    private void MarkPrecise(int regno)
    {
        if (!_privileged || regno is < 0 or >= 10) return;
        if (Reg(regno).Type != RegisterType.Scalar) return;
        ClearBacktrack();
        _btRegs[_cur.Frames.Count - 1] = (ushort)(1 << regno);
        Backtrack(skipFirst: true);
    }

    /// <summary>The value spilled in stack slot <paramref name="slot"/> of frame <paramref name="frameNo"/> decided something.</summary>
    private void MarkPreciseSlot(int frameNo, int slot)
    {
        if (!_privileged) return;
        ClearBacktrack();
        _btStack[frameNo] = 1UL << slot;
        Backtrack(skipFirst: true);
    }

    /// <summary>propagate_precision: the current path was pruned by <paramref name="old"/>, so what was precise there
    /// is precise for the current path's checkpoints too.</summary>
    private void PropagatePrecision(VerifierState old)
    {
        if (!_privileged) return;
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
        if (_log.Verbose) LogPropagating(old);
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
        int i = _cur.HistTail;
        var cp = _cur.Parent;
        int nextDepth = _cur.Frames.Count - 1;
        bool first = skipFirst;
        // Propagation starts at the pruned instruction, which never ran (the kernel skips it as the first).
        if (_log.Verbose) LogSegment(skipFirst ? _hist[i].Insn : _insnIdx, cp, -1, nextDepth);
        while (true)
        {
            while (cp is not null && cp.HistPos == i)
            {
                bool more = MarkCheckpoint(cp);
                if (_log.Verbose) LogParentState(cp, nextDepth);
                if (!more) return;
                if (_log.Verbose) LogSegment(i >= 0 ? _hist[i].Insn : -1, cp.Parent, cp.Insn, nextDepth);
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
                if (_log.Verbose) LogBacktrackInsn(nextDepth, e.Insn);
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
        if (_log.Verbose) LogFallback();
        for (var cp = _cur.Parent; cp is not null; cp = cp.Parent)
        {
            foreach (var fr in cp.State.Frames)
            {
                for (int r = 0; r < 10; r++)
                    if (fr.Registers[r].Type == RegisterType.Scalar && !fr.Registers[r].Precise)
                    {
                        fr.Registers[r].Precise = true;
                        if (_log.Verbose) LogForced(fr.FrameNo, r);
                    }
                for (int s = 0; s < FrameState.Slots; s++)
                    if (fr.Stack[s].IsSpill && fr.Stack[s].Spilled.Type == RegisterType.Scalar && !fr.Stack[s].Spilled.Precise)
                    {
                        MarkSpillPrecise(fr, s);
                        if (_log.Verbose) LogForcedSlot(fr.FrameNo, s);
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
        var insn = _insns[e.Insn];
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
}
