using System.Numerics;
using Ebpf.Isa;

namespace Ebpf.Verification;

/// <summary>
/// Conditional jumps (check_cond_jmp_op): a branch decided from the operands' bounds is followed alone, an
/// undecided one pushes the other side; each side's registers are refined by the comparison (bounds, NULL checks,
/// packet ranges) and scalars linked by id learn the same.
/// </summary>
internal sealed class BranchChecker(VerifierContext walk) : VerifierComponent(walk)
{
    /// <summary>
    /// check_cond_jmp_op for may_goto (BPF_JCOND): the current state takes the jump (the loop's exit when the budget
    /// runs out) and the fall-through (the loop body) is queued one may_goto level deeper, its imprecise scalars
    /// widened against the previous iteration so that the loop converges (<see cref="StatePruning"/> prunes a body
    /// state whose scalars lie within an earlier iteration's at the may_goto).
    /// </summary>
    private void CheckMayGoto(Instruction insn)
    {
        if (insn.Src != 0 || insn.Dst != 0 || insn.Imm != 0)
            throw Fail($"invalid may_goto imm {insn.Imm}", Errno.EINVAL);
        var previous = Pruning.FindPreviousIteration(InsnIdx);
        var body = Cur.Clone();
        body.MayGotoDepth++;
        if (previous is not null) StatePruning.WidenImpreciseScalars(previous, body);
        Engine.PushBranch(body, InsnIdx + 1, InsnIdx);
        InsnIdx = Cfg.JumpTarget(InsnIdx);
    }

    /// <summary>check_cond_jmp_op: decide the branch if the operands allow it, otherwise explore both with refined states.</summary>
    internal void CheckConditionalJump(Instruction insn)
    {
        var op = insn.JumpOperation;
        if (insn.Opcode == OpcodeExtras.MayGoto)
        {
            CheckMayGoto(insn);
            return;
        }
        if ((int)op > (int)JumpOperation.Jsle) throw Fail($"invalid BPF_JMP/JMP32 opcode {insn.Opcode:x}", Errno.EINVAL);
        bool is32 = insn.Class == InstructionClass.Jmp32;
        bool regSrc = insn.Source == OperandSource.Register;
        int dst = insn.Dst;
        // check_cond_jmp_op reads the destination first, then judges the reserved field, then reads the source.
        var d = ReadReg(dst);
        RegisterState src;
        if (regSrc)
        {
            if (insn.Imm != 0) throw Fail("BPF_JMP/JMP32 uses reserved fields", Errno.EINVAL);
            src = ReadReg(insn.Src);
            // check_cond_jmp_op judges the source as soon as it is read: without allow_ptr_leaks a pointer may be
            // compared only with another packet pointer.
            if (!AllowPtrLeaks && src.IsPointer && !(IsPacketAny(d) && IsPacketAny(src)))
                throw Fail($"R{insn.Src} pointer comparison prohibited");
        }
        else
        {
            if (insn.Src != 0) throw Fail("BPF_JMP/JMP32 uses reserved fields", Errno.EINVAL);
            src = RegisterState.ConstScalar(is32 ? (uint)insn.Imm : (ulong)(long)insn.Imm);
        }
        int target = Cfg.JumpTarget(InsnIdx);
        int fallthrough = InsnIdx + 1;

        int taken = IsBranchTaken(d, src, op, is32);
        if (taken >= 0)
        {
            // The outcome followed from the operands' values: they must match exactly for a later state to be pruned here.
            MarkJumpOperandsPrecise(insn, d, src, regSrc);
            // Without CAP_PERFMON the side not taken still runs under misprediction (sanitize_speculative_path).
            if (Speculation.Enabled) Speculation.Push(taken == 1 ? fallthrough : target, InsnIdx, insn);
            // check_cond_jmp_op prints the state of a decided jump itself, under the jump's index.
            Log.InsnState(InsnIdx, Cur);
            InsnIdx = taken == 1 ? target : fallthrough;
            return;
        }
        // Scalars sharing an id with an operand are refined with it; backtracking must know who they were.
        if (d.IsScalar && d.Id != 0) Precision.RecordLinked(d.Id);
        if (regSrc && src.IsScalar && src.Id != 0 && src.BaseId != d.BaseId) Precision.RecordLinked(src.Id);

        // An undecided comparison of a pointer: only a NULL check (== or != 0 of a maybe-NULL pointer) or a comparison
        // of packet pointers is not a leak of the pointer's value.
        if (!AllowPtrLeaks && d.IsPointer && !(!is32 && !regSrc && insn.Imm == 0 && op is JumpOperation.Jeq or JumpOperation.Jne && d.MaybeNull)
            && !(regSrc && IsPacketAny(d) && IsPacketAny(src)))
            throw Fail($"R{dst} pointer comparison prohibited");
        var other = Cur.Clone();
        // The state before refinement, for the speculative side of a branch only the refinement shows impossible.
        var unrefined = Speculation.Enabled ? Cur.Clone() : null;
        // 'other' takes the jump (condition true); the current state falls through (condition false).
        bool otherAlive = Refine(other, dst, regSrc ? insn.Src : -1, src, op, is32, outcome: true);
        bool curAlive = Refine(Cur, dst, regSrc ? insn.Src : -1, src, op, is32, outcome: false);
        if (otherAlive && curAlive)
        {
            Engine.PushBranch(other, target, InsnIdx);
            InsnIdx = fallthrough;
        }
        else if (otherAlive)
        {
            MarkJumpOperandsPrecise(insn, d, src, regSrc);
            PushImpossibleSide(unrefined, fallthrough, insn);
            Cur = other;
            InsnIdx = target;
        }
        else
        {
            MarkJumpOperandsPrecise(insn, d, src, regSrc);
            PushImpossibleSide(unrefined, target, insn);
            InsnIdx = fallthrough;
        }
    }

    /// <summary>A side the refinement found impossible is one the kernel's is_branch_taken decides away: without
    /// CAP_PERFMON it runs under misprediction from the state before the comparison (sanitize_speculative_path).</summary>
    private void PushImpossibleSide(VerifierState? unrefined, int next, Instruction insn)
    {
        if (unrefined is null) return;
        var live = Cur;
        Cur = unrefined;
        Speculation.Push(next, InsnIdx, insn);
        Cur = live;
    }

    private void MarkJumpOperandsPrecise(Instruction insn, in RegisterState d, in RegisterState src, bool regSrc)
    {
        if (d.IsScalar) Precision.MarkPrecise(insn.Dst);
        if (regSrc && src.IsScalar) Precision.MarkPrecise(insn.Src);
    }

    private static bool IsPacketAny(in RegisterState r) => r.Type is RegisterType.Packet or RegisterType.PacketMeta or RegisterType.PacketEnd;

    /// <summary>is_branch_taken: 1 = always, 0 = never, -1 = unknown.</summary>
    private static int IsBranchTaken(in RegisterState d, in RegisterState s, JumpOperation op, bool is32)
    {
        if (d.IsPointer || s.IsPointer)
        {
            // A pointer that cannot be null compared with 0 has a known outcome (reg_not_null: ctx, stack and packet
            // pointers are not among the kernel's never-null types, so both branches of "ctx == 0" are explored).
            bool dPtr = IsNeverNull(d) && !s.IsPointer && ScalarBounds.IsConst(s, 0);
            bool sPtr = IsNeverNull(s) && !d.IsPointer && ScalarBounds.IsConst(d, 0);
            if (!is32 && (dPtr || sPtr))
            {
                if (op == JumpOperation.Jeq) return 0;
                if (op == JumpOperation.Jne) return 1;
            }
            return -1;
        }
        if (is32)
        {
            var a = ScalarBounds.Low32(d);
            var b = ScalarBounds.Low32(s);
            return op switch
            {
                JumpOperation.Jsgt or JumpOperation.Jsge or JumpOperation.Jslt or JumpOperation.Jsle =>
                    Compare(d.S32Min, d.S32Max, s.S32Min, s.S32Max, op),
                _ => Taken64(a, b, op),
            };
        }
        return Taken64(d, s, op);
    }

    /// <summary>reg_not_null. PTR_TO_BTF_ID counts only when trusted, which this verifier does not track: it is left
    /// undecided, so both branches are explored (never fewer paths than the kernel walks).</summary>
    private static bool IsNeverNull(in RegisterState r) => !r.MaybeNull && r.Type is RegisterType.Socket or RegisterType.TcpSock
        or RegisterType.MapValue or RegisterType.MapKey or RegisterType.SockCommon or RegisterType.Mem or RegisterType.RingbufMem
        or RegisterType.MapPtr;

    private static int Taken64(in RegisterState d, in RegisterState s, JumpOperation op)
    {
        switch (op)
        {
            case JumpOperation.Jeq:
            case JumpOperation.Jne:
            {
                int eq = -1;
                if (d.VarOff.IsConst && s.VarOff.IsConst) eq = d.VarOff.Value == s.VarOff.Value ? 1 : 0;
                else if (d.UMin > s.UMax || d.UMax < s.UMin || d.SMin > s.SMax || d.SMax < s.SMin) eq = 0;
                else if (((d.VarOff.Value ^ s.VarOff.Value) & ~(d.VarOff.Mask | s.VarOff.Mask)) != 0) eq = 0;
                if (eq < 0) return -1;
                return op == JumpOperation.Jeq ? eq : 1 - eq;
            }
            case JumpOperation.Jset:
                if (s.VarOff.IsConst)
                {
                    if ((d.VarOff.Value & s.VarOff.Value) != 0) return 1;
                    if ((d.VarOff.Max & s.VarOff.Value) == 0) return 0;
                }
                return -1;
            case JumpOperation.Jgt:
                if (d.UMin > s.UMax) return 1;
                if (d.UMax <= s.UMin) return 0;
                return -1;
            case JumpOperation.Jge:
                if (d.UMin >= s.UMax) return 1;
                if (d.UMax < s.UMin) return 0;
                return -1;
            case JumpOperation.Jlt:
                if (d.UMax < s.UMin) return 1;
                if (d.UMin >= s.UMax) return 0;
                return -1;
            case JumpOperation.Jle:
                if (d.UMax <= s.UMin) return 1;
                if (d.UMin > s.UMax) return 0;
                return -1;
            default:
                return Compare(d.SMin, d.SMax, s.SMin, s.SMax, op);
        }
    }

    private static int Compare(long dmin, long dmax, long smin, long smax, JumpOperation op) => op switch
    {
        JumpOperation.Jsgt => dmin > smax ? 1 : dmax <= smin ? 0 : -1,
        JumpOperation.Jsge => dmin >= smax ? 1 : dmax < smin ? 0 : -1,
        JumpOperation.Jslt => dmax < smin ? 1 : dmin >= smax ? 0 : -1,
        JumpOperation.Jsle => dmax <= smin ? 1 : dmin > smax ? 0 : -1,
        _ => -1,
    };

    /// <summary>Negation of a condition (for the fall-through branch).</summary>
    private static JumpOperation Negate(JumpOperation op) => op switch
    {
        JumpOperation.Jeq => JumpOperation.Jne,
        JumpOperation.Jne => JumpOperation.Jeq,
        JumpOperation.Jgt => JumpOperation.Jle,
        JumpOperation.Jle => JumpOperation.Jgt,
        JumpOperation.Jge => JumpOperation.Jlt,
        JumpOperation.Jlt => JumpOperation.Jge,
        JumpOperation.Jsgt => JumpOperation.Jsle,
        JumpOperation.Jsle => JumpOperation.Jsgt,
        JumpOperation.Jsge => JumpOperation.Jslt,
        JumpOperation.Jslt => JumpOperation.Jsge,
        _ => op,
    };

    /// <summary>Operands swapped: a OP b  ==  b FLIP(OP) a.</summary>
    private static JumpOperation Flip(JumpOperation op) => op switch
    {
        JumpOperation.Jgt => JumpOperation.Jlt,
        JumpOperation.Jlt => JumpOperation.Jgt,
        JumpOperation.Jge => JumpOperation.Jle,
        JumpOperation.Jle => JumpOperation.Jge,
        JumpOperation.Jsgt => JumpOperation.Jslt,
        JumpOperation.Jslt => JumpOperation.Jsgt,
        JumpOperation.Jsge => JumpOperation.Jsle,
        JumpOperation.Jsle => JumpOperation.Jsge,
        _ => op,
    };

    /// <summary>Refines <paramref name="state"/> with "dst OP src" being <paramref name="outcome"/>. Returns false
    /// when the branch is impossible.</summary>
    private bool Refine(VerifierState state, int dst, int srcReg, RegisterState srcValue, JumpOperation op, bool is32, bool outcome)
    {
        var frame = state.Current;
        ref var d = ref frame.Registers[dst];
        bool jset = op == JumpOperation.Jset;
        var cond = outcome || jset ? op : Negate(op);

        // Null checks: ptr_or_null ==/!= 0.
        if (!is32 && op is JumpOperation.Jeq or JumpOperation.Jne)
        {
            // Two pointers, one maybe-null and the other not (neither a BTF pointer, which may be NULL untagged):
            // where they are equal the maybe-null one is not null (mark_ptr_not_null_reg: that register only).
            if (srcReg >= 0 && d.IsPointer && srcValue.IsPointer && d.MaybeNull != srcValue.MaybeNull
                && d.Type != RegisterType.BtfId && srcValue.Type != RegisterType.BtfId)
            {
                if (cond == JumpOperation.Jeq)
                {
                    if (d.MaybeNull) d.MaybeNull = false;
                    else frame.Registers[srcReg].MaybeNull = false;
                }
                return true;
            }
            // Only "ptr == 0" with an immediate 0 is a null check (BPF_K, imm 0): a register known to hold 0, on either
            // side, teaches the kernel nothing about the pointer.
            if (srcReg < 0 && d.MaybeNull && ScalarBounds.IsConst(srcValue, 0))
            {
                MarkNullChecked(state, d.Id, isNull: cond == JumpOperation.Jeq);
                return true;
            }
        }

        // Packet range learning: pkt vs pkt_end (or pkt_meta vs pkt).
        if (!is32 && srcReg >= 0 && !jset)
        {
            var s = frame.Registers[srcReg];
            // try_match_pkt_pointers: data against data_end, or data_meta against data itself (data as loaded from
            // the context: id 0, offset 0); data_meta against data_end or against a moved data teaches nothing.
            if ((d.Type == RegisterType.Packet && s.Type == RegisterType.PacketEnd) || (d.Type == RegisterType.PacketMeta && IsInitPacket(s)))
            {
                LearnPacketRange(state, d, cond);
                return true;
            }
            if ((s.Type == RegisterType.Packet && d.Type == RegisterType.PacketEnd) || (s.Type == RegisterType.PacketMeta && IsInitPacket(d)))
            {
                LearnPacketRange(state, s, Flip(cond));
                return true;
            }
        }

        if (d.IsPointer || srcValue.IsPointer) return true;

        var a = d;
        var b = srcReg >= 0 ? frame.Registers[srcReg] : srcValue;
        if (jset)
        {
            if (!b.VarOff.IsConst) return true;
            ulong k = is32 ? (uint)b.VarOff.Value : b.VarOff.Value;
            if (outcome)
            {
                // At least one bit of k is set; with a single bit, that bit is known.
                if (System.Numerics.BitOperations.PopCount(k) == 1) a.VarOff |= Tnum.Const(k);
            }
            else
            {
                a.VarOff &= new Tnum(0, ~k);
            }
            ScalarBounds.Sync(ref a);
        }
        else if (is32)
        {
            if (!Refine32(ref a, ref b, cond)) return false;
        }
        else
        {
            if (!Refine64(ref a, ref b, cond)) return false;
        }
        if (!ScalarBounds.IsConsistent(a) || !ScalarBounds.IsConsistent(b)) return false;
        d = a;
        PropagateLinked(state, a);
        if (srcReg >= 0)
        {
            frame.Registers[srcReg] = b;
            PropagateLinked(state, b);
        }
        return true;
    }

    private static bool Refine64(ref RegisterState a, ref RegisterState b, JumpOperation cond)
    {
        switch (cond)
        {
            case JumpOperation.Jeq:
            {
                var t = a.VarOff.Intersect(b.VarOff);
                a.UMin = b.UMin = Math.Max(a.UMin, b.UMin);
                a.UMax = b.UMax = Math.Min(a.UMax, b.UMax);
                a.SMin = b.SMin = Math.Max(a.SMin, b.SMin);
                a.SMax = b.SMax = Math.Min(a.SMax, b.SMax);
                a.U32Min = b.U32Min = Math.Max(a.U32Min, b.U32Min);
                a.U32Max = b.U32Max = Math.Min(a.U32Max, b.U32Max);
                a.S32Min = b.S32Min = Math.Max(a.S32Min, b.S32Min);
                a.S32Max = b.S32Max = Math.Min(a.S32Max, b.S32Max);
                a.VarOff = b.VarOff = t;
                break;
            }
            case JumpOperation.Jne:
                // Only a constant at a bound edge can be excluded.
                if (b.VarOff.IsConst) ExcludeConst64(ref a, b.VarOff.Value);
                else if (a.VarOff.IsConst) ExcludeConst64(ref b, a.VarOff.Value);
                break;
            case JumpOperation.Jgt: // a > b
                if (b.UMin == ulong.MaxValue || a.UMax == 0) return false;
                a.UMin = Math.Max(a.UMin, b.UMin + 1);
                b.UMax = Math.Min(b.UMax, a.UMax - 1);
                break;
            case JumpOperation.Jge:
                a.UMin = Math.Max(a.UMin, b.UMin);
                b.UMax = Math.Min(b.UMax, a.UMax);
                break;
            case JumpOperation.Jlt:
                return Refine64(ref b, ref a, JumpOperation.Jgt);
            case JumpOperation.Jle:
                return Refine64(ref b, ref a, JumpOperation.Jge);
            case JumpOperation.Jsgt:
                if (b.SMin == long.MaxValue || a.SMax == long.MinValue) return false;
                a.SMin = Math.Max(a.SMin, b.SMin + 1);
                b.SMax = Math.Min(b.SMax, a.SMax - 1);
                break;
            case JumpOperation.Jsge:
                a.SMin = Math.Max(a.SMin, b.SMin);
                b.SMax = Math.Min(b.SMax, a.SMax);
                break;
            case JumpOperation.Jslt:
                return Refine64(ref b, ref a, JumpOperation.Jsgt);
            case JumpOperation.Jsle:
                return Refine64(ref b, ref a, JumpOperation.Jsge);
        }
        if (a.UMin > a.UMax || a.SMin > a.SMax || b.UMin > b.UMax || b.SMin > b.SMax) return false;
        ScalarBounds.Sync(ref a);
        ScalarBounds.Sync(ref b);
        return true;
    }

    private static void ExcludeConst64(ref RegisterState a, ulong k)
    {
        if (a.UMin == k && a.UMin != a.UMax) a.UMin++;
        else if (a.UMax == k && a.UMin != a.UMax) a.UMax--;
        if (a.SMin == (long)k && a.SMin != a.SMax) a.SMin++;
        else if (a.SMax == (long)k && a.SMin != a.SMax) a.SMax--;
        if (a.UMin == a.UMax && a.UMin == k) { a.UMin = 1; a.UMax = 0; }
        ScalarBounds.Sync(ref a);
    }

    private static bool Refine32(ref RegisterState a, ref RegisterState b, JumpOperation cond)
    {
        switch (cond)
        {
            case JumpOperation.Jeq:
            {
                var t = a.VarOff.Subreg.Intersect(b.VarOff.Subreg);
                a.U32Min = b.U32Min = Math.Max(a.U32Min, b.U32Min);
                a.U32Max = b.U32Max = Math.Min(a.U32Max, b.U32Max);
                a.S32Min = b.S32Min = Math.Max(a.S32Min, b.S32Min);
                a.S32Max = b.S32Max = Math.Min(a.S32Max, b.S32Max);
                a.VarOff = a.VarOff.WithSubreg(t);
                b.VarOff = b.VarOff.WithSubreg(t);
                break;
            }
            case JumpOperation.Jne:
                if (b.VarOff.Subreg.IsConst) ExcludeConst32(ref a, (uint)b.VarOff.Value);
                else if (a.VarOff.Subreg.IsConst) ExcludeConst32(ref b, (uint)a.VarOff.Value);
                break;
            case JumpOperation.Jgt:
                if (b.U32Min == uint.MaxValue || a.U32Max == 0) return false;
                a.U32Min = Math.Max(a.U32Min, b.U32Min + 1);
                b.U32Max = Math.Min(b.U32Max, a.U32Max - 1);
                break;
            case JumpOperation.Jge:
                a.U32Min = Math.Max(a.U32Min, b.U32Min);
                b.U32Max = Math.Min(b.U32Max, a.U32Max);
                break;
            case JumpOperation.Jlt:
                return Refine32(ref b, ref a, JumpOperation.Jgt);
            case JumpOperation.Jle:
                return Refine32(ref b, ref a, JumpOperation.Jge);
            case JumpOperation.Jsgt:
                if (b.S32Min == int.MaxValue || a.S32Max == int.MinValue) return false;
                a.S32Min = Math.Max(a.S32Min, b.S32Min + 1);
                b.S32Max = Math.Min(b.S32Max, a.S32Max - 1);
                break;
            case JumpOperation.Jsge:
                a.S32Min = Math.Max(a.S32Min, b.S32Min);
                b.S32Max = Math.Min(b.S32Max, a.S32Max);
                break;
            case JumpOperation.Jslt:
                return Refine32(ref b, ref a, JumpOperation.Jsgt);
            case JumpOperation.Jsle:
                return Refine32(ref b, ref a, JumpOperation.Jsge);
        }
        if (a.U32Min > a.U32Max || a.S32Min > a.S32Max || b.U32Min > b.U32Max || b.S32Min > b.S32Max) return false;
        ScalarBounds.Sync(ref a);
        ScalarBounds.Sync(ref b);
        return true;
    }

    private static void ExcludeConst32(ref RegisterState a, uint k)
    {
        if (a.U32Min == k && a.U32Min != a.U32Max) a.U32Min++;
        else if (a.U32Max == k && a.U32Min != a.U32Max) a.U32Max--;
        if (a.S32Min == (int)k && a.S32Min != a.S32Max) a.S32Min++;
        else if (a.S32Max == (int)k && a.S32Min != a.S32Max) a.S32Max--;
        if (a.U32Min == a.U32Max && a.U32Min == k) { a.U32Min = 1; a.U32Max = 0; }
        ScalarBounds.Sync(ref a);
    }

    /// <summary>
    /// sync_linked_regs: every register and spill linked to the refined value by its base id takes its bounds. A link
    /// through <c>rX += K</c> (<see cref="RegisterState.AddConstFlag"/>) with a different difference gets the value
    /// shifted by the difference of the two, keeping its own id and difference for later syncs.
    /// </summary>
    private static void PropagateLinked(VerifierState state, in RegisterState value)
    {
        if (value.Id == 0 || value.Type != RegisterType.Scalar) return;
        foreach (var f in state.Frames)
        {
            var regs = f.Registers;
            for (int r = 0; r < 11; r++)
                if (regs[r].Type == RegisterType.Scalar && regs[r].BaseId == value.BaseId) regs[r] = Synced(regs[r], value);
            var stack = f.Stack;
            for (int s = 0; s < FrameState.Slots; s++)
                if (stack[s].IsSpill && stack[s].Spilled.Type == RegisterType.Scalar && stack[s].Spilled.BaseId == value.BaseId)
                    f.WritableStack[s].Spilled = Synced(stack[s].Spilled, value);
        }
    }

    private static RegisterState Synced(in RegisterState linked, in RegisterState known)
    {
        bool linkedAdd = (linked.Id & RegisterState.AddConstMask) != 0, knownAdd = (known.Id & RegisterState.AddConstMask) != 0;
        if ((!linkedAdd && !knownAdd) || (linked.Off == known.Off && (linked.Id & RegisterState.AddConstMask) == (known.Id & RegisterState.AddConstMask)))
            return known;
        bool linked32 = (linked.Id & RegisterState.AddConst32Flag) != 0, known32 = (known.Id & RegisterState.AddConst32Flag) != 0;
        // A 64-bit difference cannot be recovered from a value that wrapped at 32 bits: keep what the register had.
        if (known32 && (linked.Id & RegisterState.AddConstFlag) != 0) return linked;
        var r = known;
        r.Id = linked.Id;
        r.Off = linked.Off;
        r.Precise = linked.Precise;
        ScalarAlu.Apply(ref r, RegisterState.ConstScalar((ulong)((long)linked.Off - known.Off)), AluOperation.Add, true);
        // Either side linked through wX += K: the two differ by the difference modulo 2^32, and both fit in 32 bits.
        if (linked32 || known32)
        {
            ScalarBounds.ZeroExtendSubreg(ref r);
            ScalarBounds.Sync(ref r);
        }
        r.Id = linked.Id;
        r.Off = linked.Off;
        return r;
    }

    /// <summary>mark_ptr_or_null_regs: every copy of the checked pointer becomes either 0 or a valid pointer.</summary>
    private void MarkNullChecked(VerifierState state, int id, bool isNull)
    {
        if (id == 0) return;
        int refObj = 0;
        foreach (var (f, i, spilled) in state.AllRegisters())
        {
            var peek = VerifierState.Read(f, i, spilled);
            if (!peek.MaybeNull || peek.Id != id) continue;
            var r = peek;
            if (isNull)
            {
                // Only the acquiring pointer itself releases its reference when NULL; a cast of it (tcp_sock(sk)) does not.
                refObj = r.RefObjId != 0 && r.RefObjId == r.Id ? r.RefObjId : refObj;
                r = RegisterState.ConstScalar(0);
            }
            else
            {
                r.MaybeNull = false;
                // mark_ptr_or_null_reg: an xskmap or sockmap/sockhash "value" is the socket itself.
                if (r.Type is RegisterType.MapValue && r.Map?.Type is Abi.MapType.Xskmap or Abi.MapType.Sockmap or Abi.MapType.Sockhash)
                    r.Type = r.Map.Type == Abi.MapType.Xskmap ? RegisterType.XdpSock : RegisterType.Socket;
                // Map values keep their id only for spin-lock tracking; the kernel clears it otherwise.
                if (r.Type is RegisterType.MapValue && r.Map?.SpinLockOffset < 0) r.Id = 0;
            }
            VerifierState.Write(f, i, spilled, r);
        }
        if (isNull && refObj != 0) state.References.RemoveAll(x => x.Id == refObj);
    }

    /// <summary>find_good_pkt_pointers / mark_pkt_end: what "pkt COND pkt_end" being true teaches.</summary>
    /// <summary>reg_is_init_pkt_pointer(reg, PTR_TO_PACKET).</summary>
    private static bool IsInitPacket(in RegisterState r) =>
        r.Type == RegisterType.Packet && r.Id == 0 && r.Off == 0 && r.VarOff.IsConst && r.VarOff.Value == 0;

    private static void LearnPacketRange(VerifierState state, RegisterState pkt, JumpOperation cond)
    {
        long newRange;
        switch (cond)
        {
            case JumpOperation.Jle: // pkt <= end: [pkt, pkt+off) is inside
                newRange = pkt.Off;
                break;
            case JumpOperation.Jlt:
                // pkt < end (range_right_open): pkt + off itself is inside too, so off + 1 bytes are (Linux 6.18, checked
                // against the live kernel); a zero offset teaches nothing.
                if (pkt.Off == 0) return;
                newRange = pkt.Off + 1;
                break;
            case JumpOperation.Jgt:
            case JumpOperation.Jge:
                // The pointer is beyond (or at) the end on this branch.
                foreach (var (f, i, spilled) in state.AllRegisters())
                {
                    var peek = VerifierState.Read(f, i, spilled);
                    if (peek.Type == pkt.Type && peek.Id == pkt.Id && peek.Off == pkt.Off)
                    {
                        peek.Range = cond == JumpOperation.Jgt ? RegisterState.BeyondPacketEnd : -1;
                        VerifierState.Write(f, i, spilled, peek);
                    }
                }
                return;
            default:
                return;
        }
        if (pkt.Off < 0 || pkt.UMax > 0xffff || pkt.UMax + (ulong)pkt.Off > 0xffff) return;
        foreach (var (f, i, spilled) in state.AllRegisters())
        {
            var peek = VerifierState.Read(f, i, spilled);
            if (peek.Type == pkt.Type && peek.Id == pkt.Id && peek.Range >= 0 && peek.Range < newRange)
            {
                peek.Range = newRange;
                VerifierState.Write(f, i, spilled, peek);
            }
        }
    }
}
