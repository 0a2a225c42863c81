using Ebpf.Isa;
using Ebpf.Verification;

namespace Ebpf.Tests.Verification;

public class ScalarBoundsTests
{
    private static RegisterState Range(ulong min, ulong max)
    {
        var r = RegisterState.UnknownScalar();
        r.UMin = min;
        r.UMax = max;
        ScalarBounds.Sync(ref r);
        return r;
    }

    [Fact]
    public void Unsigned_range_deduces_signed_32_bit_and_tnum()
    {
        var r = Range(0, 255);
        Assert.Equal(0, r.SMin);
        Assert.Equal(255, r.SMax);
        Assert.Equal(0u, r.U32Min);
        Assert.Equal(255u, r.U32Max);
        Assert.Equal(new Tnum(0, 0xff), r.VarOff);
    }

    [Fact]
    public void Tnum_deduces_ranges()
    {
        var r = RegisterState.UnknownScalar();
        r.VarOff = new Tnum(0x10, 0x0f);
        ScalarBounds.ResetFromTnum(ref r);
        Assert.Equal(0x10UL, r.UMin);
        Assert.Equal(0x1fUL, r.UMax);
        Assert.Equal(0x10, r.SMin);
        Assert.Equal(0x1f, r.S32Max);
    }

    [Fact]
    public void Subregister_bounds_narrow_the_64_bit_range()
    {
        var r = RegisterState.UnknownScalar();
        r.UMax = 0xffffffff; // upper half known zero
        r.U32Max = 100;
        ScalarBounds.Sync(ref r);
        Assert.Equal(100UL, r.UMax);
        Assert.Equal(100, r.SMax);
    }

    [Fact]
    public void Truncation_to_32_bits_keeps_a_range_inside_one_block()
    {
        var r = Range(0x1_0000_0005, 0x1_0000_0009);
        ScalarBounds.Truncate(ref r, 4);
        Assert.Equal(5UL, r.UMin);
        Assert.Equal(9UL, r.UMax);
        var wide = Range(0xffff_fff0, 0x1_0000_0010);
        ScalarBounds.Truncate(ref wide, 4);
        Assert.Equal(0UL, wide.UMin);
        Assert.Equal(0xffff_ffffUL, wide.UMax);
    }

    [Fact]
    public void Add_overflow_makes_unsigned_unbounded_and_keeps_signed()
    {
        var a = Range(5, ulong.MaxValue - 1);
        var two = RegisterState.ConstScalar(2);
        var r = a;
        ScalarAlu.Apply(ref r, two, AluOperation.Add, is64: true);
        Assert.Equal(0UL, r.UMin);
        Assert.Equal(ulong.MaxValue, r.UMax);
        var small = Range(10, 20);
        ScalarAlu.Apply(ref small, RegisterState.ConstScalar(5), AluOperation.Add, true);
        Assert.Equal(15UL, small.UMin);
        Assert.Equal(25UL, small.UMax);
    }

    [Fact]
    public void And_with_mask_bounds_the_result()
    {
        var r = RegisterState.UnknownScalar();
        ScalarAlu.Apply(ref r, RegisterState.ConstScalar(0xff), AluOperation.And, true);
        Assert.Equal(0UL, r.UMin);
        Assert.Equal(255UL, r.UMax);
        Assert.Equal(0, r.SMin);
    }

    [Fact]
    public void Shifts_by_known_amount_and_unknown_amount()
    {
        var r = Range(1, 4);
        ScalarAlu.Apply(ref r, RegisterState.ConstScalar(3), AluOperation.Lsh, true);
        Assert.Equal(8UL, r.UMin);
        Assert.Equal(32UL, r.UMax);
        var s = Range(1, 4);
        ScalarAlu.Apply(ref s, Range(0, 3), AluOperation.Lsh, true);
        Assert.Equal(ulong.MaxValue, s.UMax);
        var t = Range(64, 255);
        ScalarAlu.Apply(ref t, RegisterState.ConstScalar(4), AluOperation.Rsh, true);
        Assert.Equal(4UL, t.UMin);
        Assert.Equal(15UL, t.UMax);
    }

    [Fact]
    public void Alu32_zero_extends()
    {
        var r = RegisterState.ConstScalar(0xffff_ffff_ffff_fff0);
        ScalarAlu.Apply(ref r, RegisterState.ConstScalar(0x20), AluOperation.Add, is64: false);
        Assert.True(r.VarOff.IsConst);
        Assert.Equal(0x10UL, r.VarOff.Value);
    }

    [Fact]
    public void Division_by_zero_and_signed_division_follow_bpf()
    {
        Assert.Equal(0UL, ScalarAlu.Evaluate(7, 0, div: true, signed: false, bits: 64));
        Assert.Equal(7UL, ScalarAlu.Evaluate(7, 0, div: false, signed: false, bits: 64));
        Assert.Equal(unchecked((ulong)-3L), ScalarAlu.Evaluate(unchecked((ulong)-7L), 2, true, true, 64));
        Assert.Equal(0x8000_0000UL, ScalarAlu.Evaluate(0x8000_0000, 0xffff_ffff, true, true, 32));
    }

    [Fact]
    public void Sign_extension_of_a_byte()
    {
        var r = RegisterState.ConstScalar(0x80);
        ScalarBounds.SignExtend(ref r, 1);
        Assert.Equal(unchecked((ulong)-128L), r.VarOff.Value);
        var u = RegisterState.UnknownScalar();
        ScalarBounds.SignExtend(ref u, 1);
        Assert.Equal(-128, u.SMin);
        Assert.Equal(127, u.SMax);
    }
}
