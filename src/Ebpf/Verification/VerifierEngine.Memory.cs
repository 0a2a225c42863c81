using Ebpf.Abi;
using Ebpf.Abi.Contexts;
using Ebpf.Isa;

namespace Ebpf.Verification;

internal sealed partial class VerifierEngine
{
    private bool _storeFromImmediate;
    /// <summary>The last stack write stored a register's known zero as STACK_ZERO bytes (not as a spill).</summary>
    private bool _wroteStackZero;
    /// <summary>The write being checked is a store instruction's register or immediate (not an atomic's result).</summary>
    private bool _storeInsn;

    private void CheckLoad(Instruction insn)
    {
        if (insn.AccessMode is not (AccessMode.Mem or AccessMode.MemSx) || insn.Imm != 0)
            throw Fail("BPF_LDX uses reserved fields", Errno.EINVAL);
        if (insn.AccessMode == AccessMode.MemSx && insn.AccessSize == AccessSize.DoubleWord)
            throw Fail("BPF_LDX uses reserved fields", Errno.EINVAL);
        var srcType = ReadReg(insn.Src).Type;
        CheckWritable(insn.Dst);
        int size = Opcodes.SizeInBytes(insn.AccessSize);
        var value = CheckMemAccess(insn.Src, insn.Offset, size, write: false, valueReg: -1, storedValue: default);
        SaveAuxPointerType(srcType, allowTrustMismatch: true);
        if (insn.AccessMode == AccessMode.MemSx && value.Type == RegisterType.Scalar)
            ScalarBounds.SignExtend(ref value, size);
        SetReg(insn.Dst, value);
    }

    private void CheckStore(Instruction insn)
    {
        int size = Opcodes.SizeInBytes(insn.AccessSize);
        if (insn.AccessMode != AccessMode.Mem)
            throw Fail(insn.Class == InstructionClass.St ? "BPF_ST uses reserved fields" : "BPF_STX uses reserved fields", Errno.EINVAL);
        RegisterState stored;
        int valueReg = -1;
        if (insn.Class == InstructionClass.Stx)
        {
            if (insn.Imm != 0) throw Fail("BPF_STX uses reserved fields", Errno.EINVAL);
            stored = ReadReg(insn.Src);
            valueReg = insn.Src;
        }
        else
        {
            if (insn.Src != 0) throw Fail("BPF_ST uses reserved fields", Errno.EINVAL);
            stored = RegisterState.ConstScalar((ulong)(long)insn.Imm);
        }
        var dstReg = ReadReg(insn.Dst);
        if (valueReg >= 0 && IsSpillSlot(dstReg, insn.Offset) && stored.Type == RegisterType.Scalar && stored.Id == 0
            && !stored.VarOff.IsConst && _privileged && (size == 8 || stored.UMax <= (1UL << (size * 8)) - 1))
        {
            // Like a register copy, a spill links the register and its stack copy (the kernel's "make sure that reg had an
            // ID to build a relation on spill"): a later comparison of either refines both, so paths that test the
            // register and then reload the slot carry the same knowledge as in the kernel and prune alike.
            Reg(valueReg).Id = NewId();
            stored = Reg(valueReg);
        }
        _storeFromImmediate = insn.Class == InstructionClass.St;
        _wroteStackZero = false;
        _storeInsn = true;
        CheckMemAccess(insn.Dst, insn.Offset, size, write: true, valueReg, stored);
        _storeFromImmediate = _storeInsn = false;
        SaveAuxPointerType(dstReg.Type, allowTrustMismatch: false);
        // A narrow store of a known zero becomes STACK_ZERO bytes, which later reads turn back into the constant:
        // the stored value matters exactly (the kernel marks it precise too).
        // Any other narrow store leaves STACK_MISC, which holds no value: marking it precise would make the constant
        // count in every earlier checkpoint and stop states that differ only there from pruning (the kernel
        // marks precise only when it writes STACK_ZERO).
        if (valueReg >= 0 && _wroteStackZero) MarkPrecise(valueReg);
    }

    /// <summary>An 8-byte aligned store at a constant stack offset: the store spills the register.</summary>
    private static bool IsSpillSlot(in RegisterState dst, int off) =>
        dst.Type == RegisterType.Stack && dst.VarOff.IsConst && (dst.Off + off + (long)dst.VarOff.Value) % 8 == 0;

    private void CheckAtomic(Instruction insn)
    {
        int imm = insn.Imm;
        bool known = imm is AtomicOperation.Add or AtomicOperation.Or or AtomicOperation.And or AtomicOperation.Xor
            or (AtomicOperation.Add | AtomicOperation.Fetch) or (AtomicOperation.Or | AtomicOperation.Fetch)
            or (AtomicOperation.And | AtomicOperation.Fetch) or (AtomicOperation.Xor | AtomicOperation.Fetch)
            or AtomicOperation.Xchg or AtomicOperation.Cmpxchg;
        if (!known) throw Fail($"BPF_ATOMIC uses invalid atomic opcode {imm:x2}", Errno.EINVAL);
        if (insn.AccessSize is not (AccessSize.Word or AccessSize.DoubleWord)) throw Fail("invalid atomic operand size", Errno.EINVAL);
        int size = Opcodes.SizeInBytes(insn.AccessSize);
        var src = ReadReg(insn.Src);
        var dst = ReadReg(insn.Dst);
        if (imm == AtomicOperation.Cmpxchg) ReadReg(0);
        // is_pointer_value: only a loader without CAP_PERFMON (no pointer leaks) is refused here.
        if (src.IsPointer && !_privileged) throw Fail($"R{insn.Src} leaks addr into mem");
        if (dst.Type is RegisterType.Ctx or RegisterType.Packet or RegisterType.PacketMeta or RegisterType.FlowKeys or RegisterType.SockCommon or RegisterType.Socket or RegisterType.TcpSock)
            throw Fail($"BPF_ATOMIC stores into R{insn.Dst} {StateFormatter.TypeName(dst)} is not allowed");
        // An atomic is a read and a write of the same location.
        var old = CheckMemAccess(insn.Dst, insn.Offset, size, write: false, valueReg: -1, storedValue: default);
        CheckMemAccess(insn.Dst, insn.Offset, size, write: true, valueReg: -1, storedValue: RegisterState.UnknownOfSize(size));
        // check_atomic_rmw: the fetched register is filled as a load of the same location would be (a spilled
        // constant reads back as that constant).
        if (imm == AtomicOperation.Cmpxchg)
        {
            SetReg(0, old);
        }
        else if ((imm & AtomicOperation.Fetch) != 0)
        {
            CheckWritable(insn.Src);
            SetReg(insn.Src, old);
        }
    }

    private void CheckLoadImm64(Instruction insn)
    {
        var second = _insns[_insnIdx + 1];
        // check_ld_imm: the reserved offset before the destination register.
        if (insn.Offset != 0) throw Fail("BPF_LD_IMM64 uses reserved fields", Errno.EINVAL);
        CheckWritable(insn.Dst);
        switch ((LoadImm64Source)insn.Src)
        {
            case LoadImm64Source.Imm64:
                SetReg(insn.Dst, RegisterState.ConstScalar((ulong)Instruction.Imm64(insn, second)));
                return;
            case LoadImm64Source.Function:
            {
                if (_input.Functions is null || _input.Functions.Count == 0)
                    throw Fail("missing btf func_info", Errno.EINVAL);
                var r = RegisterState.Pointer(RegisterType.Func);
                r.FuncInsn = _insnIdx + insn.Imm + 1;
                SetReg(insn.Dst, r);
                return;
            }
            case LoadImm64Source.BtfId:
            {
                // check_pseudo_btf_id: a non-zero second imm names a module's BTF by fd; none are loaded here.
                if (second.Imm != 0) throw Fail("invalid module BTF object FD specified.", Errno.EINVAL);
                var r = RegisterState.Pointer(RegisterType.BtfId);
                SetReg(insn.Dst, r);
                return;
            }
            case LoadImm64Source.MapFd:
            case LoadImm64Source.MapIndex:
            case LoadImm64Source.MapValue:
            case LoadImm64Source.MapIndexValue:
            {
                var map = ResolveMap(insn);
                bool isValue = insn.Src is (byte)LoadImm64Source.MapValue or (byte)LoadImm64Source.MapIndexValue;
                RegisterState r;
                if (isValue)
                {
                    if (map.Type is not (MapType.Array or MapType.Arena))
                        throw Fail("map direct value access is only supported for array maps", Errno.EINVAL);
                    if ((uint)second.Imm >= map.ValueSize)
                        throw Fail($"invalid access to map value pointer, value_size={map.ValueSize} off={second.Imm}", Errno.EINVAL);
                    r = RegisterState.Pointer(RegisterType.MapValue);
                    r.Off = second.Imm;
                }
                else
                {
                    if (second.Imm != 0) throw Fail("unrecognized bpf_ld_imm64 insn", Errno.EINVAL);
                    r = RegisterState.Pointer(RegisterType.MapPtr);
                }
                r.Map = map;
                SetReg(insn.Dst, r);
                return;
            }
            default:
                throw Fail("invalid bpf_ld_imm64 insn", Errno.EINVAL);
        }
    }

    private IVerifierMapInfo ResolveMap(Instruction insn)
    {
        if (_input.MapReferences is not null && _input.MapReferences.TryGetValue(_insnIdx, out var byRef)) return byRef;
        bool byIndex = insn.Src is (byte)LoadImm64Source.MapIndex or (byte)LoadImm64Source.MapIndexValue;
        if (byIndex)
        {
            if (_input.MapsByIndex is { } list && insn.Imm >= 0 && insn.Imm < list.Count) return list[insn.Imm];
            throw Fail($"fd_idx {insn.Imm} is out of range", Errno.EINVAL);
        }
        if (_input.MapsByFd is { } fds && fds.TryGetValue(insn.Imm, out var m)) return m;
        throw Fail($"fd {insn.Imm} is not pointing to valid bpf_map", Errno.EBADF);
    }

    private void CheckLdAbs(Instruction insn)
    {
        if (insn.AccessMode is not (AccessMode.Abs or AccessMode.Ind))
            throw Fail($"unknown opcode {insn.Opcode:x2}", Errno.EINVAL);
        if (!ContextLayouts.AllowsLdAbs(_input.ProgramType))
            throw Fail("BPF_LD_[ABS|IND] instructions not allowed for this program type", Errno.EINVAL);
        if (insn.AccessSize == AccessSize.DoubleWord || insn.Dst != 0 || insn.Offset != 0 ||
            (insn.AccessMode == AccessMode.Abs && insn.Src != 0))
            throw Fail("BPF_LD_[ABS|IND] uses reserved fields", Errno.EINVAL);
        if (_cur.References.Count > 0) throw Fail("BPF_LD_[ABS|IND] cannot be mixed with socket references", Errno.EINVAL);
        if (_cur.ActiveLockId != 0) throw Fail("BPF_LD_[ABS|IND] cannot be used inside bpf_spin_lock-ed region", Errno.EINVAL);
        var r6 = ReadReg(6);
        if (r6.Type != RegisterType.Ctx) throw Fail("at the time of BPF_LD_ABS|IND R6 != pointer to skb", Errno.EINVAL);
        if (insn.AccessMode == AccessMode.Ind) ReadReg(insn.Src);
        for (int r = 1; r <= 5; r++) Reg(r) = RegisterState.NotInit;
        // check_ld_abs: mark_reg_unknown(R0), not bounded by the access size (a u16 load may be tested against 0x7fffffff
        // and the kernel explores both ways).
        SetReg(0, RegisterState.UnknownScalar());
    }

    /// <summary>check_mem_access: validates a load (returns the loaded value) or a store through register <paramref name="regno"/>.</summary>
    private RegisterState CheckMemAccess(int regno, int insnOff, int size, bool write, int valueReg, RegisterState storedValue)
    {
        var reg = Reg(regno);
        int off = insnOff + reg.Off;
        if (write && storedValue.IsPointer && reg.Type != RegisterType.Stack && !_privileged)
            throw Fail($"R{valueReg} leaks addr into {(reg.Type == RegisterType.MapValue ? "map" : "mem")}");
        if (reg.MaybeNull || reg.Type is RegisterType.Scalar or RegisterType.NotInit or RegisterType.PacketEnd or RegisterType.MapPtr or RegisterType.Func)
            throw Fail($"R{regno} invalid mem access '{StateFormatter.TypeName(reg)}'");

        switch (reg.Type)
        {
            case RegisterType.Stack:
                return StackAccess(regno, reg, off, size, write, storedValue);
            case RegisterType.Ctx:
                return CtxAccess(regno, reg, off, size, write);
            case RegisterType.Packet:
            case RegisterType.PacketMeta:
            {
                var (canRead, canWrite) = ContextLayouts.PacketAccess(_input.ProgramType);
                if (write && !canWrite) throw Fail("cannot write into packet");
                if (!canRead) throw Fail($"R{regno} invalid mem access '{StateFormatter.TypeName(reg)}'");
                if (write && storedValue.IsPointer && !_privileged) throw Fail($"R{valueReg} leaks addr into packet");
                if (_input.StrictAlignment && !reg.VarOff.Add(off + 2).IsAligned((ulong)size))
                    throw Fail($"misaligned packet access off 2+{TnumText(reg.VarOff)}+{reg.Off}+{insnOff} size {size}");
                if (reg.SMin < 0)
                    throw Fail($"R{regno} min value is negative, either use unsigned index or do a if (index >=0) check.");
                if (reg.Range < 0 || off < 0 || (long)off + size > reg.Range)
                    throw Fail($"invalid access to packet, off={off} size={size}, R{regno}(id={reg.Id},off={off},r={reg.Range})\nR{regno} offset is outside of the packet");
                if (write) _writesPacket = true;
                return RegisterState.UnknownOfSize(size);
            }
            case RegisterType.MapValue:
            {
                var map = reg.Map!;
                if (write && (map.Flags & MapFlags.RdonlyProg) != 0)
                    throw Fail($"write into map forbidden, value_size={map.ValueSize} off={off} size={size}");
                if (!write && (map.Flags & MapFlags.WronlyProg) != 0)
                    throw Fail($"read from map forbidden, value_size={map.ValueSize} off={off} size={size}");
                RegionAccess(regno, reg, off, size, (int)map.ValueSize, "map value", "value_size", size);
                if (map.SpinLockOffset >= 0 && RangesOverlap(reg, off, size, map.SpinLockOffset, 4))
                    throw Fail("bpf_spin_lock cannot be accessed directly by load/store");
                if (!write && reg.VarOff.IsConst && (map.Flags & MapFlags.RdonlyProg) != 0 && map.Frozen && map.FrozenValue is { } frozen)
                {
                    long at = (long)reg.VarOff.Value + off;
                    if (at >= 0 && at + size <= frozen.Length)
                    {
                        var bytes = frozen.Span.Slice((int)at, size);
                        ulong v = size switch
                        {
                            1 => bytes[0],
                            2 => System.Buffers.Binary.BinaryPrimitives.ReadUInt16LittleEndian(bytes),
                            4 => System.Buffers.Binary.BinaryPrimitives.ReadUInt32LittleEndian(bytes),
                            _ => System.Buffers.Binary.BinaryPrimitives.ReadUInt64LittleEndian(bytes),
                        };
                        return RegisterState.ConstScalar(v);
                    }
                }
                return LoadedFromMemory(size, write);
            }
            case RegisterType.MapKey:
                if (write) throw Fail($"write to change key R{regno} not allowed");
                RegionAccess(regno, reg, off, size, (int)(reg.Map?.KeySize ?? 0), "map key", "key_size", size);
                return RegisterState.UnknownOfSize(size);
            case RegisterType.Mem:
            case RegisterType.RingbufMem:
                if (write && reg.ReadOnly) throw Fail($"R{regno} cannot write into {StateFormatter.TypeName(reg)}");
                RegionAccess(regno, reg, off, size, reg.MemSize, "memory", "mem_size", size);
                return LoadedFromMemory(size, write);
            case RegisterType.SockCommon:
            case RegisterType.Socket:
            case RegisterType.TcpSock:
                if (write) throw Fail($"R{regno} cannot write into {StateFormatter.TypeName(reg)}");
                if (off < 0 || off + size > (reg.Type == RegisterType.TcpSock ? 112 : 80) || off % size != 0)
                    throw Fail($"R{regno} invalid {StateFormatter.TypeName(reg)} access off={off} size={size}");
                return RegisterState.UnknownOfSize(size);
            case RegisterType.BtfId:
                // Typed kernel pointers are read with fault-handling loads (BPF_PROBE_MEM); writes need BTF.
                if (write) throw Fail($"only read is supported");
                _readsKernelPointers = true;
                return RegisterState.UnknownOfSize(size);
            case RegisterType.TpBuffer:
            case RegisterType.FlowKeys:
                if (off < 0) throw Fail($"R{regno} invalid {StateFormatter.TypeName(reg)} access off={off} size={size}");
                return RegisterState.UnknownOfSize(size);
            default:
                throw Fail($"R{regno} invalid mem access '{StateFormatter.TypeName(reg)}'");
        }
    }

    private static RegisterState LoadedFromMemory(int size, bool write) => write ? default : RegisterState.UnknownOfSize(size);

    private static bool RangesOverlap(in RegisterState reg, int off, int size, int start, int length)
    {
        long lo = off + reg.SMin, hi = off + (long)Math.Min(reg.UMax, (ulong)int.MaxValue) + size;
        return lo < start + length && hi > start;
    }

    /// <summary>check_mem_region_access: both ends of the variable offset must keep the access in [0, memSize).</summary>
    /// <summary>check_mem_region_access. The message parts are separate so nothing is formatted unless it fails.</summary>
    private void RegionAccess(int regno, in RegisterState reg, int off, int size, int memSize, string what, string sizeName, long shownSize)
    {
        string Format(long at) => $"invalid access to {what}, {sizeName}={memSize} off={at} size={shownSize}";
        if (reg.SMin < 0 && (reg.SMin == long.MinValue || off + reg.SMin != (int)(off + reg.SMin) || reg.SMin + off < 0))
            throw Fail($"R{regno} min value is negative, either use unsigned index or do a if (index >=0) check.");
        long lo = reg.SMin + off;
        if (lo < 0 || lo + size > memSize)
            throw Fail(Format(lo) + $"\nR{regno} min value is outside of the allowed memory range");
        if (reg.UMax >= (ulong)MaxVarOff)
            throw Fail($"R{regno} unbounded memory access, make sure to bounds check any such access");
        long hi = (long)reg.UMax + off;
        if (hi < 0 || hi + size > memSize)
            throw Fail(Format(hi) + $"\nR{regno} max value is outside of the allowed memory range");
    }

    private static string TnumText(Tnum t) => t.IsConst ? ((long)t.Value).ToString(System.Globalization.CultureInfo.InvariantCulture) : t.ToString();

    private RegisterState CtxAccess(int regno, in RegisterState reg, int off, int size, bool write)
    {
        // __check_ptr_off_reg, in its order: a negative fixed offset, any fixed offset, then a variable one.
        if (reg.Off < 0) throw Fail($"negative offset ctx ptr R{regno} off={reg.Off} disallowed");
        if (reg.Off != 0) throw Fail($"dereference of modified ctx ptr R{regno} off={reg.Off} disallowed");
        if (!reg.VarOff.IsConst || reg.VarOff.Value != 0) throw Fail($"variable ctx access var_off={reg.VarOff} disallowed");
        if (_ctx is null) throw Fail($"invalid bpf_context access off={off} size={size}");
        var access = _ctx.Check(off, size, write);
        if (!access.Allowed) throw Fail($"invalid bpf_context access off={off} size={size}");
        _ctxAccesses[_insnIdx] = new ContextAccessSite(_insnIdx, access.Field!, off, size, write);
        if (write) return default;
        return access.Yields switch
        {
            ContextValueKind.Packet => RegisterState.Pointer(RegisterType.Packet),
            ContextValueKind.PacketEnd => RegisterState.Pointer(RegisterType.PacketEnd),
            ContextValueKind.PacketMeta => RegisterState.Pointer(RegisterType.PacketMeta),
            ContextValueKind.SockCommonOrNull => NullablePointer(RegisterType.SockCommon),
            ContextValueKind.FlowKeys => RegisterState.Pointer(RegisterType.FlowKeys),
            ContextValueKind.TpBuffer => RegisterState.Pointer(RegisterType.TpBuffer),
            ContextValueKind.BtfId => RegisterState.Pointer(RegisterType.BtfId),
            ContextValueKind.Socket => RegisterState.Pointer(RegisterType.Socket),
            ContextValueKind.SocketOrNull => NullablePointer(RegisterType.Socket),
            _ => RegisterState.UnknownOfSize(size),
        };
    }

    private RegisterState NullablePointer(RegisterType type)
    {
        var r = RegisterState.Pointer(type);
        r.MaybeNull = true;
        r.Id = NewId();
        return r;
    }

    // ---- stack ----

    private FrameState StackFrame(in RegisterState reg) => _cur.Frames[reg.FrameNo];

    private RegisterState StackAccess(int regno, in RegisterState reg, int off, int size, bool write, RegisterState stored)
    {
        var frame = StackFrame(reg);
        // check_ptr_alignment: stack accesses are always strictly aligned, a variable offset included (every value
        // it may take must keep the access aligned), before any bounds check.
        if (!(reg.VarOff + Tnum.Const((ulong)(long)off)).IsAligned((ulong)size))
            throw Fail($"misaligned stack access off {TnumText(reg.VarOff)}+{reg.Off}+{off - reg.Off} size {size}");
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
            RecordStackAccess(frame.FrameNo, slotIndex, fullSpill: size == 8 || IsNarrowSpill(o, size, stored));
            if (size == 8) frame.WrittenSlots |= 1UL << slotIndex;
            WriteStack(frame, o, size, stored);
            return default;
        }
        MarkStackRead(frame, slotIndex);
        _log.ScratchSlot(frame.FrameNo, slotIndex); // the kernel's log shows a filled slot next to the register
        var value = ReadStack(regno, frame, o, size, out bool fill);
        // Only a fill (the value comes from the spilled register) ties the loaded register to the slot for precision
        // backtracking, as the kernel's INSN_F_STACK_ACCESS: zero or data bytes read back the same in any state that
        // passes the stack comparison, so marking the slot precise for them would only block pruning.
        if (fill) RecordStackAccess(frame.FrameNo, slotIndex, fullSpill: false);
        return value;
    }

    private void TouchStack(FrameState frame, int off)
    {
        int depth = -off;
        if (depth > frame.Depth) frame.Depth = depth;
        int start = frame.FunctionStart;
        if (depth > _stackDepth.GetValueOrDefault(start)) _stackDepth[start] = depth;
    }

    private void WriteStack(FrameState frame, int off, int size, in RegisterState value)
    {
        int slot = FrameState.SlotOf(off);
        _log.ScratchSlot(frame.FrameNo, slot);
        if (size == 8 && off % 8 == 0 && (value.IsPointer || value.Type == RegisterType.Scalar))
        {
            // Registers are spilled; so is an immediate when the loader has CAP_BPF (check_stack_write_fixed_off keeps
            // a BPF_ST of any constant, zero included, as a spilled known scalar); without it a zero immediate becomes
            // STACK_ZERO bytes.
            if (!(_storeFromImmediate && !_privileged && value.VarOff.IsConst && value.VarOff.Value == 0))
            {
                frame.WritableStack[slot] = new StackSlot { Types = 0x0101010101010101UL, Spilled = value };
                return;
            }
        }
        if (value.IsPointer)
        {
            if (!_privileged) throw Fail("invalid size of register spill");
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
        if (zero && !_storeFromImmediate) _wroteStackZero = true;
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
        _storeInsn && _privileged && size < 8 && off % 8 == 0 && value.Type == RegisterType.Scalar;

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
            if (t == StackByte.Invalid && !_privileged)
                throw Fail($"invalid read from stack R{regno} off={off} size={size}");
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
        long min = off + reg.SMin, max = off + reg.SMax;
        if (reg.SMin == long.MinValue || reg.SMax == long.MaxValue || min < -FrameState.StackSize || max + size > 0)
            throw Fail($"invalid variable-offset {(write ? "write to" : "read from")} stack R{regno} var_off={reg.VarOff} off={off} size={size}");
        if (!_privileged)
            throw Fail($"R{regno} variable stack access prohibited for !root, var_off={reg.VarOff} off={off}");
        TouchStack(frame, (int)min);
        for (long o = min; o < max + size; o++)
        {
            if (!write)
            {
                MarkStackRead(frame, FrameState.SlotOf((int)o));
                var r = frame.Stack[FrameState.SlotOf((int)o)];
                if (r[FrameState.ByteOf((int)o)] == StackByte.Spill && r.Spilled.IsPointer && !_privileged)
                    throw Fail($"invalid read from stack R{regno} off={o} size={size}");
                continue;
            }
            ref var s = ref frame.WritableStack[FrameState.SlotOf((int)o)];
            _log.ScratchSlot(frame.FrameNo, FrameState.SlotOf((int)o));
            s.ScrubSpill();
            s.Set(FrameState.ByteOf((int)o), StackByte.Misc);
        }
        return write ? default : RegisterState.UnknownOfSize(size);
    }

    /// <summary>Marks [off, off+size) of a stack as written by a helper (MEM_UNINIT arguments).</summary>
    private void MarkStackWritten(FrameState frame, long off, long size)
    {
        for (long o = off; o < off + size; o++)
        {
            ref var s = ref frame.WritableStack[FrameState.SlotOf((int)o)];
            s.ScrubSpill();
            s.Set(FrameState.ByteOf((int)o), StackByte.Misc);
            _log.ScratchSlot(frame.FrameNo, FrameState.SlotOf((int)o));
        }
    }
}

internal static class TnumExtensions
{
    public static Tnum Add(this Tnum t, long c) => t + Tnum.Const((ulong)c);
}
