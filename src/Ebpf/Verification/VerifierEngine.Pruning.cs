namespace Ebpf.Verification;

internal sealed partial class VerifierEngine
{
    private const int MaxStatesPerPoint = 64;

    /// <summary>
    /// is_state_visited: prune when a finished state at this instruction covers the current one; report an
    /// infinite loop when an unfinished (ancestor) state is identical; otherwise record a checkpoint.
    /// </summary>
    private bool IsStateVisited(int insn)
    {
        if (!_explored.TryGetValue(insn, out var list))
        {
            list = [];
            _explored[insn] = list;
        }
        foreach (var cp in list)
        {
            if (cp.Branches > 0)
            {
                // An ancestor on the current path: identical state means no progress is possible.
                if (StatesEqual(cp.State, _cur, exact: true))
                    throw Fail($"infinite loop detected at insn {insn}\ncur state: {StateFormatter.Frame(_cur.Current, _cur)}\nold state: {StateFormatter.Frame(cp.State.Current, cp.State)}", Errno.EINVAL);
                continue;
            }
            if (StatesEqual(cp.State, _cur, exact: false)) return true;
        }
        if (list.Count >= MaxStatesPerPoint)
        {
            int victim = list.FindIndex(c => c.Branches == 0);
            if (victim >= 0) list.RemoveAt(victim);
        }
        if (list.Count > _maxStatesPerInsn) _maxStatesPerInsn = list.Count;
        var checkpoint = new Checkpoint { State = _cur.Clone(), Parent = _cur.Parent, Insn = insn };
        checkpoint.State.Parent = null;
        _cur.Parent = checkpoint;
        list.Add(checkpoint);
        _totalStates++;
        return false;
    }

    /// <summary>states_equal: does every concrete state described by <paramref name="cur"/> also fit <paramref name="old"/>?</summary>
    private bool StatesEqual(VerifierState old, VerifierState cur, bool exact)
    {
        if (old.Frames.Count != cur.Frames.Count) return false;
        if (old.References.Count != cur.References.Count) return false;
        if ((old.ActiveLockId != 0) != (cur.ActiveLockId != 0)) return false;
        var idMap = new Dictionary<int, int>();
        var reverse = new Dictionary<int, int>();
        for (int i = 0; i < old.References.Count; i++)
            if (!MapIds(old.References[i].Id, cur.References[i].Id, idMap, reverse)) return false;
        for (int f = 0; f < old.Frames.Count; f++)
        {
            var of = old.Frames[f];
            var cf = cur.Frames[f];
            if (of.CallSite != cf.CallSite || of.FunctionStart != cf.FunctionStart || of.IsCallback != cf.IsCallback) return false;
            // Registers that are dead at the point where this frame resumes cannot matter.
            int resume = f == old.Frames.Count - 1 ? _insnIdx : old.Frames[f + 1].CallSite + 1;
            ushort live = resume < _cfg.LiveIn.Length ? _cfg.LiveIn[resume] : (ushort)0xffff;
            for (int r = 0; r < 10; r++)
            {
                if ((live & (1 << r)) == 0) continue;
                if (!RegSafe(of.Registers[r], cf.Registers[r], idMap, reverse, exact)) return false;
            }
            for (int s = 0; s < FrameState.Slots; s++)
                if (!SlotSafe(of.Stack[s], cf.Stack[s], idMap, reverse, exact)) return false;
        }
        return true;
    }

    private static bool MapIds(int oldId, int curId, Dictionary<int, int> map, Dictionary<int, int> reverse)
    {
        if (oldId == 0 && curId == 0) return true;
        if (oldId == 0 || curId == 0) return false;
        if (map.TryGetValue(oldId, out int mapped)) return mapped == curId;
        if (reverse.TryGetValue(curId, out int back)) return back == oldId;
        map[oldId] = curId;
        reverse[curId] = oldId;
        return true;
    }

    private static bool RangeWithin(in RegisterState old, in RegisterState cur) =>
        old.UMin <= cur.UMin && cur.UMax <= old.UMax && old.SMin <= cur.SMin && cur.SMax <= old.SMax
        && old.U32Min <= cur.U32Min && cur.U32Max <= old.U32Max && old.S32Min <= cur.S32Min && cur.S32Max <= old.S32Max
        && old.VarOff.Includes(cur.VarOff);

    private static bool SameValue(in RegisterState a, in RegisterState b) =>
        a.UMin == b.UMin && a.UMax == b.UMax && a.SMin == b.SMin && a.SMax == b.SMax
        && a.U32Min == b.U32Min && a.U32Max == b.U32Max && a.S32Min == b.S32Min && a.S32Max == b.S32Max && a.VarOff == b.VarOff;

    private static bool RegSafe(in RegisterState old, in RegisterState cur, Dictionary<int, int> idMap, Dictionary<int, int> reverse, bool exact)
    {
        if (exact)
        {
            if (old.Type != cur.Type) return false;
            if (old.Type == RegisterType.NotInit) return true;
            return SameValue(old, cur) && old.Off == cur.Off && old.MaybeNull == cur.MaybeNull && old.Range == cur.Range
                && ReferenceEquals(old.Map, cur.Map) && old.MemSize == cur.MemSize && old.FrameNo == cur.FrameNo
                && MapIds(old.Id, cur.Id, idMap, reverse) && MapIds(old.RefObjId, cur.RefObjId, idMap, reverse);
        }
        if (old.Type == RegisterType.NotInit) return true;
        if (cur.Type != old.Type) return false;
        if (old.Type == RegisterType.Scalar)
        {
            if (old.Id != 0 && !MapIds(old.Id, cur.Id, idMap, reverse)) return false;
            return RangeWithin(old, cur);
        }
        if (old.MaybeNull != cur.MaybeNull || old.Off != cur.Off || old.ReadOnly != cur.ReadOnly) return false;
        if (!ReferenceEquals(old.Map, cur.Map) || old.MemSize != cur.MemSize || old.FrameNo != cur.FrameNo || old.FuncInsn != cur.FuncInsn) return false;
        if (!RangeWithin(old, cur)) return false;
        if (old.IsPacketPointer)
        {
            if (old.Range < 0 ? cur.Range != old.Range : cur.Range < old.Range) return false;
            if (!MapIds(old.Id, cur.Id, idMap, reverse)) return false;
        }
        else if (old.MaybeNull || old.Id != 0)
        {
            if (!MapIds(old.Id, cur.Id, idMap, reverse)) return false;
        }
        return MapIds(old.RefObjId, cur.RefObjId, idMap, reverse);
    }

    private static bool SlotSafe(in StackSlot old, in StackSlot cur, Dictionary<int, int> idMap, Dictionary<int, int> reverse, bool exact)
    {
        if (exact)
        {
            if (old.Types != cur.Types) return false;
            return !old.IsFullSpill || RegSafe(old.Spilled, cur.Spilled, idMap, reverse, true);
        }
        if (old.IsEmpty) return true;
        if (old.IsFullSpill)
        {
            if (cur.IsFullSpill) return RegSafe(old.Spilled, cur.Spilled, idMap, reverse, false);
            // An old spilled unknown scalar is covered by plain data bytes.
            if (old.Spilled.Type == RegisterType.Scalar && old.Spilled.VarOff.IsUnknown && old.Spilled.Id == 0)
            {
                for (int i = 0; i < 8; i++) if (cur[i] is not (StackByte.Misc or StackByte.Zero)) return false;
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
                case StackByte.Invalid:
                    continue;
                case StackByte.Misc:
                    if (c is StackByte.Misc or StackByte.Zero) continue;
                    if (c == StackByte.Spill && cur.Spilled.Type == RegisterType.Scalar) continue;
                    return false;
                case StackByte.Zero:
                    if (c == StackByte.Zero) continue;
                    if (c == StackByte.Spill && cur.Spilled.IsConst && cur.Spilled.ConstValue == 0) continue;
                    return false;
                default:
                    return false;
            }
        }
        return true;
    }
}
