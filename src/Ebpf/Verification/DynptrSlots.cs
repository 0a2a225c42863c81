using Ebpf.Abi.Helpers;

namespace Ebpf.Verification;

/// <summary>
/// Dynptrs (struct bpf_dynptr, 16 bytes = two STACK_DYNPTR slots): made by bpf_dynptr_from_mem (local) or
/// bpf_ringbuf_reserve_dynptr (ringbuf, an acquired reference released by bpf_ringbuf_submit_dynptr /
/// discard_dynptr), read by the dynptr helpers and kfuncs, never by the program. As the kernel's
/// mark_stack_slots_dynptr / destroy_if_dynptr_stack_slot / unmark_stack_slots_dynptr: a store over a local dynptr
/// destroys it (and its slices), one over a ringbuf dynptr is refused; releasing a ringbuf dynptr invalidates its
/// clones and slices.
/// </summary>
/// <remarks>
/// The slot facts ride on the slot's spilled-register box (the kernel's <c>spilled_ptr.dynptr</c>):
/// <see cref="RegisterState.MemSize"/> is the dynptr type, <see cref="RegisterState.FuncInsn"/> 1 on the first slot,
/// <see cref="RegisterState.Id"/> the dynptr's id (its slices carry it in <see cref="RegisterState.DynptrId"/>),
/// <see cref="RegisterState.RefObjId"/> the reference of a ringbuf dynptr.
/// </remarks>
internal sealed class DynptrSlots(VerifierContext walk) : VerifierComponent(walk)
{
    public const int Local = 1, Ringbuf = 2;
    private const ulong AllDynptr = 0x0404040404040404UL;

    /// <summary>The dynptr kfuncs modelled here (and run by the managed runtime). bpf_dynptr_from_skb / from_xdp /
    /// from_skb_meta, copy and memset, and kfuncs taking dynptrs of other subsystems stay refused.</summary>
    public static bool IsSupportedKfunc(string name) => name is "bpf_dynptr_adjust" or "bpf_dynptr_is_null" or "bpf_dynptr_is_rdonly"
        or "bpf_dynptr_size" or "bpf_dynptr_clone" or "bpf_dynptr_slice" or "bpf_dynptr_slice_rdwr";

    public static string TypeName(int type) => type switch { Local => "local", Ringbuf => "ringbuf", _ => "invalid" };

    /// <summary>The dynptr an argument refers to, once checked (the kernel's meta->initialized_dynptr).</summary>
    internal readonly record struct Dynptr(int Id, int Type, int RefObjId, int FrameNo, int Spi);

    /// <summary>
    /// process_dynptr_func for an argument (R<paramref name="regno"/>) that makes a dynptr
    /// (<paramref name="uninit"/>) of <paramref name="makeType"/>, or that needs an initialised one (of
    /// <paramref name="expectedType"/>, 0 for any). Helpers check the register's type before (check_reg_type);
    /// kfuncs get the kernel's kfunc line here.
    /// </summary>
    internal Dynptr Process(int regno, bool uninit, int makeType, int expectedType, bool kfunc, int cloneRefObjId = 0)
    {
        var reg = Reg(regno);
        if (reg.Type != RegisterType.Stack)
        {
            if (kfunc) throw Fail($"arg#{regno - 1} expected pointer to stack or const struct bpf_dynptr", Errno.EINVAL);
            throw HelperArgs.TypeMismatch(regno, reg, "fp, dynptr_ptr");
        }
        var frame = StackMem.StackFrame(reg);
        int spi = IteratorSlots.SlotIndex(reg, 2, "dynptr", out string? why);
        string prefix = why is null ? "" : why + "\n";
        if (uninit)
        {
            if (spi == -2) throw Fail($"{prefix}Dynptr has to be an uninitialized dynptr", Errno.EINVAL);
            long start = reg.Off + (long)reg.VarOff.Value;
            for (int i = 0; i < 2; i++)
                if (start + i * 8 < -FrameState.StackSize || start + i * 8 + 8 > 0)
                    throw Fail($"invalid write to stack R{regno} off={start + i * 8} size=8");
            StackMem.TouchStack(frame, (int)start);
            spi = FrameState.SlotOf((int)start);
            DestroyIfDynptr(frame, spi);
            DestroyIfDynptr(frame, spi - 1);
            int id = NewId();
            int refId = 0;
            if (makeType == Ringbuf)
            {
                refId = cloneRefObjId != 0 ? cloneRefObjId : NewId();
                if (cloneRefObjId == 0) Cur.References.Add(new AcquiredReference(refId, InsnIdx));
            }
            var stack = frame.WritableStack;
            for (int i = 0; i < 2; i++)
            {
                var meta = RegisterState.Pointer(RegisterType.Stack);
                meta.MemSize = makeType;
                meta.FuncInsn = i == 0 ? 1 : 0;
                meta.Id = id;
                meta.RefObjId = refId;
                stack[spi - i] = new StackSlot { Types = AllDynptr, Spilled = meta };
                frame.WrittenSlots |= 1UL << (spi - i);
                Log.ScratchSlot(frame.FrameNo, spi - i);
            }
            return new Dynptr(id, makeType, refId, frame.FrameNo, spi);
        }
        if (spi < 0 || !IsValidInit(frame, spi))
            throw Fail($"{prefix}Expected an initialized dynptr as arg #{regno - 1}", Errno.EINVAL);
        var first = frame.Stack[spi].Spilled;
        if (expectedType != 0 && first.MemSize != expectedType)
            throw Fail($"Expected a dynptr of type {TypeName(expectedType)} as arg #{regno - 1}", Errno.EINVAL);
        Pruning.MarkStackRead(frame, spi);
        Pruning.MarkStackRead(frame, spi - 1);
        return new Dynptr(first.Id, first.MemSize, first.RefObjId, frame.FrameNo, spi);
    }

    /// <summary>check_func_arg's OBJ_RELEASE check for a dynptr: it must hold a reference (a ringbuf dynptr).</summary>
    internal void CheckReleasable(int regno)
    {
        var reg = Reg(regno);
        if (reg.Type != RegisterType.Stack) return; // the type check that follows reports it
        var frame = StackMem.StackFrame(reg);
        int spi = IteratorSlots.SlotIndex(reg, 2, "dynptr", out _);
        if (spi < 0 || frame.Stack[spi].Spilled.RefObjId == 0)
            throw Fail($"arg {regno} is an unacquired reference", Errno.EINVAL);
    }

    /// <summary>unmark_stack_slots_dynptr: a ringbuf dynptr's release drops its reference, which invalidates its slices,
    /// and every clone of it.</summary>
    internal void Release(in Dynptr d)
    {
        var frame = Cur.Frames[d.FrameNo];
        if (d.RefObjId == 0)
        {
            Invalidate(frame, d.Spi);
            return;
        }
        Subprograms.ReleaseReference(d.RefObjId);
        foreach (var f in Cur.Frames)
        {
            for (int s = 1; s < FrameState.Slots; s++)
            {
                var slot = f.Stack[s];
                if (slot.Types == AllDynptr && slot.Spilled.FuncInsn == 1 && slot.Spilled.RefObjId == d.RefObjId) Invalidate(f, s);
            }
        }
    }

    /// <summary>destroy_if_dynptr_stack_slot: a store (or a new dynptr) over a dynptr slot destroys the whole dynptr
    /// and its slices; a referenced (ringbuf) dynptr cannot be overwritten.</summary>
    internal void DestroyIfDynptr(FrameState frame, int spi)
    {
        if (spi < 0 || spi >= FrameState.Slots || frame.Stack[spi][0] != StackByte.Dynptr) return;
        if (frame.Stack[spi].Spilled.FuncInsn != 1) spi++;
        if (spi >= FrameState.Slots) return;
        var first = frame.Stack[spi].Spilled;
        if (first.MemSize == Ringbuf) throw Fail("cannot overwrite referenced dynptr", Errno.EINVAL);
        InvalidateSlices(first.Id);
        var stack = frame.WritableStack;
        stack[spi] = default;
        stack[spi - 1] = default;
        frame.WrittenSlots |= (1UL << spi) | (1UL << (spi - 1));
        Log.ScratchSlot(frame.FrameNo, spi);
        Log.ScratchSlot(frame.FrameNo, spi - 1);
    }

    /// <summary>invalidate_dynptr: both slots become STACK_INVALID.</summary>
    private void Invalidate(FrameState frame, int spi)
    {
        var stack = frame.WritableStack;
        stack[spi] = default;
        stack[spi - 1] = default;
        Log.ScratchSlot(frame.FrameNo, spi);
        Log.ScratchSlot(frame.FrameNo, spi - 1);
    }

    /// <summary>The slices (PTR_TO_MEM with this dynptr id) die with their dynptr (mark_reg_invalid).</summary>
    private void InvalidateSlices(int dynptrId)
    {
        foreach (var (f, i, spilled) in Cur.AllRegisters())
        {
            var r = VerifierState.Read(f, i, spilled);
            if (r.Type != RegisterType.Mem || r.DynptrId != dynptrId) continue;
            VerifierState.Write(f, i, spilled, Privileged ? RegisterState.UnknownScalar() : RegisterState.NotInit);
        }
    }

    /// <summary>is_dynptr_reg_valid_init: both slots are STACK_DYNPTR, the first one first.</summary>
    private static bool IsValidInit(FrameState frame, int spi) =>
        spi >= 1 && frame.Stack[spi].Spilled.FuncInsn == 1 && frame.Stack[spi].Types == AllDynptr && frame.Stack[spi - 1].Types == AllDynptr;

    /// <summary>A slice of <paramref name="d"/>: memory of <paramref name="size"/> bytes, maybe NULL, that dies with
    /// the dynptr (its id) and with its reference.</summary>
    internal RegisterState Slice(in Dynptr d, int size, bool readOnly)
    {
        var r = RegisterState.Pointer(RegisterType.Mem);
        r.MemSize = size;
        r.ReadOnly = readOnly;
        r.MaybeNull = true;
        r.Id = NewId();
        r.DynptrId = d.Id;
        r.RefObjId = d.RefObjId;
        return r;
    }

    /// <summary>The log form of a dynptr's first slot: <c>dynptr_local(id=1)</c>, <c>dynptr_ringbuf(id=1,ref_id=2)</c>.</summary>
    internal static string Format(in RegisterState meta)
    {
        string s = $"dynptr_{TypeName(meta.MemSize)}(";
        var parts = new List<string>();
        if (meta.Id != 0) parts.Add($"id={meta.Id}");
        if (meta.RefObjId != 0) parts.Add($"ref_id={meta.RefObjId}");
        return s + string.Join(",", parts) + ")";
    }

    /// <summary>The dynptr helpers' dynptr arguments: the type they make or expect.</summary>
    internal static (bool Uninit, int MakeType, int ExpectedType, bool Release) HelperArg(HelperId helper, HelperArg arg) => helper switch
    {
        HelperId.DynptrFromMem => (true, Local, 0, false),
        HelperId.RingbufReserveDynptr => (true, Ringbuf, 0, false),
        HelperId.RingbufSubmitDynptr or HelperId.RingbufDiscardDynptr => (false, 0, Ringbuf, true),
        _ => (arg.Has(HelperArgFlags.Uninit), Local, 0, arg.Has(HelperArgFlags.Release)),
    };
}
