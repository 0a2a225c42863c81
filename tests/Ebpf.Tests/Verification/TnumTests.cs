using Ebpf.Verification;

namespace Ebpf.Tests.Verification;

public class TnumTests
{
    // Small tnums over the low 4 bits, with every member enumerated, check each operation is sound
    // (contains every concrete result) and, where the kernel's algebra is exact, precise.
    private static IEnumerable<Tnum> SmallTnums()
    {
        for (ulong mask = 0; mask < 16; mask++)
            for (ulong value = 0; value < 16; value++)
                if ((value & mask) == 0) yield return new Tnum(value, mask);
    }

    private static IEnumerable<ulong> Members(Tnum t)
    {
        for (ulong x = 0; x < 16; x++) if (t.Contains(x)) yield return x;
    }

    public static TheoryData<string> Ops => new() { "add", "sub", "mul", "and", "or", "xor" };

    [Theory]
    [MemberData(nameof(Ops))]
    public void Binary_operations_contain_every_concrete_result(string op)
    {
        foreach (var a in SmallTnums())
        foreach (var b in SmallTnums())
        {
            Tnum r = op switch
            {
                "add" => a + b,
                "sub" => a - b,
                "mul" => a * b,
                "and" => a & b,
                "or" => a | b,
                _ => a ^ b,
            };
            foreach (var x in Members(a))
            foreach (var y in Members(b))
            {
                ulong c = op switch
                {
                    "add" => x + y,
                    "sub" => x - y,
                    "mul" => x * y,
                    "and" => x & y,
                    "or" => x | y,
                    _ => x ^ y,
                };
                Assert.True(r.Contains(c), $"{a} {op} {b} = {r} misses {x} {op} {y} = {c}");
            }
        }
    }

    [Fact]
    public void Bitwise_operations_on_known_bits_are_exact()
    {
        var a = new Tnum(0b1000, 0b0011); // 10xx
        var b = Tnum.Const(0b0110);
        Assert.Equal(new Tnum(0b0000, 0b0010), a & b);
        Assert.Equal(new Tnum(0b1110, 0b0001), a | b);
        Assert.Equal(new Tnum(0b1100, 0b0011), a ^ b);
        Assert.Equal(Tnum.Const(12), Tnum.Const(5) + Tnum.Const(7));
        Assert.Equal(Tnum.Const(35), Tnum.Const(5) * Tnum.Const(7));
        Assert.Equal(Tnum.Const(unchecked((ulong)-2)), Tnum.Const(5) - Tnum.Const(7));
    }

    [Fact]
    public void Shifts_move_known_and_unknown_bits()
    {
        var a = new Tnum(0b1000, 0b0011);
        Assert.Equal(new Tnum(0b100000, 0b001100), a.Lsh(2));
        Assert.Equal(new Tnum(0b10, 0b0), a.Rsh(2));
        var neg = new Tnum(0x8000_0000_0000_0000, 0x1);
        Assert.Equal(new Tnum(0xC000_0000_0000_0000, 0x0), neg.Arsh(1, 64));
        var neg32 = new Tnum(0x8000_0000, 0x1);
        Assert.Equal(new Tnum(0xC000_0000, 0x0), neg32.Arsh(1, 32));
    }

    [Theory]
    [InlineData(0UL, 0UL)]
    [InlineData(0UL, 255UL)]
    [InlineData(3UL, 5UL)]
    [InlineData(16UL, 31UL)]
    [InlineData(0UL, ulong.MaxValue)]
    [InlineData(1000UL, 70000UL)]
    public void Range_covers_its_interval_and_no_more_bits_than_needed(ulong min, ulong max)
    {
        var t = Tnum.Range(min, max);
        Assert.True(t.Contains(min));
        Assert.True(t.Contains(max));
        if (max - min < 100000)
            for (ulong x = min; x <= max; x++) Assert.True(t.Contains(x));
        if (min == max) Assert.True(t.IsConst);
        Assert.True(t.Max >= max && t.Min <= min);
    }

    [Fact]
    public void Intersect_keeps_facts_of_both_sides()
    {
        var a = new Tnum(0b0100, 0b0011); // 01xx
        var b = new Tnum(0b0001, 0b0110); // 0xx1
        var r = a.Intersect(b);
        Assert.Equal(new Tnum(0b0101, 0b0010), r);
        foreach (ulong x in new ulong[] { 0b0101, 0b0111 }) Assert.True(r.Contains(x));
    }

    [Fact]
    public void Includes_and_cast_and_subregister()
    {
        Assert.True(Tnum.Unknown.Includes(Tnum.Const(42)));
        Assert.False(Tnum.Const(42).Includes(Tnum.Unknown));
        Assert.True(new Tnum(0, 0xff).Includes(new Tnum(0x10, 0x0f)));
        Assert.Equal(new Tnum(0x34, 0x00), Tnum.Const(0x1234).Cast(1));
        Assert.Equal(Tnum.Const(0x5678), Tnum.Const(0x1234_0000_5678).Subreg);
        Assert.Equal(Tnum.Const(0x1234_0000_0000), Tnum.Const(0x1234_0000_5678).ClearSubreg);
        Assert.True(new Tnum(8, 0xf0).IsAligned(8));
        Assert.False(new Tnum(8, 0xf4).IsAligned(8));
    }
}
