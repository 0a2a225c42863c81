using System.Numerics;

namespace Ebpf.Verification;

/// <summary>
/// State pruning (the kernel's is_state_visited / states_equal / regsafe / stacksafe): the checkpoints stored per
/// pruning point, the decision whether the current state is covered by one of them, and the liveness and precision
/// they pass back to the checkpoints on the path. Owns the explored-state lists and the state statistics.
/// </summary>
internal sealed class StatePruning(VerifierContext walk) : VerifierComponent(walk)
{
    /// <summary>Stored states per instruction (the kernel's explored_states), indexed by instruction.</summary>
    private readonly List<Checkpoint>?[] _explored = new List<Checkpoint>?[walk.Insns.Count];

    public int TotalStates { get; private set; }

    public int MaxStatesPerInsn { get; private set; }

    internal static void UpdateBranchCounts(Checkpoint? cp)
    {
        while (cp is not null)
        {
            cp.Branches--;
            if (cp.Branches > 0) break;
            cp = cp.Parent;
        }
    }

    private int _prevJmpsProcessed;

    private int _prevInsnsProcessed;

    private int _liveStates;

    public int PeakStates { get; private set; }

    /// <summary>
    /// is_state_visited: prune when a finished state at this instruction covers the current one; report an
    /// infinite loop when an unfinished (ancestor) state is identical; otherwise maybe record a checkpoint.
    /// Like the kernel, a checkpoint is only added after at least 2 jumps and 8 instructions since the last one
    /// (or a long history), and a stored state that keeps failing to prune (misses > 3 × hits + 3) is dropped.
    /// </summary>
    internal bool IsStateVisited(int insn)
    {
        // A may_goto is always a checkpoint (the kernel's mark_force_checkpoint): loop iterations meet there.
        bool mayGoto = Insns[insn].Opcode == Ebpf.Isa.OpcodeExtras.MayGoto;
        // A helper calling a callback too: the callback's iterations return there.
        bool callsCallback = Cfg.CallsCallback[insn];
        // An iterator's _next call too: every iteration meets there (mark_force_checkpoint on is_iter_next_insn).
        bool iterNext = Iterators.IsNextCall(insn);
        bool force = Cur.JumpHistory > 40 || mayGoto || callsCallback || iterNext;
        bool addNew = force || (JumpsProcessed - _prevJmpsProcessed >= 2 && Processed - _prevInsnsProcessed >= 8);
        var list = _explored[insn];
        if (list is not null)
        {
            // Newest first, as the kernel's list.
            for (int k = list.Count - 1; k >= 0; k--)
            {
                var cp = list[k];
                if (!SameCallSites(cp.State, Cur)) continue;
                if (cp.Branches > 0)
                {
                    // An iterator loop converges when a later iteration, its iterator still active, lies within an
                    // earlier one still being explored: the iterator eventually returns NULL, and that path is
                    // explored from the earlier state (is_state_visited on is_iter_next_insn).
                    if (iterNext && IteratorSlots.R1IteratorActive(Cur) && RangeWithinState(cp.State, Cur))
                    {
                        cp.HitCount++;
                        PropagateLiveness(cp.State);
                        Precision.PropagatePrecision(cp.State);
                        return true;
                    }
                    // A later iteration of a may_goto loop whose values lie within an earlier one's: nothing new can
                    // happen from here (the kernel compares RANGE_WITHIN, imprecise scalars included).
                    if (mayGoto && cp.State.MayGotoDepth != Cur.MayGotoDepth && RangeWithinState(cp.State, Cur))
                    {
                        cp.HitCount++;
                        PropagateLiveness(cp.State);
                        Precision.PropagatePrecision(cp.State);
                        return true;
                    }
                    // A callback iteration back at its helper call with values within an earlier iteration's.
                    if (callsCallback && RangeWithinState(cp.State, Cur))
                    {
                        cp.HitCount++;
                        PropagateLiveness(cp.State);
                        Precision.PropagatePrecision(cp.State);
                        return true;
                    }
                    // An ancestor on the current path: identical state means no progress is possible.
                    if (!callsCallback && !iterNext && !IteratorSlots.ActiveDepthsDiffer(cp.State, Cur) && cp.State.MayGotoDepth == Cur.MayGotoDepth && cp.State.CallbackUnrollDepth == Cur.CallbackUnrollDepth
                        && MaybeLooping(cp.State, Cur) && StatesEqual(cp.State, Cur, exact: true))
                        throw new VerifierError(Errno.EINVAL, $"infinite loop detected at insn {insn}\ncur state: {StateFormatter.Frame(Cur.Current, Cur)}\nold state: {StateFormatter.Frame(cp.State.Current, cp.State)}", Engine.PreviousInsn);
                    // Inside a loop: different iterations rarely help each other, so checkpoint less often.
                    if (!force && JumpsProcessed - _prevJmpsProcessed < 20 && Processed - _prevInsnsProcessed < 100) addNew = false;
                }
                else if (IteratorSlots.HasActiveIterator(cp.State) ? RangeWithinState(cp.State, Cur) : StatesEqual(cp.State, Cur, exact: false))
                {
                    cp.HitCount++;
                    PropagateLiveness(cp.State);
                    Precision.PropagatePrecision(cp.State);
                    return true;
                }
                if (addNew) cp.MissCount++;
                if (cp.MissCount > cp.HitCount * 3 + 3)
                {
                    list.RemoveAt(k);
                    cp.Evicted = true;
                    _liveStates--;
                }
            }
        }
        if (!addNew) return false;
        if (list is null)
        {
            list = [];
            _explored[insn] = list;
        }
        _prevJmpsProcessed = JumpsProcessed;
        _prevInsnsProcessed = Processed;
        var copy = Cur.Clone();
        copy.Parent = null;
        var checkpoint = new Checkpoint { State = copy, Parent = Cur.Parent, Insn = insn, HistPos = Cur.HistTail };
        Cur.Parent = checkpoint;
        Cur.JumpHistory = 0;
        foreach (var f in Cur.Frames) f.WrittenSlots = 0;
        foreach (var f in copy.Frames) f.ReadSlots = 0;
        list.Add(checkpoint);
        if (list.Count > MaxStatesPerInsn) MaxStatesPerInsn = list.Count;
        TotalStates++;
        if (++_liveStates > PeakStates) PeakStates = _liveStates;
        return false;
    }

    /// <summary>
    /// find_prev_entry: the state this path had at <paramref name="insn"/> on an earlier pass (an ancestor checkpoint
    /// at the same instruction and call sites), skipping the checkpoint just made for the current pass (a may_goto,
    /// which has one; a callback returning to its helper call has not made it yet).
    /// </summary>
    internal VerifierState? FindPreviousIteration(int insn, bool skipCurrent = true)
    {
        var cp = Cur.Parent;
        if (skipCurrent && cp is not null && cp.Insn == insn && SameCallSites(cp.State, Cur)) cp = cp.Parent;
        for (; cp is not null; cp = cp.Parent)
            if (cp.Insn == insn && !cp.Evicted && SameCallSites(cp.State, Cur)) return cp.State;
        return null;
    }

    /// <summary>widen_imprecise_scalars: a scalar that changed since the previous iteration and never decided
    /// anything forgets its value, so the iterations' states converge.</summary>
    internal static void WidenImpreciseScalars(VerifierState old, VerifierState cur)
    {
        for (int f = Math.Min(old.Frames.Count, cur.Frames.Count) - 1; f >= 0; f--)
        {
            var of = old.Frames[f];
            var cf = cur.Frames[f];
            for (int r = 0; r < 11; r++)
                if (Widens(of.Registers[r], cf.Registers[r])) cf.Registers[r] = RegisterState.UnknownScalar();
            for (int s = 0; s < FrameState.Slots; s++)
            {
                if (!of.Stack[s].IsSpill || !cf.Stack[s].IsSpill) continue;
                if (Widens(of.Stack[s].Spilled, cf.Stack[s].Spilled)) cf.WritableStack[s].Spilled = RegisterState.UnknownScalar();
            }
        }
    }

    private static bool Widens(in RegisterState old, in RegisterState cur) =>
        old.Type == RegisterType.Scalar && cur.Type == RegisterType.Scalar && !old.Precise && !cur.Precise
        && !(SameValue(old, cur) && old.Id == cur.Id);

    private bool _rangeWithin;

    /// <summary>states_equal(RANGE_WITHIN): like the pruning comparison, but scalars are compared by range whether
    /// precise or not, and every stack slot must hold the same kinds of bytes.</summary>
    private bool RangeWithinState(VerifierState old, VerifierState cur)
    {
        _rangeWithin = true;
        try
        {
            return StatesEqual(old, cur, exact: false);
        }
        finally
        {
            _rangeWithin = false;
        }
    }

    /// <summary>states_maybe_looping: a cheap filter before the exact comparison (the current frame's registers
    /// hold the same types and values).</summary>
    private static bool MaybeLooping(VerifierState old, VerifierState cur)
    {
        var a = old.Current.Registers;
        var b = cur.Current.Registers;
        for (int r = 0; r < 10; r++)
            if (a[r].Type != b[r].Type || a[r].VarOff != b[r].VarOff || a[r].SMin != b[r].SMin || a[r].SMax != b[r].SMax || a[r].Off != b[r].Off) return false;
        return true;
    }

    private static bool SameCallSites(VerifierState a, VerifierState b)
    {
        if (a.Frames.Count != b.Frames.Count) return false;
        for (int f = 0; f < a.Frames.Count; f++)
        {
            var x = a.Frames[f];
            var y = b.Frames[f];
            if (x.CallSite != y.CallSite || x.FunctionStart != y.FunctionStart || x.IsCallback != y.IsCallback) return false;
        }
        return true;
    }

    // ---- stack liveness (read marks) ----

    /// <summary>mark_reg_read for a stack slot: the current path reads <paramref name="slot"/> of
    /// <paramref name="frame"/>, so every checkpoint back to the one after the slot's last full write must keep it.</summary>
    internal void MarkStackRead(FrameState frame, int slot)
    {
        ulong bit = 1UL << slot;
        if ((frame.WrittenSlots & bit) != 0) return;
        int f = frame.FrameNo;
        for (var cp = Cur.Parent; cp is not null; cp = cp.Parent)
        {
            var frames = cp.State.Frames;
            if (frames.Count <= f) return;
            var pf = frames[f];
            if (pf.Serial != frame.Serial || (pf.ReadSlots & bit) != 0) return;
            pf.ReadSlots |= bit;
            if ((pf.WrittenSlots & bit) != 0) return;
        }
    }

    /// <summary>propagate_liveness: what the pruning state's continuation read, the current path would have read.</summary>
    private void PropagateLiveness(VerifierState old)
    {
        for (int f = 0; f < old.Frames.Count; f++)
        {
            ulong read = old.Frames[f].ReadSlots;
            var frame = Cur.Frames[f];
            while (read != 0)
            {
                int s = System.Numerics.BitOperations.TrailingZeroCount(read);
                read &= read - 1;
                MarkStackRead(frame, s);
            }
        }
    }

    // ---- state comparison ----

    private int[] _idOld = new int[16];

    private int[] _idCur = new int[16];

    private int _idCount;

    private int _tmpIdGen;

    /// <summary>states_equal: does every concrete state described by <paramref name="cur"/> also fit <paramref name="old"/>?</summary>
    private bool StatesEqual(VerifierState old, VerifierState cur, bool exact)
    {
        if (old.Frames.Count != cur.Frames.Count) return false;
        // A state seen only under misprediction never covers an architectural one (states_equal).
        if (old.Speculative && !cur.Speculative) return false;
        if (old.References.Count != cur.References.Count) return false;
        if ((old.ActiveLockId != 0) != (cur.ActiveLockId != 0)) return false;
        _idCount = 0;
        _tmpIdGen = 0;
        for (int i = 0; i < old.References.Count; i++)
            if (!MapIds(old.References[i].Id, cur.References[i].Id)) return false;
        for (int f = 0; f < old.Frames.Count; f++)
        {
            var of = old.Frames[f];
            var cf = cur.Frames[f];
            if (of.CallSite != cf.CallSite || of.FunctionStart != cf.FunctionStart || of.IsCallback != cf.IsCallback) return false;
            // Registers that are dead at the point where this frame resumes cannot matter.
            int resume = f == old.Frames.Count - 1 ? InsnIdx
                : old.Frames[f + 1].ReturnsToCallSite ? old.Frames[f + 1].CallSite : old.Frames[f + 1].CallSite + 1;
            ushort live = resume < Cfg.LiveIn.Length ? Cfg.LiveIn[resume] : (ushort)0xffff;
            var oregs = of.Registers;
            var cregs = cf.Registers;
            for (int r = 0; r < 10; r++)
            {
                if ((live & (1 << r)) == 0) continue;
                if (!RegSafe(oregs[r], cregs[r], exact)) return false;
            }
            var ostack = of.Stack;
            var cstack = cf.Stack;
            if (exact)
            {
                for (int s = 0; s < FrameState.Slots; s++)
                    if (!SlotSafe(ostack[s], cstack[s], exact: true)) return false;
                continue;
            }
            if (_rangeWithin)
            {
                for (int s = 0; s < FrameState.Slots; s++)
                {
                    if (ostack[s].Types != cstack[s].Types) return false;
                    if (ostack[s].IsSpill && !RegSafe(ostack[s].Spilled, cstack[s].Spilled, false)) return false;
                    if (ostack[s].HasObjectBytes && !ObjectSafe(ostack[s].Spilled, cstack[s].Spilled)) return false;
                }
                continue;
            }
            // Only slots some continuation of the old state read can make a difference.
            ulong read = of.ReadSlots;
            while (read != 0)
            {
                int s = System.Numerics.BitOperations.TrailingZeroCount(read);
                read &= read - 1;
                if (!SlotSafe(ostack[s], cstack[s], exact: false)) return false;
            }
        }
        return true;
    }

    /// <summary>check_ids: old and current ids must correspond one to one.</summary>
    private bool MapIds(int oldId, int curId)
    {
        if (oldId == 0 && curId == 0) return true;
        if (oldId == 0 || curId == 0) return false;
        for (int i = 0; i < _idCount; i++)
        {
            if (_idOld[i] == oldId) return _idCur[i] == curId;
            if (_idCur[i] == curId) return false;
        }
        if (_idCount == _idOld.Length)
        {
            Array.Resize(ref _idOld, _idCount * 2);
            Array.Resize(ref _idCur, _idCount * 2);
        }
        _idOld[_idCount] = oldId;
        _idCur[_idCount++] = curId;
        return true;
    }

    private static bool RangeWithin(in RegisterState old, in RegisterState cur) =>
        old.UMin <= cur.UMin && cur.UMax <= old.UMax && old.SMin <= cur.SMin && cur.SMax <= old.SMax
        && old.U32Min <= cur.U32Min && cur.U32Max <= old.U32Max && old.S32Min <= cur.S32Min && cur.S32Max <= old.S32Max
        && old.VarOff.Includes(cur.VarOff);

    private static bool SameValue(in RegisterState a, in RegisterState b) =>
        a.UMin == b.UMin && a.UMax == b.UMax && a.SMin == b.SMin && a.SMax == b.SMax
        && a.U32Min == b.U32Min && a.U32Max == b.U32Max && a.S32Min == b.S32Min && a.S32Max == b.S32Max && a.VarOff == b.VarOff;

    /// <summary>An old scalar whose value never decided anything matches any current scalar. Without CAP_BPF the
    /// kernel tracks no precision: every scalar is compared by value.</summary>
    private bool Imprecise(in RegisterState old) => !old.Precise && Privileged && !_rangeWithin;

    private bool RegSafe(in RegisterState old, in RegisterState cur, bool exact)
    {
        if (exact)
        {
            if (old.Type != cur.Type) return false;
            if (old.Type == RegisterType.NotInit) return true;
            return SameValue(old, cur) && old.Off == cur.Off && old.MaybeNull == cur.MaybeNull && old.Range == cur.Range
                && ReferenceEquals(old.Map, cur.Map) && old.MemSize == cur.MemSize && old.FrameNo == cur.FrameNo && old.Trust == cur.Trust
                && old.FuncInsn == cur.FuncInsn // regs_exact's memcmp covers it (a callback's subprog, a slice's buffer, an iterator element's mark)
                && MapIds(old.Id, cur.Id) && MapIds(old.RefObjId, cur.RefObjId);
        }
        if (old.Type == RegisterType.NotInit) return true;
        if (cur.Type != old.Type) return false;
        if (old.Type == RegisterType.Scalar)
        {
            // explore_alu_limits: once an offset was masked, scalars must match exactly (each path's mask is checked).
            if (Sanitizer.ExploreAluLimits)
                return SameValue(old, cur) && old.Off == cur.Off
                    && ((old.Id == 0 && cur.Id == 0) || MapIds(old.Id != 0 ? old.Id : --_tmpIdGen, cur.Id != 0 ? cur.Id : --_tmpIdGen));
            if (Imprecise(old)) return true;
            // A link through rX += K holds only with the same difference: the old state's later refinements assumed it.
            if ((old.Id & RegisterState.AddConstMask) != (cur.Id & RegisterState.AddConstMask)) return false;
            if ((old.Id & RegisterState.AddConstMask) != 0 && old.Off != cur.Off) return false;
            // check_scalar_ids: an id-less scalar gets a fresh id, so links present in the old state must be present
            // (and the same) in the current one only among the scalars compared.
            if ((old.Id != 0 || cur.Id != 0) && !MapIds(old.Id != 0 ? old.Id : --_tmpIdGen, cur.Id != 0 ? cur.Id : --_tmpIdGen)) return false;
            return RangeWithin(old, cur);
        }
        if (old.MaybeNull != cur.MaybeNull || old.Off != cur.Off || old.ReadOnly != cur.ReadOnly || old.Trust != cur.Trust) return false;
        if (!ReferenceEquals(old.Map, cur.Map) || old.MemSize != cur.MemSize || old.FrameNo != cur.FrameNo || old.FuncInsn != cur.FuncInsn) return false;
        if (!RangeWithin(old, cur)) return false;
        if (old.IsPacketPointer)
        {
            if (old.Range < 0 ? cur.Range != old.Range : cur.Range < old.Range) return false;
            if (!MapIds(old.Id, cur.Id)) return false;
        }
        else if (old.MaybeNull || old.Id != 0)
        {
            if (!MapIds(old.Id, cur.Id)) return false;
        }
        return MapIds(old.RefObjId, cur.RefObjId);
    }

    /// <summary>stacksafe for STACK_ITER / STACK_DYNPTR: same object type and state, references and ids that
    /// correspond. An iterator's depth is not compared (it would keep iterations from converging).</summary>
    private bool ObjectSafe(in RegisterState old, in RegisterState cur) =>
        old.MemSize == cur.MemSize && old.FuncInsn == cur.FuncInsn && old.Off == cur.Off
        && MapIds(old.RefObjId, cur.RefObjId) && MapIds(old.Id, cur.Id);

    private bool SlotSafe(in StackSlot old, in StackSlot cur, bool exact)
    {
        if (exact)
        {
            if (old.Types != cur.Types) return false;
            if (old.HasObjectBytes) return ObjectSafe(old.Spilled, cur.Spilled);
            return !old.IsSpill || RegSafe(old.Spilled, cur.Spilled, true);
        }
        if (old.IsEmpty) return true;
        // An iterator (or dynptr) slot: the same object in the same state (stacksafe's STACK_ITER / STACK_DYNPTR).
        if (old.HasObjectBytes) return old.Types == cur.Types && ObjectSafe(old.Spilled, cur.Spilled);
        if (old.IsFullSpill)
        {
            if (cur.IsFullSpill) return RegSafe(old.Spilled, cur.Spilled, false);
            // A spilled scalar whose value never mattered (or is fully unknown) is covered by a slot of plain data
            // bytes, which reads back as an unknown scalar. Like the kernel's stacksafe (is_stack_all_misc), zero
            // bytes do not count: a slot mixing data and zero bytes (or all zero) is compared byte by byte there,
            // and spill against data fails. Pruning more than the kernel here changes which path reaches a state
            // first, and so what later checkpoints hold.
            if (old.Spilled.Type == RegisterType.Scalar && (Imprecise(old.Spilled) || (old.Spilled.VarOff.IsUnknown && old.Spilled.Id == 0)))
            {
                for (int i = 0; i < 8; i++)
                    if (!(cur[i] == StackByte.Misc || (cur[i] == StackByte.Invalid && Privileged))) return false;
                return true;
            }
            return false;
        }
        for (int i = 0; i < 8; i++)
        {
            var o = old[i];
            var c = cur.IsFullSpill ? StackByte.Spill : cur[i];
            switch (o)
            {
                case StackByte.Spill:
                    // A narrow spill: the current slot must hold a spill over these bytes too, and its register must
                    // fit the old one (compared once, below).
                    if (c != StackByte.Spill) return false;
                    continue;
                case StackByte.Invalid:
                    continue;
                case StackByte.Misc:
                    // With CAP_BPF (allow_uninit_stack) old data bytes cover anything, as in the kernel's stacksafe.
                    if (c is StackByte.Misc or StackByte.Zero || Privileged) continue;
                    if (c == StackByte.Spill && cur.Spilled.Type == RegisterType.Scalar) continue;
                    return false;
                case StackByte.Zero:
                    // Only zero bytes match: the kernel's stacksafe compares a zero byte with a spilled zero by slot
                    // type, and they differ. Covering it here would prune paths the kernel explores, changing which
                    // states later checkpoints hold.
                    if (c == StackByte.Zero) continue;
                    return false;
                default:
                    return false;
            }
        }
        return !old.IsSpill || RegSafe(old.Spilled, cur.Spilled, false);
    }
}
