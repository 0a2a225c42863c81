using Ebpf.Btf;
using Ebpf.Isa;

namespace Ebpf.Verification;

/// <summary>What an open-coded iterator kfunc does with its iterator (the kernel's KF_ITER_NEW / _NEXT / _DESTROY).</summary>
internal enum IteratorOperation
{
    New,
    Next,
    Destroy,
}

/// <summary>
/// Open-coded iterators (bpf_iter_&lt;type&gt;_new / _next / _destroy): the iterator's state lives in STACK_ITER slots
/// of the program's stack, created by _new (an acquired reference, like the kernel's mark_stack_slots_iter), checked
/// by _next and _destroy (is_iter_reg_valid_init), released by _destroy. A _next call forks the path as the kernel's
/// process_iter_next_call does: the current path sees the iterator drained and NULL, a queued path one iteration
/// deeper with a non-NULL element; state pruning at the _next call (RANGE_WITHIN against the earlier iteration still
/// being explored) proves the loop converges.
/// </summary>
/// <remarks>
/// The slot's iterator facts ride on the slot's spilled-register box (the kernel's <c>spilled_ptr.iter</c>):
/// <see cref="RegisterState.MemSize"/> is the interned iterator struct name, <see cref="RegisterState.RefObjId"/> the
/// reference (first slot only), <see cref="RegisterState.FuncInsn"/> the state and <see cref="RegisterState.Range"/>
/// the depth.
/// </remarks>
internal sealed class IteratorSlots(VerifierContext walk) : VerifierComponent(walk)
{
    public const int Active = 1, Drained = 2;

    /// <summary>The iterator families whose kfuncs the managed runtime implements. Task, css, cgroup, dmabuf, kmem_cache
    /// and other iterators walk kernel objects the managed runtime does not have: they stay refused.</summary>
    private static readonly HashSet<string> Supported = new(StringComparer.Ordinal) { "num", "bits" };

    /// <summary>btf_check_iter_kfuncs' naming convention: bpf_iter_&lt;type&gt;_{new,next,destroy} whose first argument
    /// points to struct bpf_iter_&lt;type&gt;.</summary>
    public static (IteratorOperation Op, string Type)? Classify(string name)
    {
        if (!name.StartsWith("bpf_iter_", StringComparison.Ordinal)) return null;
        foreach (var (suffix, op) in new[] { ("_new", IteratorOperation.New), ("_next", IteratorOperation.Next), ("_destroy", IteratorOperation.Destroy) })
        {
            if (!name.EndsWith(suffix, StringComparison.Ordinal)) continue;
            string type = name["bpf_iter_".Length..^suffix.Length];
            return type.Length == 0 ? null : (op, type);
        }
        return null;
    }

    /// <summary>A kfunc of an iterator family this verifier and the runtime model.</summary>
    public static bool IsSupported(string name) => Classify(name) is { } c && Supported.Contains(c.Type);

    /// <summary>Instructions that call an iterator's _next kfunc: prune points where a checkpoint is always made.</summary>
    private readonly HashSet<int> _nextCalls = [];

    public bool IsNextCall(int insn) => _nextCalls.Contains(insn);

    /// <summary>Before the walk: the _next calls become forced checkpoints (the kernel's mark_force_checkpoint and
    /// mark_prune_point on is_iter_next_insn).</summary>
    internal void FindNextCalls()
    {
        for (int i = 0; i < Insns.Count; i++)
        {
            var insn = Insns[i];
            if (insn.IsLoadImm64) { i++; continue; }
            if (!insn.IsCall || insn.Src != (byte)CallSource.Kfunc || insn.Offset != 0) continue;
            var kf = Input.KernelFunctions is { } byInsn && byInsn.TryGetValue(i, out var k) ? k : KernelFunctions.ResolveById(insn.Imm, Input.Profile.KernelBtf);
            if (kf is null || Classify(kf.Name) is not { Op: IteratorOperation.Next }) continue;
            _nextCalls.Add(i);
            Cfg.PrunePoint[i] = Cfg.JumpPoint[i] = true;
        }
    }

    /// <summary>The struct the first argument points to and the number of stack slots it takes.</summary>
    private (string Name, int Slots) IteratorStruct(KernelFunction kf, BtfFuncProto proto, string type)
    {
        var btf = kf.Btf;
        uint ptr = proto.Parameters.Count > 0 ? btf.SkipTypedefs(proto.Parameters[0].Type) : 0;
        if (ptr == 0 || !btf.TryGetType(ptr, out var p) || p is not BtfPtr bp
            || !btf.TryGetType(btf.SkipTypedefs(bp.Type), out var s) || s is not BtfComposite { Kind: BtfKind.Struct } st
            || st.Name != "bpf_iter_" + type || st.Size == 0 || st.Size % 8 != 0)
            throw Fail("expected valid iter pointer as arg #0", Errno.EINVAL);
        return (st.Name, (int)st.Size / 8);
    }

    /// <summary>
    /// process_iter_arg for the first argument (R1): _new needs uninitialised slots and makes the iterator; _next and
    /// _destroy need an initialised iterator of this type; _destroy releases it. Returns the iterator's reference id
    /// (0 for _new).
    /// </summary>
    internal int ProcessIterArg(KernelFunction kf, BtfFuncProto proto, IteratorOperation op, string type)
    {
        var (structName, nrSlots) = IteratorStruct(kf, proto, type);
        var reg = Reg(1);
        if (reg.Type != RegisterType.Stack)
            throw Fail("arg#0 expected pointer to an iterator on stack", Errno.EINVAL);
        var frame = StackMem.StackFrame(reg);
        int spi = SlotIndex(reg, nrSlots, "iter", out string? why);
        string prefix = why is null ? "" : why + "\n";
        int typeId = KernelTypes.Intern(structName);
        if (op == IteratorOperation.New)
        {
            // is_iter_reg_valid_uninit: a misplaced iterator is refused, one (partly) outside the stack is left to
            // the bounds check of the write that follows.
            bool uninit = spi != -2;
            for (int i = 0; i < nrSlots && spi >= 0; i++)
                if (frame.Stack[spi - i].HasIterBytes()) uninit = false;
            if (!uninit) throw Fail($"{prefix}expected uninitialized iter_{type} as arg #0", Errno.EINVAL);
            // check_mem_access of each 8-byte word as a write: bounds and stack depth.
            long start = reg.Off + (long)reg.VarOff.Value;
            for (int i = 0; i < nrSlots; i++)
                if (start + i * 8 < -FrameState.StackSize || start + i * 8 + 8 > 0)
                    throw Fail($"invalid write to stack R1 off={start + i * 8} size=8");
            StackMem.TouchStack(frame, (int)start);
            spi = FrameState.SlotOf((int)start);
            int id = NewId();
            Cur.References.Add(new AcquiredReference(id, InsnIdx));
            var stack = frame.WritableStack;
            for (int i = 0; i < nrSlots; i++)
            {
                var meta = RegisterState.Pointer(RegisterType.Stack);
                meta.MemSize = typeId;
                meta.RefObjId = i == 0 ? id : 0;
                meta.FuncInsn = Active;
                meta.Range = 0;
                stack[spi - i] = new StackSlot { Types = 0x0505050505050505UL, Spilled = meta };
                frame.WrittenSlots |= 1UL << (spi - i);
                Log.ScratchSlot(frame.FrameNo, spi - i);
            }
            return 0;
        }
        if (spi < 0 || !IsValidInit(frame, spi, nrSlots, typeId))
            throw Fail($"{prefix}expected an initialized iter_{type} as arg #0", Errno.EINVAL);
        for (int i = 0; i < nrSlots; i++)
        {
            Pruning.MarkStackRead(frame, spi - i);
            Log.ScratchSlot(frame.FrameNo, spi - i);
        }
        int refId = frame.Stack[spi].Spilled.RefObjId;
        _lastIter = (frame.FrameNo, spi);
        if (op == IteratorOperation.Destroy)
        {
            Subprograms.ReleaseReference(refId);
            var stack = frame.WritableStack;
            for (int i = 0; i < nrSlots; i++) stack[spi - i] = default;
        }
        return refId;
    }

    /// <summary>
    /// process_iter_next_call, after R0 was set to the maybe-NULL element: an active iterator queues the path where the
    /// element is there (one iteration deeper, imprecise scalars widened against the previous iteration so the loop
    /// converges); the current path goes on with the iterator drained and R0 = NULL.
    /// </summary>
    internal void ProcessNextCall()
    {
        var (frameNo, spi) = _lastIter;
        var frame = Cur.Frames[frameNo];
        var slot = frame.Stack[spi].Spilled;
        if (slot.FuncInsn == Active)
        {
            var queued = Cur.Clone();
            var qframe = queued.Frames[frameNo];
            var meta = qframe.Stack[spi].Spilled;
            meta.Range++;
            qframe.WritableStack[spi].Spilled = meta;
            if (Pruning.FindPreviousIteration(InsnIdx) is { } prev) StatePruning.WidenImpreciseScalars(prev, queued);
            queued.Current.Registers[0].MaybeNull = false;
            Engine.PushBranch(queued, InsnIdx + 1, InsnIdx);
        }
        var drained = slot;
        drained.FuncInsn = Drained;
        frame.WritableStack[spi].Spilled = drained;
        SetReg(0, RegisterState.ConstScalar(0));
    }

    /// <summary>The iterator the current _next call works on (the kernel's meta->iter.frameno / spi).</summary>
    private (int Frame, int Spi) _lastIter;

    /// <summary>stack_slot_obj_get_spi: the object must sit at a constant, 8-byte aligned offset with room for its
    /// slots. Returns the first slot, -1 when the object lies (partly) outside the stack (the kernel's -ERANGE), or
    /// -2 with <paramref name="why"/> set when it is misplaced (the kernel logs that line, then the caller's).</summary>
    internal static int SlotIndex(in RegisterState reg, int nrSlots, string kind, out string? why)
    {
        why = null;
        if (!reg.VarOff.IsConst)
        {
            why = $"{kind} has to be at a constant offset";
            return -2;
        }
        long off = reg.Off + (long)reg.VarOff.Value;
        long spi = (-off - 1) / 8; // __get_spi, truncating as C does
        if (off % 8 != 0 || spi + 1 < nrSlots)
        {
            why = $"cannot pass in {kind} at an offset={off}";
            return -2;
        }
        if (off >= 0 || spi >= FrameState.Slots) return -1;
        return (int)spi;
    }

    /// <summary>is_iter_reg_valid_init: every slot is STACK_ITER of this type, the first holds the reference.</summary>
    private static bool IsValidInit(FrameState frame, int spi, int nrSlots, int typeId)
    {
        for (int i = 0; i < nrSlots; i++)
        {
            var slot = frame.Stack[spi - i];
            if (slot.Types != 0x0505050505050505UL) return false;
            var meta = slot.Spilled;
            if (i == 0 && meta.RefObjId == 0) return false;
            if (i != 0 && meta.RefObjId != 0) return false;
            if (meta.MemSize != typeId) return false;
        }
        return true;
    }

    /// <summary>iter_active_depths_differ: two states whose active iterators are at different depths are different
    /// iterations, never an infinite loop.</summary>
    internal static bool ActiveDepthsDiffer(VerifierState old, VerifierState cur)
    {
        for (int f = 0; f < old.Frames.Count && f < cur.Frames.Count; f++)
        {
            var os = old.Frames[f].Stack;
            var cs = cur.Frames[f].Stack;
            for (int s = 0; s < FrameState.Slots; s++)
            {
                if (os[s].Types != 0x0505050505050505UL || os[s].Spilled.FuncInsn != Active || os[s].Spilled.RefObjId == 0) continue;
                if (os[s].Spilled.Range != cs[s].Spilled.Range) return true;
            }
        }
        return false;
    }

    /// <summary>A state holding an active iterator is inside an iterator loop: its read and precision marks may not be
    /// final while the loop is explored, so it prunes only states within its ranges (the kernel forces RANGE_WITHIN for
    /// states whose loop entry is still being explored; this is the conservative form of that rule).</summary>
    internal static bool HasActiveIterator(VerifierState state)
    {
        foreach (var f in state.Frames)
        {
            var stack = f.Stack;
            for (int s = 0; s < FrameState.Slots; s++)
                if (stack[s].Types == 0x0505050505050505UL && stack[s].Spilled.FuncInsn == Active) return true;
        }
        return false;
    }

    /// <summary>The state of the iterator R1 points to at an iter_next call (is_state_visited's loop check).</summary>
    internal static bool R1IteratorActive(VerifierState state)
    {
        var r1 = state.Current.Registers[1];
        if (r1.Type != RegisterType.Stack || !r1.VarOff.IsConst) return false;
        long off = r1.Off + (long)r1.VarOff.Value;
        if (off >= 0 || off < -FrameState.StackSize) return false;
        var slot = state.Frames[r1.FrameNo].Stack[FrameState.SlotOf((int)off)];
        return slot.Types == 0x0505050505050505UL && slot.Spilled.FuncInsn == Active;
    }

    /// <summary>The log form of an iterator's first slot: <c>iter_num(ref_id=1,state=active,depth=0)</c>.</summary>
    internal static string Format(in RegisterState meta)
    {
        string name = KernelTypes.Name(meta.MemSize);
        if (name.StartsWith("bpf_", StringComparison.Ordinal)) name = name[4..];
        string state = meta.FuncInsn == Active ? "active" : meta.FuncInsn == Drained ? "drained" : "invalid";
        return $"{name}(ref_id={meta.RefObjId},state={state},depth={meta.Range})";
    }
}

internal static class IteratorSlotExtensions
{
    public static bool HasIterBytes(this in StackSlot slot)
    {
        for (int i = 0; i < 8; i++) if (slot[i] == StackByte.Iter) return true;
        return false;
    }
}
