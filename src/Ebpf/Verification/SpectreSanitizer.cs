using Ebpf.Isa;

namespace Ebpf.Verification;

/// <summary>
/// The kernel's Spectre v1 sanitation of pointer arithmetic for loaders without CAP_PERFMON (!bypass_spec_v1):
/// sanitize_ptr_alu, retrieve_ptr_limit, update_alu_sanitation_state, sanitize_val_alu and sanitize_check_bounds.
/// The kernel masks the offset of every pointer add/sub with a register at run time; it can only do so when the
/// pointer stays within its object (a stack or map value pointer), the offset's sign is known, and every path through
/// the instruction needs the same mask. What it cannot mask it refuses, with sanitize_err's messages.
/// </summary>
internal sealed class SpectreSanitizer(VerifierContext walk) : VerifierComponent(walk)
{
    // bpf_verifier.h's alu_state bits.
    private const uint SanitizeSrc = 1 << 0, SanitizeDst = 1 << 1, NegValue = 1 << 2, NonPointer = 1 << 3, Immediate = 1 << 4;
    private const string ForRoot = "pointer arithmetic with it prohibited for !root";

    /// <summary>Each instruction's committed (alu_state, alu_limit): every path through it must agree.</summary>
    private readonly Dictionary<int, (uint State, uint Limit)> _aux = [];

    /// <summary>What the first phase learned, for the commit after the pointer moved (struct bpf_sanitize_info).</summary>
    internal readonly record struct Window(bool Active, bool MaskToLeft, uint State, uint Limit);

    private static bool Needed(AluOperation op) => op is AluOperation.Add or AluOperation.Sub;

    /// <summary>explore_alu_limits: a masked offset that is not a constant was seen; from then on state pruning compares
    /// scalars exactly, so that every path reaching a masked instruction gets to show its own mask.</summary>
    public bool ExploreAluLimits { get; private set; }

    /// <summary>can_skip_alu_sanitation: a loader with CAP_PERFMON, an immediate offset, or an instruction a speculation
    /// barrier already protects.</summary>
    private bool CanSkip(Instruction insn) =>
        AllowPtrLeaks || insn.Source == OperandSource.Immediate || Speculation.HasNospec(InsnIdx);

    /// <summary>sanitize_ptr_alu before the operation (commit_window false); an inactive window when nothing applies.
    /// A register offset that is not a constant may be masked to 0 under misprediction: that truncated path is explored
    /// speculatively (on a speculative path only that: its masks were decided on the architectural paths).</summary>
    public Window Begin(Instruction insn, AluOperation op, in RegisterState ptr, in RegisterState off, bool ptrIsDst)
    {
        if (!Needed(op) || CanSkip(insn)) return default;
        bool offIsImm = off.VarOff.IsConst;
        if (Cur.Speculative)
        {
            if (!offIsImm) PushTruncated(insn, ptr, ptrIsDst);
            return default;
        }
        bool offIsNeg = off.SMin < 0;
        if (!offIsImm && (off.SMin < 0) != (off.SMax < 0))
            throw Fail($"R{OffReg(insn, ptrIsDst)} has unknown scalar with mixed signed bounds, {ForRoot}");
        bool maskToLeft = (op == AluOperation.Add && offIsNeg) || (op == AluOperation.Sub && !offIsNeg);
        uint limit = PtrLimit(insn, op, ptr, maskToLeft, ptrIsDst);
        uint state = (offIsNeg ? NegValue : 0) | (offIsImm ? Immediate : 0) | (ptrIsDst ? SanitizeSrc : SanitizeDst);
        // The first phase only computes the window (into the kernel's temporary info->aux); Commit records it.
        if (!offIsImm) ExploreAluLimits = true;
        if (!offIsImm) PushTruncated(insn, ptr, ptrIsDst);
        return new Window(true, maskToLeft, state, limit);
    }

    /// <summary>sanitize_ptr_alu's simulation of the zero-truncated offset: the destination holds the unmoved pointer
    /// after the instruction, on a speculative path.</summary>
    private void PushTruncated(Instruction insn, in RegisterState ptr, bool ptrIsDst)
    {
        if (ptrIsDst)
        {
            Speculation.Push(InsnIdx + 1, InsnIdx, null);
            return;
        }
        var dst = Reg(insn.Dst);
        Reg(insn.Dst) = ptr;
        Speculation.Push(InsnIdx + 1, InsnIdx, null);
        Reg(insn.Dst) = dst;
    }

    /// <summary>A speculation barrier now protects <paramref name="insn"/>: its mask is not needed (aux->alu_state = 0).</summary>
    public void Forget(int insn) => _aux.Remove(insn);

    /// <summary>sanitize_check_bounds then sanitize_ptr_alu's commit: the moved pointer must still be maskable.</summary>
    public void Commit(Instruction insn, AluOperation op, in Window window, in RegisterState result)
    {
        if (AllowPtrLeaks) return;
        CheckBounds(insn.Dst, result);
        if (!window.Active) return;
        uint after = PtrLimit(insn, op, result, window.MaskToLeft, ptrIsDst: true);
        uint limit = (uint)Math.Abs((long)window.Limit - after);
        Update(insn, op, window.State, limit);
    }

    /// <summary>sanitize_val_alu: a scalar add/sub with a register must not share its instruction with pointer arithmetic
    /// (checked on speculative paths too, as the kernel does).</summary>
    public void ScalarAlu(Instruction insn, AluOperation op)
    {
        if (!Needed(op) || CanSkip(insn)) return;
        Update(insn, op, NonPointer, 0);
    }

    /// <summary>sanitize_check_bounds: stack and map value pointers must stay inside their object.</summary>
    private void CheckBounds(int dst, in RegisterState reg)
    {
        switch (reg.Type)
        {
            case RegisterType.Stack:
            {
                long off = reg.Off + (long)reg.VarOff.Value;
                if (!reg.VarOff.IsConst)
                    throw Fail($"R{dst} variable stack access prohibited for !root, var_off={reg.VarOff} off={off}");
                if (off >= 0 || off < -FrameState.StackSize)
                    throw Fail($"R{dst} stack pointer arithmetic goes out of range, prohibited for !root; off={off}");
                break;
            }
            case RegisterType.MapValue when reg.Map is { } map:
                try
                {
                    Memory.RegionAccess(dst, reg, reg.Off, 1, (int)map.ValueSize, "map value", "value_size", 1);
                }
                catch (VerifierError e)
                {
                    throw Fail($"{e.Message}\nR{dst} pointer arithmetic of map value goes out of range, prohibited for !root");
                }
                break;
        }
    }

    /// <summary>retrieve_ptr_limit: how far the pointer may move in the masked direction.</summary>
    private uint PtrLimit(Instruction insn, AluOperation op, in RegisterState ptr, bool maskToLeft, bool ptrIsDst)
    {
        uint max, limit;
        switch (ptr.Type)
        {
            case RegisterType.Stack:
                // Offset 0 is out of bounds but an acceptable start for the left direction (the frame pointer).
                max = FrameState.StackSize + (maskToLeft ? 1u : 0u);
                limit = unchecked((uint)-(long)(ptr.VarOff.Value + (ulong)(long)ptr.Off));
                break;
            case RegisterType.MapValue when ptr.Map is { } map:
                max = map.ValueSize;
                limit = unchecked((uint)((maskToLeft ? ptr.SMin : (long)ptr.UMax) + ptr.Off));
                break;
            default:
                throw Fail($"R{(ptrIsDst ? insn.Dst : insn.Src)} has pointer with unsupported alu operation, {ForRoot}");
        }
        if (limit >= max)
            throw Fail($"R{insn.Dst} tried to {(op == AluOperation.Add ? "add" : "sub")} beyond pointer bounds, {ForRoot}");
        return limit;
    }

    /// <summary>update_alu_sanitation_state: paths that need different masks at one instruction cannot all be masked.</summary>
    private void Update(Instruction insn, AluOperation op, uint state, uint limit)
    {
        if (_aux.TryGetValue(InsnIdx, out var seen) && seen.State != 0 && (seen.State != state || seen.Limit != limit))
            throw Fail($"R{insn.Dst} tried to {(op == AluOperation.Add ? "add" : "sub")} from different maps, paths or scalars, {ForRoot}");
        _aux[InsnIdx] = (state, limit);
    }

    /// <summary>The offset register's number: the source, unless the pointer is the source ("scalar += pointer").</summary>
    private static int OffReg(Instruction insn, bool ptrIsDst) => ptrIsDst ? insn.Src : insn.Dst;
}
