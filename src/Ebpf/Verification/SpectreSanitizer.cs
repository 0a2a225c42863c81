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

    /// <summary>sanitize_ptr_alu before the operation (commit_window false); an inactive window when nothing applies.</summary>
    public Window Begin(Instruction insn, AluOperation op, in RegisterState ptr, in RegisterState off, bool ptrIsDst)
    {
        // can_skip_alu_sanitation: a privileged loader, or an immediate offset.
        if (AllowPtrLeaks || !Needed(op) || insn.Source == OperandSource.Immediate) return default;
        bool offIsImm = off.VarOff.IsConst;
        bool offIsNeg = off.SMin < 0;
        if (!offIsImm && (off.SMin < 0) != (off.SMax < 0))
            throw Fail($"R{OffReg(insn, ptrIsDst)} has unknown scalar with mixed signed bounds, {ForRoot}");
        bool maskToLeft = (op == AluOperation.Add && offIsNeg) || (op == AluOperation.Sub && !offIsNeg);
        uint limit = PtrLimit(insn, op, ptr, maskToLeft, ptrIsDst);
        uint state = (offIsNeg ? NegValue : 0) | (offIsImm ? Immediate : 0) | (ptrIsDst ? SanitizeSrc : SanitizeDst);
        return new Window(true, maskToLeft, state, limit);
    }

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

    /// <summary>sanitize_val_alu: a scalar add/sub with a register must not share its instruction with pointer arithmetic.</summary>
    public void ScalarAlu(Instruction insn, AluOperation op)
    {
        if (AllowPtrLeaks || !Needed(op) || insn.Source == OperandSource.Immediate) return;
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
