

namespace Ebpf.Verification;

/// <summary>
/// The stack (check_stack_write / check_stack_read and their variable-offset forms): spills and fills of registers,
/// STACK_ZERO / STACK_MISC bytes, reads of uninitialised slots, and the stack depth of each function. Keeps the facts
/// about the store in progress that a spill decision depends on (an immediate store, a narrow spill).
/// </summary>
internal sealed class StackMemory(VerifierContext walk) : VerifierComponent(walk)
{
    public bool StoreFromImmediate { get; set; }

    /// <summary>The last stack write stored a register's known zero as STACK_ZERO bytes (not as a spill).</summary>
    public bool WroteStackZero { get; set; }

    /// <summary>The write being checked is a store instruction's register or immediate (not an atomic's result).</summary>
    public bool StoreInsn { get; set; }

    // ---- stack ----

    internal FrameState StackFrame(in RegisterState reg) => Cur.Frames[reg.FrameNo];

    internal RegisterState StackAccess(int regno, in RegisterState reg, int off, int size, bool write, RegisterState stored)
    {
        var frame = StackFrame(reg);
        // check_ptr_alignment: stack accesses are always strictly aligned, a variable offset included (every value
        // it may take must keep the access aligned), before any bounds check.
        if (!(reg.VarOff + Tnum.Const((ulong)(long)off)).IsAligned((ulong)size))
            throw Fail($"misaligned stack access off {MemoryAccessChecker.TnumText(reg.VarOff)}+{reg.Off}+{off - reg.Off} size {size}");
        if (!reg.VarOff.IsConst)
            return VariableStackAccess(regno, reg, frame, off, size, write);
        long total = off + (long)reg.VarOff.Value;
        if (total < -FrameState.StackSize || total + size > 0)
            throw Fail($"invalid {(write ? "write to" : "read from")} stack R{regno} off={total} size={size}");
        int o = (int)total;
        TouchStack(frame, o);
        int slotIndex = FrameState.SlotOf(o);
        if (write)
        {
            // A full 8-byte store or a narrow spill decides everything a later fill reads back: record it for
            // precision backtracking.
            Precision.RecordStackAccess(frame.FrameNo, slotIndex, fullSpill: size == 8 || IsNarrowSpill(o, size, stored));
            if (size == 8) frame.WrittenSlots |= 1UL << slotIndex;
            WriteStack(frame, o, size, stored);
            return default;
        }
        Pruning.MarkStackRead(frame, slotIndex);
        Log.ScratchSlot(frame.FrameNo, slotIndex); // the kernel's log shows a filled slot next to the register
        var value = ReadStack(regno, frame, o, size, out bool fill);
        // Only a fill (the value comes from the spilled register) ties the loaded register to the slot for precision
        // backtracking, as the kernel's INSN_F_STACK_ACCESS: zero or data bytes read back the same in any state that
        // passes the stack comparison, so marking the slot precise for them would only block pruning.
        if (fill) Precision.RecordStackAccess(frame.FrameNo, slotIndex, fullSpill: false);
        return value;
    }

    internal void TouchStack(FrameState frame, int off)
    {
        int depth = -off;
        if (depth > frame.Depth) frame.Depth = depth;
        int start = frame.FunctionStart;
        if (depth > StackDepth.GetValueOrDefault(start)) StackDepth[start] = depth;
    }

    private void WriteStack(FrameState frame, int off, int size, in RegisterState value)
    {
        int slot = FrameState.SlotOf(off);
        // check_stack_write_fixed_off: without allow_ptr_leaks a spilled pointer may only be overwritten whole.
        if (!AllowPtrLeaks && size != 8 && frame.Stack[slot][7] == StackByte.Spill && frame.Stack[slot].Spilled.IsPointer)
            throw Fail("attempt to corrupt spilled pointer on stack");
        Speculation.MarkStackWrite(frame.Stack[slot], size, StoreInsn && value.IsPointer);
        Log.ScratchSlot(frame.FrameNo, slot);
        Dynptrs.StackWritten(frame, off, size);
        // A store into an iterator's (or dynptr's) slot turns the whole slot into data (check_stack_write_fixed_off's
        // scrub); an iterator's reference stays acquired, so forgetting to destroy it still leaks.
        for (int sl = FrameState.SlotOf(off + size - 1); sl <= FrameState.SlotOf(off); sl++)
        {
            Dynptrs.DestroyIfDynptr(frame, sl);
            if (frame.Stack[sl].HasObjectBytes) frame.WritableStack[sl].ScrubObject();
        }
        // check_stack_write_fixed_off: pointers are spilled; a scalar (register or BPF_ST immediate, zero included) only
        // when the loader has CAP_BPF. Without it a scalar store is data: STACK_ZERO bytes for a known zero, else
        // STACK_MISC, and a fill reads back an unknown scalar.
        if (size == 8 && off % 8 == 0 && (value.IsPointer || (value.Type == RegisterType.Scalar && Privileged)))
        {
            frame.WritableStack[slot] = new StackSlot { Types = 0x0101010101010101UL, Spilled = value };
            return;
        }
        if (value.IsPointer)
        {
            if (!Privileged) throw Fail("invalid size of register spill");
            throw Fail("invalid size of register spill");
        }
        ref var s = ref frame.WritableStack[slot];
        // Overwriting part of a spill turns the rest of the slot into plain data.
        s.ScrubSpill();
        if (IsNarrowSpill(off, size, value))
        {
            // save_register_state with a narrow size: the low bytes hold the register, a fill of them gets it back
            // (bounds and id included); the slot's other bytes keep STACK_ZERO / uninitialized, else become data.
            for (int i = 7; i >= 0; i--)
            {
                if (i >= 8 - size) s.Set(i, StackByte.Spill);
                else if (s[i] != StackByte.Zero && s[i] != StackByte.Invalid) s.Set(i, StackByte.Misc);
            }
            // A value wider than the store is not equal to what a fill gets back: no link.
            var spilled = value;
            if (spilled.UMax > (1UL << (size * 8)) - 1) spilled.Id = 0;
            s.Spilled = spilled;
            return;
        }
        bool zero = value.Type == RegisterType.Scalar && value.VarOff.IsConst && (value.VarOff.Value & (size == 8 ? ulong.MaxValue : (1UL << (size * 8)) - 1)) == 0;
        if (zero && !StoreFromImmediate) WroteStackZero = true;
        for (int b = 0; b < size; b++)
        {
            int byteOff = off + b;
            ref var bs = ref frame.WritableStack[FrameState.SlotOf(byteOff)];
            bs.ScrubSpill();
            bs.Set(FrameState.ByteOf(byteOff), zero ? StackByte.Zero : StackByte.Misc);
        }
    }

    /// <summary>A narrow (1, 2 or 4-byte) store of a scalar register or immediate at the start of a slot: with CAP_BPF
    /// the kernel keeps it as a spilled register of that size rather than data bytes (a fill truncates it).</summary>
    private bool IsNarrowSpill(int off, int size, in RegisterState value) =>
        StoreInsn && Privileged && size < 8 && off % 8 == 0 && value.Type == RegisterType.Scalar;

    /// <summary>Reads <paramref name="size"/> bytes at <paramref name="off"/>; <paramref name="fill"/> tells whether the
    /// value was derived from the slot's spilled register (and so depends on it).</summary>
    private RegisterState ReadStack(int regno, FrameState frame, int off, int size, out bool fill)
    {
        int slot = FrameState.SlotOf(off);
        var s = frame.Stack[slot];
        fill = true;
        if (s.IsFullSpill)
        {
            if (size == 8 && off % 8 == 0) return s.Spilled;
            if (s.Spilled.IsPointer) throw Fail($"invalid size of register fill");
            if (off % 8 == 0)
            {
                // bpf_stack_narrow_access_ok (little endian): a narrow fill of the spill's low bytes gets the register
                // back, cut to the load's size; a value wider than the load no longer equals the slot (the id goes).
                var low = s.Spilled;
                if (low.UMax > (1UL << (size * 8)) - 1) low.Id = 0;
                ScalarBounds.Truncate(ref low, size);
                return low;
            }
            // Any other narrow read of a spilled scalar is unknown, even of a constant (the kernel does not shift the
            // value out), except that the bytes of a spilled zero read back as zero.
            if (s.Spilled.IsConst && s.Spilled.ConstValue == 0)
                return RegisterState.ConstScalar(0);
            fill = false;
            return RegisterState.UnknownOfSize(size);
        }
        if (s.IsSpill && off % 8 == 0 && size <= s.SpillSize)
        {
            // Fill from a narrow spill: the register comes back, cut to the load's size; a value wider than the
            // load is no longer equal to the slot, so the link (id) is dropped.
            var r = s.Spilled;
            if (size < 8 && r.UMax > (1UL << (size * 8)) - 1) r.Id = 0;
            ScalarBounds.Truncate(ref r, size);
            return r;
        }
        bool allZero = true, allSpill = true;
        for (int b = 0; b < size; b++)
        {
            int byteOff = off + b;
            var bs = frame.Stack[FrameState.SlotOf(byteOff)];
            var t = bs.IsFullSpill ? StackByte.Spill : bs[FrameState.ByteOf(byteOff)];
            // check_stack_read_fixed_off: without allow_uninit_stack (CAP_PERFMON) a byte never written is refused.
            if (t == StackByte.Invalid && !AllowPtrLeaks)
                throw Fail($"invalid read from stack off {off}+{b} size {size}");
            // Iterator and dynptr state is the kernel's: a program never reads it (check_stack_read_fixed_off).
            if (t is StackByte.Iter or StackByte.Dynptr)
                throw Fail($"invalid read from stack off {off}+{b} size {size}");
            if (t == StackByte.Spill && bs.Spilled.IsPointer)
                throw Fail("invalid size of register fill");
            if (t != StackByte.Zero) allZero = false;
            if (t != StackByte.Spill || !bs.Spilled.IsConst || bs.Spilled.ConstValue != 0) allSpill = false;
        }
        // Bytes of a spilled zero read back as zero, as STACK_ZERO bytes do; only those come from the spill.
        fill = allSpill;
        return allZero || allSpill ? RegisterState.ConstScalar(0) : RegisterState.UnknownOfSize(size);
    }

    private RegisterState VariableStackAccess(int regno, in RegisterState reg, FrameState frame, int off, int size, bool write)
    {
        // check_stack_access_within_bounds: an offset this wide is refused before its range is looked at.
        if (reg.SMax >= AluChecker.MaxVarOff || reg.SMin <= -AluChecker.MaxVarOff)
            throw Fail($"invalid unbounded variable-offset {(write ? "write to" : "read from")} stack R{regno}");
        long min = off + reg.SMin, max = off + reg.SMax;
        if (reg.SMin == long.MinValue || reg.SMax == long.MaxValue || min < -FrameState.StackSize || max + size > 0)
            throw Fail($"invalid variable-offset {(write ? "write to" : "read from")} stack R{regno} var_off={reg.VarOff} off={off} size={size}");
        if (!AllowPtrLeaks)
            throw Fail($"R{regno} variable stack access prohibited for !root, var_off={reg.VarOff} off={off}");
        TouchStack(frame, (int)min);
        if (write) Dynptrs.StackWritten(frame, min, max + size - min);
        for (long o = min; o < max + size; o++)
        {
            if (!write)
            {
                Pruning.MarkStackRead(frame, FrameState.SlotOf((int)o));
                var r = frame.Stack[FrameState.SlotOf((int)o)];
                if (r[FrameState.ByteOf((int)o)] == StackByte.Spill && r.Spilled.IsPointer && !AllowPtrLeaks)
                    throw Fail($"invalid read from stack R{regno} off={o} size={size}");
                if (r[FrameState.ByteOf((int)o)] is StackByte.Iter or StackByte.Dynptr)
                    throw Fail($"invalid read from stack R{regno} var_off {MemoryAccessChecker.TnumText(reg.VarOff)}+{o - min} size {size}");
                continue;
            }
            Dynptrs.DestroyIfDynptr(frame, FrameState.SlotOf((int)o));
            ref var s = ref frame.WritableStack[FrameState.SlotOf((int)o)];
            Log.ScratchSlot(frame.FrameNo, FrameState.SlotOf((int)o));
            s.ScrubSpill();
            s.Set(FrameState.ByteOf((int)o), StackByte.Misc);
        }
        return write ? default : RegisterState.UnknownOfSize(size);
    }

    /// <summary>Marks [off, off+size) of a stack as written by a helper (MEM_UNINIT arguments).</summary>
    internal void MarkStackWritten(FrameState frame, long off, long size)
    {
        Dynptrs.StackWritten(frame, off, size);
        for (long o = off; o < off + size; o++)
        {
            Dynptrs.DestroyIfDynptr(frame, FrameState.SlotOf((int)o));
            ref var s = ref frame.WritableStack[FrameState.SlotOf((int)o)];
            s.ScrubObject(); // the helper's byte writes scrub an iterator's slot whole, as a narrow store does
            s.ScrubSpill();
            s.Set(FrameState.ByteOf((int)o), StackByte.Misc);
            Log.ScratchSlot(frame.FrameNo, FrameState.SlotOf((int)o));
        }
    }
}
