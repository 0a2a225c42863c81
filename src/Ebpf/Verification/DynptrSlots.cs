using Ebpf.Abi.Helpers;

namespace Ebpf.Verification;

/// <summary>
/// Dynptrs (struct bpf_dynptr, 16 bytes = two STACK_DYNPTR slots): made by bpf_dynptr_from_mem (local),
/// bpf_ringbuf_reserve_dynptr (ringbuf, an acquired reference released by bpf_ringbuf_submit_dynptr /
/// discard_dynptr) or the kfuncs bpf_dynptr_from_skb / from_xdp / from_skb_meta (over the program's packet), read
/// by the dynptr helpers and kfuncs, never by the program. As the kernel's
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
    /// <summary>The kernel's enum bpf_dynptr_type (the runtime keeps the same numbers in bpf_dynptr_kern).</summary>
    public const int Local = 1, Ringbuf = 2, Skb = 3, Xdp = 4, SkbMeta = 5;
    private const ulong AllDynptr = 0x0404040404040404UL;

    /// <summary>The dynptr kfuncs modelled here (and run by the managed runtime). Kfuncs taking dynptrs of other
    /// subsystems (crypto, fs-verity, keys, …) stay refused.</summary>
    public static bool IsSupportedKfunc(string name) => name is "bpf_dynptr_adjust" or "bpf_dynptr_is_null" or "bpf_dynptr_is_rdonly"
        or "bpf_dynptr_size" or "bpf_dynptr_clone" or "bpf_dynptr_slice" or "bpf_dynptr_slice_rdwr"
        or "bpf_dynptr_from_skb" or "bpf_dynptr_from_xdp" or "bpf_dynptr_from_skb_meta" or "bpf_dynptr_copy" or "bpf_dynptr_memset"
        or "bpf_probe_read_user_dynptr" or "bpf_probe_read_kernel_dynptr" or "bpf_probe_read_user_str_dynptr" or "bpf_probe_read_kernel_str_dynptr";

    /// <summary>The type the constructor kfunc <paramref name="name"/> makes (its __uninit argument), 0 for the others
    /// (the special_kfunc_list cases of check_kfunc_args' KF_ARG_PTR_TO_DYNPTR).</summary>
    public static int KfuncMakes(string name) => name switch
    {
        "bpf_dynptr_from_skb" => Skb,
        "bpf_dynptr_from_xdp" => Xdp,
        "bpf_dynptr_from_skb_meta" => SkbMeta,
        _ => 0,
    };

    /// <summary>btf_is_projection_of: a kfunc taking the program-visible projection (<c>__sk_buff</c>, <c>xdp_md</c>) cannot
    /// use it as such and casts to the kernel struct, so a trusted pointer to that struct (<c>sk_buff</c>, <c>xdp_buff</c>)
    /// is accepted for it: how a netfilter or tp_btf program passes its skb to bpf_dynptr_from_skb.</summary>
    public static bool IsProjectionOf(string parameterStruct, string registerStruct) => (parameterStruct, registerStruct) is
        ("__sk_buff", "sk_buff") or ("xdp_md", "xdp_buff");

    /// <summary>DYNPTR_TYPE_SKB / XDP / SKB_META: the dynptr reads the program's packet, so its slices are packet
    /// memory (clear_all_pkt_pointers invalidates them).</summary>
    public static bool IsPacket(int type) => type is Skb or Xdp or SkbMeta;

    public static string TypeName(int type) => type switch
    {
        Local => "local", Ringbuf => "ringbuf", Skb => "skb", Xdp => "xdp", SkbMeta => "skb_meta", _ => "invalid",
    };

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
    /// the dynptr (its id) and with its reference. A kfunc slice (bpf_dynptr_slice) of an skb / xdp / skb_meta dynptr
    /// carries the dynptr's type flag (packet memory, <paramref name="packetFlag"/>), and one taken with a stack buffer
    /// remembers it (<paramref name="buffer"/>, the kernel's <c>buf=fp[F]OFF+SIZE</c>): the slice may point into the
    /// buffer, so a later write to those bytes invalidates it.</summary>
    internal RegisterState Slice(in Dynptr d, int size, bool readOnly, bool packetFlag = false, RegisterState? buffer = null)
    {
        var r = RegisterState.Pointer(RegisterType.Mem);
        r.MemSize = size;
        r.ReadOnly = readOnly;
        r.MaybeNull = true;
        r.Id = NewId();
        r.DynptrId = d.Id;
        r.RefObjId = d.RefObjId;
        int flags = packetFlag && IsPacket(d.Type) ? PacketSliceFlag : 0;
        if (buffer is { Type: RegisterType.Stack } b && b.VarOff.IsConst && size > 0)
        {
            long off = b.Off + (long)b.VarOff.Value;
            if (off < 0 && off >= -FrameState.StackSize)
                flags |= BufferFlag | (b.FrameNo << FrameShift) | ((int)-off << OffsetShift);
        }
        r.FuncInsn = flags;
        return r;
    }

    // A slice's extra facts, packed into RegisterState.FuncInsn (unused by PTR_TO_MEM, and compared by state pruning as
    // the kernel's memcmp of the register compares them): the packet type flag, and the stack buffer it may alias.
    private const int PacketSliceFlag = 1, BufferFlag = 2, FrameShift = 4, OffsetShift = 8;

    /// <summary>Whether the kfunc call changes packet data (clear_all_pkt_pointers afterwards): bpf_dynptr_memset,
    /// bpf_dynptr_copy and the bpf_probe_read_*_dynptr kfuncs writing into an skb or skb_meta dynptr (their first dynptr argument, the destination; observed on
    /// 6.18: an xdp dynptr's writes leave packet pointers valid, as bpf_dynptr_write's do), and bpf_xdp_pull_data.</summary>
    internal static bool KfuncChangesPacket(string name, Dynptr? destination) =>
        name == "bpf_xdp_pull_data"
        || (name is "bpf_dynptr_memset" or "bpf_dynptr_copy" or "bpf_probe_read_user_dynptr" or "bpf_probe_read_kernel_dynptr"
            or "bpf_probe_read_user_str_dynptr" or "bpf_probe_read_kernel_str_dynptr" && destination is { Type: Skb or SkbMeta });

    /// <summary>check_helper_call's bpf_dynptr_write case: a write into an skb or skb_meta dynptr may move the packet
    /// (bpf_try_make_writable), so it changes packet data (6.18 here: a slice of the packet dies with a write into the
    /// skb_meta dynptr, too); an xdp, local or ring buffer one does not.</summary>
    internal static bool HelperWriteChangesPacket(HelperId helper, Dynptr? written) =>
        helper == HelperId.DynptrWrite && written is { Type: Skb or SkbMeta };

    /// <summary>reg_is_dynptr_slice_pkt: a slice of an skb / xdp / skb_meta dynptr taken by bpf_dynptr_slice.</summary>
    internal static bool IsPacketSlice(in RegisterState r) => r.Type == RegisterType.Mem && (r.FuncInsn & PacketSliceFlag) != 0;

    /// <summary>The stack buffer a slice may point into: its frame and offset (the size is the slice's).</summary>
    private static bool TryBuffer(in RegisterState r, out int frame, out int off)
    {
        frame = (r.FuncInsn >> FrameShift) & 0xf;
        off = -(r.FuncInsn >> OffsetShift);
        return r.Type == RegisterType.Mem && (r.FuncInsn & BufferFlag) != 0;
    }

    /// <summary>The log's <c>buf=fp[0]-24+4</c> of a slice taken with a stack buffer, or null.</summary>
    internal static string? BufferText(in RegisterState r) =>
        TryBuffer(r, out int frame, out int off) ? $"buf=fp[{frame}]{off}+{r.MemSize}" : null;

    /// <summary>A program store, or a helper's write, to [<paramref name="off"/>, off+<paramref name="size"/>) of
    /// <paramref name="frame"/>: every slice that may point into those bytes (its buffer overlaps them) is
    /// invalidated, as the kernel does. The kfunc that fills the buffer does not count.</summary>
    internal void StackWritten(FrameState frame, long off, long size)
    {
        foreach (var (f, i, spilled) in Cur.AllRegisters())
        {
            var r = VerifierState.Read(f, i, spilled);
            if (!TryBuffer(r, out int bufFrame, out int bufOff) || bufFrame != frame.FrameNo) continue;
            if (off < bufOff + r.MemSize && bufOff < off + size)
                VerifierState.Write(f, i, spilled, Privileged ? RegisterState.UnknownScalar() : RegisterState.NotInit);
        }
    }

    /// <summary>The log form of a dynptr's first slot: <c>dynptr_local(id=1,dynptr_id=1)</c>,
    /// <c>dynptr_ringbuf(id=1,ref_id=2,dynptr_id=1)</c>. The kernel prints the register's dynptr_id, which shares its
    /// storage with the slot's first_slot flag: always 1 on the first slot, the one printed.</summary>
    internal static string Format(in RegisterState meta)
    {
        string s = $"dynptr_{TypeName(meta.MemSize)}(";
        var parts = new List<string>();
        if (meta.Id != 0) parts.Add($"id={meta.Id}");
        if (meta.RefObjId != 0) parts.Add($"ref_id={meta.RefObjId}");
        parts.Add("dynptr_id=1");
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
