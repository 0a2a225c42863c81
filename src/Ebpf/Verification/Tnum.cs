using System.Numerics;

namespace Ebpf.Verification;

/// <summary>
/// A tristate number: each bit is known 0, known 1, or unknown. <see cref="Value"/> holds the known
/// 1 bits, <see cref="Mask"/> the unknown bits (never overlapping). The algebra is the kernel's
/// (kernel/bpf/tnum.c): every operation over-approximates the set of concrete results.
/// </summary>
internal readonly record struct Tnum(ulong Value, ulong Mask)
{
    public static readonly Tnum Unknown = new(0, ulong.MaxValue);

    public static Tnum Const(ulong value) => new(value, 0);

    /// <summary>The smallest tnum containing every value in [min, max].</summary>
    public static Tnum Range(ulong min, ulong max)
    {
        ulong chi = min ^ max;
        int bits = chi == 0 ? 0 : 64 - BitOperations.LeadingZeroCount(chi);
        if (bits > 63) return Unknown;
        ulong delta = (1UL << bits) - 1;
        return new Tnum(min & ~delta, delta);
    }

    public bool IsConst => Mask == 0;
    public bool IsUnknown => Mask == ulong.MaxValue;
    public ulong Min => Value;
    public ulong Max => Value | Mask;

    /// <summary>True when the concrete value <paramref name="x"/> is a member.</summary>
    public bool Contains(ulong x) => (x & ~Mask) == Value;

    /// <summary>True when every member of <paramref name="b"/> is a member of this tnum (<c>tnum_in</c>).</summary>
    public bool Includes(Tnum b)
    {
        if ((b.Mask & ~Mask) != 0) return false;
        return Value == (b.Value & ~Mask);
    }

    public Tnum Lsh(int shift) => new(Value << shift, Mask << shift);
    public Tnum Rsh(int shift) => new(Value >> shift, Mask >> shift);

    /// <summary>Arithmetic right shift of the value as a <paramref name="bits"/>-bit (32 or 64) quantity.</summary>
    public Tnum Arsh(int shift, int bits)
    {
        if (bits == 32)
            return new((ulong)(uint)((int)(uint)Value >> shift), (ulong)(uint)((int)(uint)Mask >> shift));
        return new((ulong)((long)Value >> shift), (ulong)((long)Mask >> shift));
    }

    public static Tnum operator +(Tnum a, Tnum b)
    {
        ulong sm = a.Mask + b.Mask;
        ulong sv = a.Value + b.Value;
        ulong sigma = sm + sv;
        ulong chi = sigma ^ sv;
        ulong mu = chi | a.Mask | b.Mask;
        return new(sv & ~mu, mu);
    }

    public static Tnum operator -(Tnum a, Tnum b)
    {
        ulong dv = a.Value - b.Value;
        ulong alpha = dv + a.Mask;
        ulong beta = dv - b.Mask;
        ulong chi = alpha ^ beta;
        ulong mu = chi | a.Mask | b.Mask;
        return new(dv & ~mu, mu);
    }

    public static Tnum operator -(Tnum a) => Const(0) - a;

    public static Tnum operator &(Tnum a, Tnum b)
    {
        ulong alpha = a.Value | a.Mask;
        ulong beta = b.Value | b.Mask;
        ulong v = a.Value & b.Value;
        return new(v, alpha & beta & ~v);
    }

    public static Tnum operator |(Tnum a, Tnum b)
    {
        ulong v = a.Value | b.Value;
        ulong mu = a.Mask | b.Mask;
        return new(v, mu & ~v);
    }

    public static Tnum operator ^(Tnum a, Tnum b)
    {
        ulong v = a.Value ^ b.Value;
        ulong mu = a.Mask | b.Mask;
        return new(v & ~mu, mu);
    }

    /// <summary>Multiplication by long multiplication over the known and unknown bits.</summary>
    public static Tnum operator *(Tnum a, Tnum b)
    {
        ulong accV = a.Value * b.Value;
        Tnum accM = new(0, 0);
        while (a.Value != 0 || a.Mask != 0)
        {
            if ((a.Value & 1) != 0) accM += new Tnum(0, b.Mask);
            else if ((a.Mask & 1) != 0) accM += new Tnum(0, b.Value | b.Mask);
            a = a.Rsh(1);
            b = b.Lsh(1);
        }
        return new Tnum(accV, 0) + accM;
    }

    /// <summary>Values that are members of both (the caller knows both hold the same concrete value).</summary>
    public Tnum Intersect(Tnum b)
    {
        ulong v = Value | b.Value;
        ulong mu = Mask & b.Mask;
        return new(v & ~mu, mu);
    }

    /// <summary>Smallest tnum containing both (used when joining states).</summary>
    public Tnum Union(Tnum b)
    {
        ulong mu = Mask | b.Mask | (Value ^ b.Value);
        return new(Value & ~mu, mu);
    }

    /// <summary>Truncation to the low <paramref name="size"/> bytes (<c>tnum_cast</c>).</summary>
    public Tnum Cast(int size)
    {
        if (size >= 8) return this;
        ulong m = (1UL << (size * 8)) - 1;
        return new(Value & m, Mask & m);
    }

    /// <summary>True when every member is a multiple of <paramref name="size"/> (a power of two).</summary>
    public bool IsAligned(ulong size) => size == 0 || ((Value | Mask) & (size - 1)) == 0;

    /// <summary>The low 32 bits (<c>tnum_subreg</c>).</summary>
    public Tnum Subreg => Cast(4);

    /// <summary>This tnum with the low 32 bits known zero (<c>tnum_clear_subreg</c>).</summary>
    public Tnum ClearSubreg => new(Value & ~0xffffffffUL, Mask & ~0xffffffffUL);

    /// <summary>The high 32 bits of this tnum with <paramref name="subreg"/> as the low 32 bits.</summary>
    public Tnum WithSubreg(Tnum subreg) => ClearSubreg | subreg.Subreg;

    public override string ToString() => $"(0x{Value:x}; 0x{Mask:x})";
}
