using Ebpf.Btf;
using Ebpf.Isa;

namespace Ebpf.Verification;

/// <summary>
/// ALU instructions (check_alu_op, adjust_reg_min_max_vals, adjust_ptr_min_max_vals): operand checks, scalar bounds
/// through <see cref="ScalarAlu"/>, pointer arithmetic with its bounds and leak rules, and moves (with the ids that
/// link copies of one scalar).
/// </summary>
internal sealed class AluChecker(VerifierContext walk) : VerifierComponent(walk)
{
    internal const long MaxVarOff = 1 << 29;

    /// <summary>check_alu_op: operand checks, then scalar or pointer arithmetic.</summary>
    internal void CheckAlu(Instruction insn)
    {
        bool is64 = insn.Class == InstructionClass.Alu64;
        var op = insn.AluOperation;
        bool regSrc = insn.Source == OperandSource.Register;
        int dst = insn.Dst;

        if (op == AluOperation.End)
        {
            if (insn.Offset != 0 || insn.Src != 0 || insn.Imm is not (16 or 32 or 64) || (is64 && regSrc))
                throw Fail("BPF_END uses reserved fields", Errno.EINVAL);
            ReadReg(dst);
            CheckWritable(dst);
            if (Reg(dst).IsPointer) PointerBecomesScalar(dst);
            var r = Reg(dst);
            ScalarAlu.Endian(ref r, insn.Imm, swap: is64 || regSrc);
            r.Id = 0;
            r.Off = 0;
            SetReg(dst, r);
            return;
        }
        if (op == AluOperation.Neg)
        {
            if (regSrc || insn.Src != 0 || insn.Offset != 0 || insn.Imm != 0) throw Fail("BPF_NEG uses reserved fields", Errno.EINVAL);
            ReadReg(dst);
            CheckWritable(dst);
            // check_alu_op: a pointer operand is refused only without pointer leaks; otherwise the result is
            // marked unknown (DST_OP), a scalar.
            if (Reg(dst).IsPointer)
            {
                PointerBecomesScalar(dst);
                return;
            }
            var zero = RegisterState.ConstScalar(0);
            ScalarAlu.Apply(ref zero, Reg(dst), AluOperation.Sub, is64);
            SetReg(dst, zero);
            return;
        }
        if ((int)op > (int)AluOperation.End) throw Fail($"invalid BPF_ALU opcode {(int)op:x}", Errno.EINVAL);

        if (op == AluOperation.Mov)
        {
            CheckMov(insn, is64, regSrc);
            return;
        }

        bool signedDivMod = op is AluOperation.Div or AluOperation.Mod && insn.Offset == 1;
        if (insn.Offset != 0 && !signedDivMod) throw Fail("BPF_ALU uses reserved fields", Errno.EINVAL);

        RegisterState src;
        if (regSrc)
        {
            if (insn.Imm != 0) throw Fail("BPF_ALU uses reserved fields", Errno.EINVAL);
            src = ReadReg(insn.Src);
        }
        else
        {
            if (insn.Src != 0) throw Fail("BPF_ALU uses reserved fields", Errno.EINVAL);
            src = RegisterState.ConstScalar(is64 ? (ulong)(long)insn.Imm : (uint)insn.Imm);
        }
        // check_alu_op reads the destination before it judges the immediate.
        ReadReg(dst);
        if (!regSrc && op is AluOperation.Div or AluOperation.Mod && insn.Imm == 0) throw Fail("div by zero", Errno.EINVAL);
        if (!regSrc && op is AluOperation.Lsh or AluOperation.Rsh or AluOperation.Arsh && (uint)insn.Imm >= (is64 ? 64u : 32u))
            throw Fail($"invalid shift {insn.Imm}", Errno.EINVAL);
        CheckWritable(dst);
        var d = Reg(dst);

        if (d.IsPointer || src.IsPointer)
        {
            PointerArithmetic(insn, dst, d, src, op, is64);
            return;
        }
        Sanitizer.ScalarAlu(insn, op);
        if (op is AluOperation.And or AluOperation.Or && src.VarOff.IsConst) MaybeForkScalars(dst, ref d);
        int linkedId = d.Id;
        ulong dstUMaxBefore = d.UMax;
        ScalarAlu.Apply(ref d, src, op, is64, signedDivMod);
        d.Id = 0;
        d.Off = 0;
        if (op is AluOperation.Add or AluOperation.Sub && Privileged && linkedId != 0 && src.Type == RegisterType.Scalar
            && (is64 ? src.VarOff.IsConst : src.VarOff.Subreg.IsConst) && (linkedId & RegisterState.AddConstMask) == 0)
        {
            // rX += K / rX -= K keeps rX linked to its copies with a known difference (BPF_ADD_CONST), once: a second
            // change or a constant outside s32 (which could overflow sync_linked_regs) breaks the link. wX += K / wX -= K
            // does too (BPF_ADD_CONST32) when rX fit in 32 bits before it: the copies then differ by K modulo 2^32.
            long k = is64 ? (long)src.VarOff.Value : (int)(uint)src.VarOff.Subreg.Value;
            if (k >= int.MinValue && k <= int.MaxValue && !(op == AluOperation.Sub && k == int.MinValue)
                && (is64 || dstUMaxBefore <= uint.MaxValue))
            {
                d.Id = linkedId | (is64 ? RegisterState.AddConstFlag : RegisterState.AddConst32Flag);
                d.Off = op == AluOperation.Sub ? -(int)k : (int)k;
            }
        }
        if (!ScalarBounds.IsConsistent(d)) ScalarBounds.MarkUnbounded(ref d);
        SetReg(dst, d);
    }

    /// <summary>
    /// maybe_fork_scalars: LLVM turns <c>x &lt; 0 ? K : 0</c> into <c>(x s&gt;&gt; 31) &amp; K</c>, whose [-1, 0] operand no
    /// range or tnum can follow through the AND/OR. The kernel splits the path: this one continues with the operand -1,
    /// and a path queued at this same instruction re-runs it with 0 (so any opcode gets its exact result). The 64-bit
    /// range is looked at first; otherwise only the subregister is made known, its upper half untouched.
    /// </summary>
    private void MaybeForkScalars(int dst, ref RegisterState d)
    {
        bool alu32;
        if (d.SMin == -1 && d.SMax == 0) alu32 = false;
        else if (d.S32Min == -1 && d.S32Max == 0) alu32 = true;
        else return;
        var branch = Cur.Clone();
        ref var zero = ref branch.Current.Registers[dst];
        MarkKnown(ref zero, 0, alu32);
        MarkKnown(ref d, ulong.MaxValue, alu32);
        Engine.PushBranch(branch, InsnIdx, InsnIdx);

        static void MarkKnown(ref RegisterState r, ulong value, bool subregOnly)
        {
            r.Id = 0;
            r.Off = 0;
            if (!subregOnly)
            {
                ScalarBounds.MarkKnown(ref r, value);
                return;
            }
            // __mark_reg32_known: the low half becomes the constant, the 64-bit bounds stay as they are.
            r.VarOff = r.VarOff.ClearSubreg | Tnum.Const((uint)value);
            r.S32Min = r.S32Max = (int)(uint)value;
            r.U32Min = r.U32Max = (uint)value;
        }
    }

    private void CheckMov(Instruction insn, bool is64, bool regSrc)
    {
        int dst = insn.Dst;
        if (regSrc)
        {
            if (is64 && insn.Offset == OpcodeExtras.AddressSpaceCastOffset)
            {
                // The kernel's messages first (bad imm, no arena map); with an arena, the cast is the arena model this
                // verifier does not have.
                if (insn.Imm != 1 && insn.Imm != 1 << 16)
                    throw Fail("addr_space_cast insn can only convert between address space 1 and 0", Errno.EINVAL);
                if (Input.MapsByIndex?.Any(m => m.Type == Abi.MapType.Arena) == true)
                    throw Unsupported("addr_space_cast", UnsupportedFeatures.ArenaPrograms);
                throw Fail("addr_space_cast insn can only be used in a program that has an associated arena", Errno.EINVAL);
            }
            if (insn.Imm != 0 || insn.Offset is not (0 or 8 or 16 or 32) || (!is64 && insn.Offset == 32))
                throw Fail("BPF_MOV uses reserved fields", Errno.EINVAL);
            var src = ReadReg(insn.Src);
            CheckWritable(dst);
            if (insn.Offset != 0)
            {
                if (src.IsPointer && !Privileged) throw Fail($"R{insn.Src} sign-extension part of pointer", Errno.EACCES);
                RegisterState r;
                if (src.Type == RegisterType.Scalar)
                {
                    // A source below 2^(off-1) is unchanged by the extension: the copy keeps its id (linked scalars).
                    bool noSext = src.UMax < (1UL << (insn.Offset - 1));
                    if (noSext) src = AssignScalarIdBeforeMov(insn.Src);
                    r = src;
                    if (!noSext) r.Id = 0;
                    if (is64) ScalarBounds.SignExtend(ref r, insn.Offset / 8);
                    else ScalarBounds.SignExtendSubreg(ref r, insn.Offset / 8);
                }
                else
                {
                    r = RegisterState.UnknownScalar();
                    if (!is64) ScalarBounds.Truncate(ref r, 4);
                }
                if (is64) ScalarBounds.Sync(ref r);
                SetReg(dst, r);
                return;
            }
            if (is64)
            {
                // Copies share an id so that a later comparison refines both (sync_linked_regs).
                if (src.Type == RegisterType.Scalar) src = AssignScalarIdBeforeMov(insn.Src);
                SetReg(dst, src);
                return;
            }
            if (src.IsPointer)
            {
                if (!AllowPtrLeaks) throw Fail($"R{insn.Src} partial copy of pointer");
                SetReg(dst, RegisterState.UnknownOfSize(4));
                return;
            }
            if (src.Type == RegisterType.Scalar && src.UMax <= uint.MaxValue)
            {
                // A value already within 32 bits is copied unchanged by w = w, so the copy may share its id
                // (assign_scalar_id_before_mov for a source of width <= 32): a comparison of one refines the other.
                src = AssignScalarIdBeforeMov(insn.Src);
                SetReg(dst, src);
                return;
            }
            var low = src;
            low.Id = 0;
            ScalarBounds.Truncate(ref low, 4);
            SetReg(dst, low);
            return;
        }
        if (insn.Src != 0 || insn.Offset != 0) throw Fail("BPF_MOV uses reserved fields", Errno.EINVAL);
        CheckWritable(dst);
        SetReg(dst, RegisterState.ConstScalar(is64 ? (ulong)(long)insn.Imm : (uint)insn.Imm));
    }

    /// <summary>assign_scalar_id_before_mov: a source that went through <c>rX += K</c> loses that link (a copy cannot
    /// carry a second difference); a non-constant source without an id gets one for the copy to share.</summary>
    private RegisterState AssignScalarIdBeforeMov(int srcReg)
    {
        ref var s = ref Reg(srcReg);
        if ((s.Id & RegisterState.AddConstMask) != 0)
        {
            s.Id = 0;
            s.Off = 0;
        }
        if (s.Id == 0 && !s.VarOff.IsConst) s.Id = NewId();
        return s;
    }

    private void PointerLeak(int r)
    {
        if (!AllowPtrLeaks) throw Fail($"R{r} leaks addr into register");
    }

    private void PointerBecomesScalar(int r)
    {
        if (!AllowPtrLeaks) throw Fail($"R{r} pointer arithmetic prohibited");
        SetReg(r, RegisterState.UnknownScalar());
    }

    /// <summary>adjust_ptr_min_max_vals and the pointer cases of adjust_reg_min_max_vals.</summary>
    private void PointerArithmetic(Instruction insn, int dst, RegisterState d, RegisterState s, AluOperation op, bool is64)
    {
        if (d.IsPointer && s.IsPointer)
        {
            // adjust_reg_min_max_vals: with allow_ptr_leaks, pointer minus pointer (64- or 32-bit) is an unknown scalar.
            if (op == AluOperation.Sub && AllowPtrLeaks)
            {
                SetReg(dst, RegisterState.UnknownScalar());
                return;
            }
            throw Fail($"R{dst} pointer {OpName(op)} pointer prohibited");
        }
        // Exactly one side is a pointer: the scalar's value becomes part of the pointer, so it must be precise.
        bool ptrIsDst = d.IsPointer;
        if (!ptrIsDst) Precision.MarkPrecise(dst);
        else if (insn.Source == OperandSource.Register) Precision.MarkPrecise(insn.Src);
        var ptr = ptrIsDst ? d : s;
        var off = ptrIsDst ? s : d;
        if (!is64)
        {
            if (op == AluOperation.Sub && AllowPtrLeaks)
            {
                SetReg(dst, RegisterState.UnknownOfSize(4));
                return;
            }
            throw Fail($"R{dst} 32-bit pointer arithmetic prohibited");
        }
        if (ptr.MaybeNull)
            throw Fail($"R{dst} pointer arithmetic on {StateFormatter.TypeName(ptr)} prohibited, null-check it first");
        bool known = off.VarOff.IsConst;
        switch (ptr.Type)
        {
            case RegisterType.Ctx:
            case RegisterType.MapValue:
            case RegisterType.MapKey:
            case RegisterType.Stack:
            case RegisterType.Packet:
            case RegisterType.PacketMeta:
            case RegisterType.TpBuffer:
            case RegisterType.Buf:
            case RegisterType.BtfId:
            case RegisterType.Mem:
            case RegisterType.RingbufMem:
            case RegisterType.Func:
                break;
            case RegisterType.FlowKeys when known:
                break;
            case RegisterType.MapPtr when known && off.SMin == 0 && op == AluOperation.Add:
                break;
            default:
                throw Fail($"R{dst} pointer arithmetic on {StateFormatter.TypeName(ptr)} prohibited");
        }
        // check_reg_sane_offset comes before the operator is judged ("math between ctx pointer and 2147483647").
        CheckSaneOffset(off, ptr, dst);
        CheckSaneOffset(ptr, ptr, dst);
        var window = Sanitizer.Begin(insn, op, ptr, off, ptrIsDst);
        if (op == AluOperation.Sub && !ptrIsDst) throw Fail($"R{dst} tried to subtract pointer from scalar");
        // adjust_ptr_min_max_vals refuses any subtraction from the frame pointer's copies (constant ones included).
        if (op == AluOperation.Sub && ptr.Type == RegisterType.Stack) throw Fail($"R{dst} subtraction from stack pointer prohibited");
        if (op is AluOperation.And or AluOperation.Or or AluOperation.Xor)
            throw Fail($"R{dst} bitwise operator {OpName(op)} on pointer prohibited");
        if (op is not (AluOperation.Add or AluOperation.Sub))
            throw Fail($"R{dst} pointer arithmetic with {OpName(op)} operator prohibited");

        var r = ptr;
        if (known)
        {
            long v = (long)off.VarOff.Value;
            long newOff = op == AluOperation.Add ? r.Off + v : r.Off - v;
            if (newOff != (int)newOff) throw Fail($"value {v} makes {StateFormatter.TypeName(ptr)} pointer be out of bounds", Errno.EINVAL);
            r.Off = (int)newOff;
        }
        else
        {
            // Variable part: add the scalar's range to the pointer's variable offset.
            var varPart = ptr;
            varPart.Type = RegisterType.Scalar;
            ScalarAlu.Apply(ref varPart, off, op, true);
            r.VarOff = varPart.VarOff;
            r.SMin = varPart.SMin; r.SMax = varPart.SMax; r.UMin = varPart.UMin; r.UMax = varPart.UMax;
            r.S32Min = varPart.S32Min; r.S32Max = varPart.S32Max; r.U32Min = varPart.U32Min; r.U32Max = varPart.U32Max;
            if (r.IsPacketPointer)
            {
                // A new variable offset means a new packet range identity.
                r.Id = NewId();
                r.Range = 0;
            }
        }
        CheckSaneOffset(r, r, dst);
        Sanitizer.Commit(insn, op, window, r);
        SetReg(dst, r);
    }

    /// <summary>check_reg_sane_offset, in the kernel's order: a known value too large, a fixed offset too large, an
    /// unbounded minimum, a minimum too large.</summary>
    private void CheckSaneOffset(in RegisterState reg, in RegisterState ptr, int dst)
    {
        _ = dst;
        string type = StateFormatter.TypeName(ptr);
        long val = (long)reg.VarOff.Value;
        if (reg.VarOff.IsConst && (val >= MaxVarOff || val <= -MaxVarOff))
            throw Fail($"math between {type} pointer and {val} is not allowed", Errno.EINVAL);
        if (reg.Off >= MaxVarOff || reg.Off <= -MaxVarOff)
            throw Fail($"{type} pointer offset {reg.Off} is not allowed", Errno.EINVAL);
        if (reg.SMin == long.MinValue)
            throw Fail($"math between {type} pointer and register with unbounded min value is not allowed", Errno.EINVAL);
        if (reg.SMin >= MaxVarOff || reg.SMin <= -MaxVarOff)
            throw Fail($"value {reg.SMin} makes {type} pointer be out of bounds", Errno.EINVAL);
    }

    private static string OpName(AluOperation op) => op switch
    {
        AluOperation.Add => "+=",
        AluOperation.Sub => "-=",
        AluOperation.Mul => "*=",
        AluOperation.Div => "/=",
        AluOperation.Or => "|=",
        AluOperation.And => "&=",
        AluOperation.Lsh => "<<=",
        AluOperation.Rsh => ">>=",
        AluOperation.Mod => "%=",
        AluOperation.Xor => "^=",
        AluOperation.Arsh => "s>>=",
        _ => "?",
    };
}
