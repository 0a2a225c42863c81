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

    /// <summary>The iterator families over values (the managed runtime runs them); the families over kernel objects are
    /// <see cref="KernelObjectIterators"/>' (verified here, run only by the kernel).</summary>
    private static readonly HashSet<string> Supported = new(StringComparer.Ordinal) { "num", "bits" };

    /// <summary>An iterator's trust, on its first slot's <see cref="RegisterState.Off"/> (compared by state pruning):
    /// MEM_RCU (an RCU-protected iterator made inside an RCU read section) or PTR_UNTRUSTED (its section ended).</summary>
    private const int RcuIterator = 1, UntrustedIterator = 2;

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
    public static bool IsSupported(string name) =>
        Classify(name) is { } c && (Supported.Contains(c.Type) || KernelObjectIterators.IsFamily(c.Type));

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
        // check_kfunc_args: the iterator argument is a trusted one, NULL refused before its kind is looked at (observed
        // on the live 6.18 kernel for every iterator kfunc: num, bits, task, ...).
        var arg = Reg(1);
        if (arg.MaybeNull || (arg.IsScalar && ScalarBounds.IsConst(arg, 0)))
            throw Fail("Possibly NULL pointer passed to trusted arg0", Errno.EACCES);
        // KF_ARG_PTR_TO_ITER: css_task's program allowlist comes before the iterator itself.
        if (op == IteratorOperation.New && type == "css_task" && !KernelObjectIterators.CssTaskAllowed(Input))
            throw Fail("css_task_iter is only allowed in bpf_lsm, bpf_iter and sleepable progs", Errno.EINVAL);
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
                // mark_stack_slots_iter: a KF_RCU_PROTECTED iterator is MEM_RCU inside an RCU section, PTR_UNTRUSTED
                // outside (CheckRcuProtected then refuses the call).
                meta.Off = KernelObjectIterators.IsRcuProtected(type) ? (InRcuSection() ? RcuIterator : UntrustedIterator) : 0;
                stack[spi - i] = new StackSlot { Types = 0x0505050505050505UL, Spilled = meta };
                frame.WrittenSlots |= 1UL << (spi - i);
                Log.ScratchSlot(frame.FrameNo, spi - i);
            }
            return 0;
        }
        if (spi < 0 || !IsValidInit(frame, spi, nrSlots, typeId))
            throw Fail($"{prefix}expected an initialized iter_{type} as arg #0", Errno.EINVAL);
        // is_iter_reg_valid_init: an iterator whose RCU section ended is -EPROTO.
        if (frame.Stack[spi].Spilled.Off == UntrustedIterator)
            throw Fail($"{prefix}expected an RCU CS when using {kf.Name}", Errno.EPROTO);
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

    /// <summary>Whether the iterator of the current _next call is MEM_RCU (its element is then an RCU pointer).</summary>
    internal bool LastIteratorIsRcu => Cur.Frames[_lastIter.Frame].Stack[_lastIter.Spi].Spilled.Off == RcuIterator;

    /// <summary>in_rcu_cs: inside bpf_rcu_read_lock, holding a lock, or in a program that is not sleepable.</summary>
    internal bool InRcuSection() =>
        !Input.Sleepable || Cur.ActiveLockId != 0 || Cur.References.Any(r => Kfuncs.IsRcuSection(r.Id));

    /// <summary>check_kfunc_call after the arguments: a KF_RCU_PROTECTED kfunc outside an RCU read section.</summary>
    internal void CheckRcuProtected(string name, (IteratorOperation Op, string Type)? iterator)
    {
        if (iterator is { Op: IteratorOperation.New } it && KernelObjectIterators.IsRcuProtected(it.Type) && !InRcuSection())
            throw Fail($"kernel func {name} requires RCU critical section protection");
    }

    /// <summary>bpf_rcu_read_unlock: every MEM_RCU iterator and element of the state becomes PTR_UNTRUSTED.</summary>
    internal void OnRcuReadUnlock()
    {
        foreach (var frame in Cur.Frames)
        {
            for (int r = 0; r < frame.Registers.Length; r++) KernelObjectIterators.Unprotect(ref frame.Registers[r]);
            var stack = frame.Stack;
            for (int s = 0; s < FrameState.Slots; s++)
            {
                bool rcuIter = stack[s].Types == 0x0505050505050505UL && stack[s].Spilled.Off == RcuIterator;
                bool rcuElement = stack[s].IsSpill && KernelObjectIterators.IsElement(stack[s].Spilled, out bool rcu) && rcu;
                if (!rcuIter && !rcuElement) continue;
                var meta = stack[s].Spilled;
                if (rcuIter) meta.Off = UntrustedIterator;
                else KernelObjectIterators.Unprotect(ref meta);
                frame.WritableStack[s].Spilled = meta;
            }
        }
    }

    /// <summary>
    /// check_kfunc_args for a struct pointer argument (after the iterator), where iterators add rules: an iterator's
    /// element is refused where the kernel wants a trusted pointer; a kernel-object iterator's _new (KF_TRUSTED_ARGS /
    /// KF_RCU) refuses NULL unless the argument is __nullable, and takes a struct whose first member is the expected
    /// one. Returns true when the argument is fully checked here.
    /// </summary>
    internal bool CheckStructArg(KernelFunction kf, int arg, in RegisterState reg, string expected, bool nullable)
    {
        int regno = arg + 1;
        bool objectNew = Classify(kf.Name) is { Op: IteratorOperation.New } c && KernelObjectIterators.IsFamily(c.Type);
        if (objectNew && !nullable && (reg.MaybeNull || (reg.IsScalar && ScalarBounds.IsConst(reg, 0))))
            throw Fail($"Possibly NULL pointer passed to trusted arg{arg}");
        if (KernelObjectIterators.TrustRefusal(kf.Name, regno, reg) is { } refusal) throw Fail(refusal, Errno.EINVAL);
        // A __nullable argument takes NULL itself, not a pointer that may be NULL: PTR_MAYBE_NULL is an unsafe modifier
        // (is_trusted_reg, then KF_ARG_PTR_TO_BTF_ID's own check for a referenced one).
        if (objectNew && nullable && reg.Type == RegisterType.BtfId && reg.MaybeNull)
            throw Fail(reg.RefObjId == 0 ? $"R{regno} must be referenced or trusted" : $"arg#{arg} is ptr_or_null_ expected ptr_ or socket", Errno.EINVAL);
        if (!objectNew || reg.Type != RegisterType.BtfId) return false;
        string have = KernelTypes.Name(reg.MemSize);
        if (have == expected || !KernelObjectIterators.FirstMemberMatches(kf.Btf, have, expected)) return false;
        if (reg.Off != 0 || !reg.VarOff.IsConst || reg.VarOff.Value != 0)
            throw Fail($"R{regno} must have zero offset when passed to release func or trusted arg to kfunc", Errno.EINVAL);
        return true;
    }

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
