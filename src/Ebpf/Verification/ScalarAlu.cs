using Ebpf.Isa;

namespace Ebpf.Verification;

/// <summary>
/// Abstract arithmetic on scalars (the kernel's <c>adjust_scalar_min_max_vals</c>). 64-bit operations
/// work on the full bounds; 32-bit ones run the 64-bit rule on the zero- (or, for arsh, sign-) extended
/// subregisters and truncate the result, which is exact for add/sub/mul/bitwise/shift low halves.
/// </summary>
internal static class ScalarAlu
{
    /// <summary>
    /// Applies <paramref name="op"/> to <paramref name="dst"/>. <paramref name="signed"/> (sdiv/smod) changes nothing
    /// here: the kernel computes no range for any division or modulo.
    /// </summary>
    public static void Apply(ref RegisterState dst, in RegisterState src, AluOperation op, bool is64, bool signed = false)
    {
        _ = signed;
        if (!IsSafeToComputeRange(op, src, is64 ? 64 : 32))
        {
            // is_safe_to_compute_dst_reg_range: for div/mod and shifts by an unknown or too-large amount the kernel
            // marks the whole 64-bit register unknown and returns before the ALU32 zero extension, so even a 32-bit
            // result may be any 64-bit value to the verifier. __mark_reg_unknown also drops the scalar id: the value no
            // longer equals anything it was linked to.
            ScalarBounds.MarkUnbounded(ref dst);
            dst.Type = RegisterType.Scalar;
            dst.Id = 0;
            return;
        }
        if (is64)
        {
            Apply64(ref dst, src, op, 64);
            return;
        }
        if (op == AluOperation.Arsh)
        {
            Arsh32(ref dst, (int)src.VarOff.Value);
            return;
        }
        var a = ScalarBounds.Low32(dst);
        var b = ScalarBounds.Low32(src);
        Apply64(ref a, b, op, 32);
        a.Type = RegisterType.Scalar;
        ScalarBounds.Truncate(ref a, 4);
        int id = dst.Id;
        dst = a;
        dst.Id = id;
    }

    private static bool IsSafeToComputeRange(AluOperation op, in RegisterState src, int bits) => op switch
    {
        AluOperation.Add or AluOperation.Sub or AluOperation.And or AluOperation.Xor or AluOperation.Or or AluOperation.Mul => true,
        AluOperation.Lsh or AluOperation.Rsh or AluOperation.Arsh => src.VarOff.IsConst && src.UMax < (ulong)bits,
        AluOperation.Mov or AluOperation.Neg or AluOperation.End => true, // not range ops: handled by their own paths
        _ => false,
    };

    private static void Apply64(ref RegisterState d, in RegisterState s, AluOperation op, int bits)
    {
        switch (op)
        {
            case AluOperation.Add: Add(ref d, s); break;
            case AluOperation.Sub: Sub(ref d, s); break;
            case AluOperation.Mul: Mul(ref d, s); break;
            case AluOperation.And: Bitwise(ref d, s, d.VarOff & s.VarOff, op); break;
            case AluOperation.Or: Bitwise(ref d, s, d.VarOff | s.VarOff, op); break;
            case AluOperation.Xor: Bitwise(ref d, s, d.VarOff ^ s.VarOff, op); break;
            case AluOperation.Lsh:
            case AluOperation.Rsh:
            case AluOperation.Arsh: Shift(ref d, s, op, bits); break;
            default: ScalarBounds.MarkUnbounded(ref d); break;
        }
        ScalarBounds.Sync(ref d);
    }

    /// <summary>scalar_min_max_add and scalar32_min_max_add: each width on its own bounds. Unsigned bounds survive
    /// when no sum or every sum wraps (then all wrap alike); signed ones only without overflow.</summary>
    private static void Add(ref RegisterState d, in RegisterState s)
    {
        var t = d.VarOff + s.VarOff;
        long smin = d.SMin + s.SMin, smax = d.SMax + s.SMax;
        bool sOverflow = ((d.SMin ^ smin) & (s.SMin ^ smin)) < 0 || ((d.SMax ^ smax) & (s.SMax ^ smax)) < 0;
        ulong umin = d.UMin + s.UMin, umax = d.UMax + s.UMax;
        bool uPartial = umin >= d.UMin && umax < d.UMax;
        long s32min = (long)d.S32Min + s.S32Min, s32max = (long)d.S32Max + s.S32Max;
        bool s32Overflow = s32min != (int)s32min || s32max != (int)s32max;
        ulong u32min = (ulong)d.U32Min + s.U32Min, u32max = (ulong)d.U32Max + s.U32Max;
        bool u32Partial = u32min <= uint.MaxValue && u32max > uint.MaxValue;
        ScalarBounds.MarkUnbounded(ref d);
        d.VarOff = t;
        if (!sOverflow) { d.SMin = smin; d.SMax = smax; }
        if (!uPartial) { d.UMin = umin; d.UMax = umax; }
        if (!s32Overflow) { d.S32Min = (int)s32min; d.S32Max = (int)s32max; }
        if (!u32Partial) { d.U32Min = (uint)u32min; d.U32Max = (uint)u32max; }
    }

    /// <summary>scalar_min_max_sub and scalar32_min_max_sub, with the same rules as <see cref="Add"/>.</summary>
    private static void Sub(ref RegisterState d, in RegisterState s)
    {
        var t = d.VarOff - s.VarOff;
        long smin = d.SMin - s.SMax, smax = d.SMax - s.SMin;
        bool sOverflow = ((d.SMin ^ s.SMax) & (d.SMin ^ smin)) < 0 || ((d.SMax ^ s.SMin) & (d.SMax ^ smax)) < 0;
        bool uPartial = d.UMin < s.UMax && d.UMax >= s.UMin;
        ulong umin = d.UMin - s.UMax, umax = d.UMax - s.UMin;
        long s32min = (long)d.S32Min - s.S32Max, s32max = (long)d.S32Max - s.S32Min;
        bool s32Overflow = s32min != (int)s32min || s32max != (int)s32max;
        bool u32Partial = d.U32Min < s.U32Max && d.U32Max >= s.U32Min;
        uint u32min = d.U32Min - s.U32Max, u32max = d.U32Max - s.U32Min;
        ScalarBounds.MarkUnbounded(ref d);
        d.VarOff = t;
        if (!sOverflow) { d.SMin = smin; d.SMax = smax; }
        if (!uPartial) { d.UMin = umin; d.UMax = umax; }
        if (!s32Overflow) { d.S32Min = (int)s32min; d.S32Max = (int)s32max; }
        if (!u32Partial) { d.U32Min = u32min; d.U32Max = u32max; }
    }

    private static void Mul(ref RegisterState d, in RegisterState s)
    {
        var t = d.VarOff * s.VarOff;
        bool small = d.UMax <= uint.MaxValue && s.UMax <= uint.MaxValue;
        ulong umin = d.UMin * s.UMin, umax = d.UMax * s.UMax;
        bool nonNegative = d.SMin >= 0 && s.SMin >= 0;
        ScalarBounds.MarkUnbounded(ref d);
        d.VarOff = t;
        if (small)
        {
            d.UMin = umin; d.UMax = umax;
            if (nonNegative && umax <= long.MaxValue) { d.SMin = (long)umin; d.SMax = (long)umax; }
        }
    }

    /// <summary>Concrete BPF division/modulo (division by zero gives 0, modulo by zero leaves the dividend).</summary>
    public static ulong Evaluate(ulong a, ulong b, bool div, bool signed, int bits)
    {
        if (bits == 32) { a = (uint)a; b = (uint)b; }
        if (b == 0) return div ? 0 : a;
        if (!signed) return div ? a / b : a % b;
        if (bits == 32)
        {
            int x = (int)(uint)a, y = (int)(uint)b;
            if (y == -1) return div ? (uint)unchecked(-x) : 0;
            return (uint)(div ? x / y : x % y);
        }
        long lx = (long)a, ly = (long)b;
        if (ly == -1) return div ? (ulong)unchecked(-lx) : 0;
        return (ulong)(div ? lx / ly : lx % ly);
    }

    private static void Bitwise(ref RegisterState d, in RegisterState s, Tnum t, AluOperation op)
    {
        bool nonNegative = d.SMin >= 0 && s.SMin >= 0;
        ulong umin, umax;
        if (op == AluOperation.And) { umin = t.Value; umax = Math.Min(d.UMax, s.UMax); }
        else if (op == AluOperation.Or) { umin = Math.Max(d.UMin, s.UMin); umax = t.Max; }
        else { umin = t.Value; umax = t.Max; }
        ScalarBounds.MarkUnbounded(ref d);
        d.VarOff = t;
        d.UMin = umin; d.UMax = umax;
        if (nonNegative && umax <= long.MaxValue) { d.SMin = (long)umin; d.SMax = (long)umax; }
    }

    private static void Shift(ref RegisterState d, in RegisterState s, AluOperation op, int bits)
    {
        // The kernel only tracks shifts by a known amount below the width; anything else is unknown.
        if (!s.VarOff.IsConst || s.VarOff.Value >= (ulong)bits)
        {
            ScalarBounds.MarkUnbounded(ref d);
            return;
        }
        int k = (int)s.VarOff.Value;
        if (op == AluOperation.Lsh)
        {
            var t = d.VarOff.Lsh(k);
            // __scalar64_min_max_lsh: the top bit may be shifted out once umax exceeds 1 << (63 - k).
            bool fits = bits == 64 ? d.UMax <= 1UL << (63 - k) : d.UMax <= (ulong.MaxValue >> k);
            ulong umin = d.UMin << k, umax = d.UMax << k;
            // The compilers' "<<32 s>>32" sign extension: a non-negative 32-bit bound survives a 64-bit <<32.
            long smin = long.MinValue, smax = long.MaxValue;
            if (bits == 64 && k == 32)
            {
                if (d.S32Max >= 0) smax = (long)d.S32Max << 32;
                if (d.S32Min >= 0) smin = (long)d.S32Min << 32;
            }
            ScalarBounds.MarkUnbounded(ref d);
            d.VarOff = t;
            d.SMin = smin; d.SMax = smax;
            if (fits) { d.UMin = umin; d.UMax = umax; }
        }
        else if (op == AluOperation.Rsh)
        {
            var t = d.VarOff.Rsh(k);
            ulong umin = d.UMin >> k, umax = d.UMax >> k;
            ScalarBounds.MarkUnbounded(ref d);
            d.VarOff = t;
            d.UMin = umin; d.UMax = umax;
        }
        else
        {
            var t = d.VarOff.Arsh(k, 64);
            long smin = d.SMin >> k, smax = d.SMax >> k;
            ScalarBounds.MarkUnbounded(ref d);
            d.VarOff = t;
            d.SMin = smin; d.SMax = smax;
        }
    }

    /// <summary>
    /// scalar32_min_max_arsh then zext_32_to_64: the s32 bounds and the subregister tnum shift arithmetically, the u32
    /// bounds are left to the tnum, and the 64-bit bounds are those of the zero-extended subregister (the s32 bounds
    /// carry over only when non-negative).
    /// </summary>
    private static void Arsh32(ref RegisterState d, int k)
    {
        int s32Min = d.S32Min >> k, s32Max = d.S32Max >> k;
        var t = d.VarOff.Subreg.Arsh(k, 32);
        ScalarBounds.MarkUnbounded(ref d);
        d.VarOff = t;
        d.S32Min = s32Min; d.S32Max = s32Max;
        d.UMin = 0; d.UMax = uint.MaxValue;
        if (s32Min >= 0) { d.SMin = s32Min; d.SMax = s32Max; }
        else { d.SMin = 0; d.SMax = uint.MaxValue; }
        ScalarBounds.Sync(ref d);
    }

    /// <summary>Byte swap / endianness conversion of <paramref name="size"/> bytes (BPF_END, host little-endian).</summary>
    public static void Endian(ref RegisterState d, int size, bool swap)
    {
        if (!swap)
        {
            ScalarBounds.Truncate(ref d, size / 8 == 8 ? 8 : size / 8);
            return;
        }
        int bytes = size / 8;
        if (d.VarOff.IsConst)
        {
            ulong v = d.VarOff.Value;
            ulong r = bytes switch
            {
                2 => System.Buffers.Binary.BinaryPrimitives.ReverseEndianness((ushort)v),
                4 => System.Buffers.Binary.BinaryPrimitives.ReverseEndianness((uint)v),
                _ => System.Buffers.Binary.BinaryPrimitives.ReverseEndianness(v),
            };
            ScalarBounds.MarkKnown(ref d, r);
            return;
        }
        ScalarBounds.MarkUnbounded(ref d);
        if (bytes < 8) ScalarBounds.Truncate(ref d, bytes);
    }
}
