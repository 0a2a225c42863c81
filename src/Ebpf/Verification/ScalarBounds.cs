namespace Ebpf.Verification;

/// <summary>
/// Bounds bookkeeping for the variable part of a register: the kernel's <c>reg_bounds_sync</c> (deduce the
/// 32/64-bit signed/unsigned bounds from each other and from the tnum, then tighten the tnum from the
/// bounds), plus truncation and extension between widths.
/// </summary>
internal static class ScalarBounds
{
    public static void MarkUnbounded(ref RegisterState r)
    {
        r.VarOff = Tnum.Unknown;
        r.SMin = long.MinValue; r.SMax = long.MaxValue;
        r.UMin = 0; r.UMax = ulong.MaxValue;
        r.S32Min = int.MinValue; r.S32Max = int.MaxValue;
        r.U32Min = 0; r.U32Max = uint.MaxValue;
    }

    public static void MarkKnown(ref RegisterState r, ulong value)
    {
        r.VarOff = Tnum.Const(value);
        r.SMin = r.SMax = (long)value;
        r.UMin = r.UMax = value;
        r.S32Min = r.S32Max = (int)(uint)value;
        r.U32Min = r.U32Max = (uint)value;
    }

    /// <summary>Forgets the bounds and recomputes them from the tnum alone.</summary>
    public static void ResetFromTnum(ref RegisterState r)
    {
        var t = r.VarOff;
        MarkUnbounded(ref r);
        r.VarOff = t;
        Sync(ref r);
    }

    /// <summary>True when the bounds describe at least one value (an empty set means an impossible path).</summary>
    public static bool IsConsistent(in RegisterState r) =>
        r.SMin <= r.SMax && r.UMin <= r.UMax && r.S32Min <= r.S32Max && r.U32Min <= r.U32Max
        && (r.VarOff.Value & r.VarOff.Mask) == 0
        && r.VarOff.Min <= r.UMax && r.VarOff.Max >= r.UMin;

    /// <summary><c>reg_bounds_sync</c>: bounds from tnum, cross-deduction, tnum from bounds, bounds again.</summary>
    public static void Sync(ref RegisterState r)
    {
        UpdateFromTnum(ref r);
        Deduce32(ref r);
        Deduce64(ref r);
        DeduceMixed(ref r);
        Deduce32(ref r);
        Deduce64(ref r);
        // __reg_bound_offset: tighten the tnum with what the ranges say.
        var t64 = r.VarOff.Intersect(Tnum.Range(r.UMin, r.UMax));
        var t32 = t64.Subreg.Intersect(Tnum.Range(r.U32Min, r.U32Max));
        r.VarOff = t64.ClearSubreg | t32;
        UpdateFromTnum(ref r);
    }

    private static void UpdateFromTnum(ref RegisterState r)
    {
        var t = r.VarOff;
        r.SMin = Math.Max(r.SMin, (long)(t.Value | (t.Mask & 0x8000_0000_0000_0000UL)));
        r.SMax = Math.Min(r.SMax, (long)(t.Value | (t.Mask & 0x7fff_ffff_ffff_ffffUL)));
        r.UMin = Math.Max(r.UMin, t.Value);
        r.UMax = Math.Min(r.UMax, t.Value | t.Mask);
        var s = t.Subreg;
        r.S32Min = Math.Max(r.S32Min, (int)(uint)(s.Value | (s.Mask & 0x8000_0000UL)));
        r.S32Max = Math.Min(r.S32Max, (int)(uint)(s.Value | (s.Mask & 0x7fff_ffffUL)));
        r.U32Min = Math.Max(r.U32Min, (uint)s.Value);
        r.U32Max = Math.Min(r.U32Max, (uint)(s.Value | s.Mask));
    }

    private static void Deduce32(ref RegisterState r)
    {
        // When the 64-bit range stays within one 2^32 block, its low halves bound the subregister.
        if ((r.UMin >> 32) == (r.UMax >> 32))
        {
            r.U32Min = Math.Max(r.U32Min, (uint)r.UMin);
            r.U32Max = Math.Min(r.U32Max, (uint)r.UMax);
            if ((int)(uint)r.UMin <= (int)(uint)r.UMax)
            {
                r.S32Min = Math.Max(r.S32Min, (int)(uint)r.UMin);
                r.S32Max = Math.Min(r.S32Max, (int)(uint)r.UMax);
            }
        }
        if ((r.SMin >> 32) == (r.SMax >> 32))
        {
            if ((uint)r.SMin <= (uint)r.SMax)
            {
                r.U32Min = Math.Max(r.U32Min, (uint)r.SMin);
                r.U32Max = Math.Min(r.U32Max, (uint)r.SMax);
            }
            if ((int)r.SMin <= (int)r.SMax)
            {
                r.S32Min = Math.Max(r.S32Min, (int)r.SMin);
                r.S32Max = Math.Min(r.S32Max, (int)r.SMax);
            }
        }
        // The upper halves are two consecutive numbers and the low halves run from negative to non-negative: the
        // subregister still forms one s32 range (e.g. 64-bit [-1, 1] is s32 [-1, 1]).
        if ((uint)(r.UMin >> 32) + 1 == (uint)(r.UMax >> 32) && (int)r.UMin < 0 && (int)r.UMax >= 0)
        {
            r.S32Min = Math.Max(r.S32Min, (int)r.UMin);
            r.S32Max = Math.Min(r.S32Max, (int)r.UMax);
        }
        if ((uint)((ulong)r.SMin >> 32) + 1 == (uint)((ulong)r.SMax >> 32) && (int)r.SMin < 0 && (int)r.SMax >= 0)
        {
            r.S32Min = Math.Max(r.S32Min, (int)r.SMin);
            r.S32Max = Math.Min(r.S32Max, (int)r.SMax);
        }
        // Signed and unsigned 32-bit views agree when the range does not cross the sign boundary.
        if ((int)r.U32Min <= (int)r.U32Max)
        {
            r.S32Min = Math.Max(r.S32Min, (int)r.U32Min);
            r.S32Max = Math.Min(r.S32Max, (int)r.U32Max);
        }
        if ((uint)r.S32Min <= (uint)r.S32Max)
        {
            r.U32Min = Math.Max(r.U32Min, (uint)r.S32Min);
            r.U32Max = Math.Min(r.U32Max, (uint)r.S32Max);
        }
        else if (r.U32Max < (uint)r.S32Min)
        {
            // The s32 range wraps around 0: when the u32 range only meets its non-negative half, both shrink to it.
            r.S32Min = (int)r.U32Min;
            r.U32Max = Math.Min(r.U32Max, (uint)r.S32Max);
        }
        else if ((uint)r.S32Max < r.U32Min)
        {
            // ... or only its negative half.
            r.S32Max = (int)r.U32Max;
            r.U32Min = Math.Max(r.U32Min, (uint)r.S32Min);
        }
    }

    private static void Deduce64(ref RegisterState r)
    {
        if ((long)r.UMin <= (long)r.UMax)
        {
            r.SMin = Math.Max(r.SMin, (long)r.UMin);
            r.SMax = Math.Min(r.SMax, (long)r.UMax);
        }
        if ((ulong)r.SMin <= (ulong)r.SMax)
        {
            r.UMin = Math.Max(r.UMin, (ulong)r.SMin);
            r.UMax = Math.Min(r.UMax, (ulong)r.SMax);
        }
        else if (r.UMax < (ulong)r.SMin)
        {
            // The s64 range crosses the sign boundary (it is split between both ends of the u64 domain); a u64 range
            // meeting only its non-negative part narrows both to that part. Two overlaps cannot be represented.
            r.SMin = (long)r.UMin;
            r.UMax = Math.Min(r.UMax, (ulong)r.SMax);
        }
        else if ((ulong)r.SMax < r.UMin)
        {
            // ... or only its negative part.
            r.SMax = (long)r.UMax;
            r.UMin = Math.Max(r.UMin, (ulong)r.SMin);
        }
    }

    private static void DeduceMixed(ref RegisterState r)
    {
        // The subregister bounds constrain the low half of any 64-bit value: keep the high half of the
        // 64-bit bounds and substitute the 32-bit bounds.
        ulong newUMin = (r.UMin & ~0xffffffffUL) | r.U32Min;
        ulong newUMax = (r.UMax & ~0xffffffffUL) | r.U32Max;
        r.UMin = Math.Max(r.UMin, newUMin);
        r.UMax = Math.Min(r.UMax, newUMax);
        long newSMin = (long)(((ulong)r.SMin & ~0xffffffffUL) | r.U32Min);
        long newSMax = (long)(((ulong)r.SMax & ~0xffffffffUL) | r.U32Max);
        r.SMin = Math.Max(r.SMin, newSMin);
        r.SMax = Math.Min(r.SMax, newSMax);
    }

    /// <summary>Truncates to the low <paramref name="size"/> bytes, zero-extended (<c>coerce_reg_to_size</c>).</summary>
    public static void Truncate(ref RegisterState r, int size)
    {
        if (size >= 8) return;
        ulong mask = (1UL << (size * 8)) - 1;
        r.VarOff = r.VarOff.Cast(size);
        if ((r.UMin & ~mask) == (r.UMax & ~mask))
        {
            r.UMin &= mask;
            r.UMax &= mask;
        }
        else
        {
            r.UMin = 0;
            r.UMax = mask;
        }
        r.SMin = (long)r.UMin;
        r.SMax = (long)r.UMax;
        r.S32Min = int.MinValue; r.S32Max = int.MaxValue;
        r.U32Min = 0; r.U32Max = uint.MaxValue;
        if (size == 4 && r.UMax <= uint.MaxValue)
        {
            r.U32Min = (uint)r.UMin;
            r.U32Max = (uint)r.UMax;
        }
        Sync(ref r);
    }

    /// <summary>
    /// Sign-extends the low <paramref name="size"/> bytes to 64 bits (movsx, ldsx: the kernel's
    /// <c>coerce_reg_to_size_sx</c>). The signed range survives when both ends lie in one 2^bits block and extend to
    /// the same sign; otherwise the result is the whole signed range of that width.
    /// </summary>
    public static void SignExtend(ref RegisterState r, int size)
    {
        int bits = size * 8;
        if (r.VarOff.IsConst)
        {
            MarkKnown(ref r, (ulong)Extend(r.VarOff.Value, bits));
            return;
        }
        if (((ulong)r.SMax >> bits) == ((ulong)r.SMin >> bits))
        {
            long a = Extend((ulong)r.SMax, bits), b = Extend((ulong)r.SMin, bits);
            long max = Math.Max(a, b), min = Math.Min(a, b);
            if (min >= 0 == max >= 0)
            {
                r.SMin = min; r.SMax = max;
                r.S32Min = (int)min; r.S32Max = (int)max;
                r.UMin = (ulong)min; r.UMax = (ulong)max;
                r.U32Min = (uint)min; r.U32Max = (uint)max;
                r.VarOff = Tnum.Range((ulong)min, (ulong)max);
                return;
            }
        }
        // set_sext64_default_val
        long lo = -(1L << (bits - 1)), hi = (1L << (bits - 1)) - 1;
        r.SMin = lo; r.SMax = hi;
        r.S32Min = (int)lo; r.S32Max = (int)hi;
        r.UMin = 0; r.UMax = ulong.MaxValue;
        r.U32Min = 0; r.U32Max = uint.MaxValue;
        r.VarOff = Tnum.Unknown;
    }

    /// <summary>
    /// <c>w = (s8/s16)w</c>: the subregister version (<c>coerce_subreg_to_size_sx</c>), then the zero extension of the
    /// 32-bit result into the register (<c>zext_32_to_64</c>) and <c>reg_bounds_sync</c>.
    /// </summary>
    public static void SignExtendSubreg(ref RegisterState r, int size)
    {
        int bits = size * 8;
        if (r.VarOff.IsConst)
        {
            MarkKnown(ref r, (uint)Extend(r.VarOff.Value, bits));
            return;
        }
        bool done = false;
        if (((uint)r.S32Max >> bits) == ((uint)r.S32Min >> bits))
        {
            int a = (int)Extend((uint)r.S32Max, bits), b = (int)Extend((uint)r.S32Min, bits);
            int max = Math.Max(a, b), min = Math.Min(a, b);
            if (min >= 0 == max >= 0)
            {
                r.S32Min = min; r.S32Max = max;
                r.U32Min = (uint)min; r.U32Max = (uint)max;
                r.VarOff = Tnum.Range((ulong)(long)min, (ulong)(long)max).Subreg;
                done = true;
            }
        }
        if (!done)
        {
            // set_sext32_default_val
            r.S32Min = -(1 << (bits - 1)); r.S32Max = (1 << (bits - 1)) - 1;
            r.U32Min = 0; r.U32Max = uint.MaxValue;
            r.VarOff = Tnum.Unknown.Subreg;
        }
        ZeroExtendSubreg(ref r);
        Sync(ref r);
    }

    /// <summary><c>zext_32_to_64</c>: the register becomes its zero-extended subregister, 64-bit bounds from the 32-bit ones.</summary>
    public static void ZeroExtendSubreg(ref RegisterState r)
    {
        r.VarOff = r.VarOff.Subreg;
        r.UMin = r.U32Min; r.UMax = r.U32Max;
        if (r.S32Min >= 0 && r.S32Max >= 0) { r.SMin = r.S32Min; r.SMax = r.S32Max; }
        else { r.SMin = 0; r.SMax = uint.MaxValue; }
    }

    private static long Extend(ulong v, int bits) => bits == 64 ? (long)v : (long)(v << (64 - bits)) >> (64 - bits);

    /// <summary>The subregister as a zero-extended 64-bit scalar.</summary>
    public static RegisterState Low32(in RegisterState src)
    {
        var r = src;
        r.VarOff = src.VarOff.Subreg;
        r.UMin = src.U32Min; r.UMax = src.U32Max;
        r.SMin = src.U32Min; r.SMax = src.U32Max;
        r.S32Min = src.S32Min; r.S32Max = src.S32Max;
        r.U32Min = src.U32Min; r.U32Max = src.U32Max;
        Sync(ref r);
        return r;
    }

    /// <summary>True when the value is the same for every concrete instance and equal to <paramref name="v"/>.</summary>
    public static bool IsConst(in RegisterState r, ulong v) => r.VarOff.IsConst && r.VarOff.Value == v;
}
