using static Ebpf.Tests.Execution.InterpreterTestKit;

namespace Ebpf.Tests.Execution;

/// <summary>Corner cases of RFC 9669 arithmetic, each checked against an independently computed value.</summary>
public class AluSemanticsTests
{
    [Theory]
    [InlineData("lddw %r0, 0x8000000000000000\nmov %r1, -1\nsdiv %r0, %r1\nexit", 0x8000000000000000UL)] // INT64_MIN / -1 wraps
    [InlineData("lddw %r0, 0x8000000000000000\nmov %r1, -1\nsmod %r0, %r1\nexit", 0UL)]
    [InlineData("mov32 %r0, 0x80000000\nmov32 %r1, -1\nsdiv32 %r0, %r1\nexit", 0x80000000UL)] // INT32_MIN / -1, zero-extended
    [InlineData("mov %r0, -7\nmov %r1, 2\nsdiv %r0, %r1\nexit", unchecked((ulong)-3L))] // truncates toward zero
    [InlineData("mov %r0, -7\nmov %r1, 2\nsmod %r0, %r1\nexit", unchecked((ulong)-1L))] // sign of the dividend
    [InlineData("mov %r0, 7\nmov %r1, 0\ndiv %r0, %r1\nexit", 0UL)] // x / 0 = 0
    [InlineData("mov %r0, 7\nmov %r1, 0\nmod %r0, %r1\nexit", 7UL)] // x % 0 = x
    [InlineData("mov %r0, -1\nmov %r1, 0\nmod32 %r0, %r1\nexit", 0xffffffffUL)] // 32-bit: x % 0 = x, zero-extended
    [InlineData("mov %r0, -1\nmov %r1, 0\nsmod %r0, %r1\nexit", ulong.MaxValue)]
    [InlineData("mov %r0, -1\nmov %r1, 0\nsdiv %r0, %r1\nexit", 0UL)]
    [InlineData("mov %r0, 1\nmov %r1, 65\nlsh %r0, %r1\nexit", 2UL)] // shift amount masked to 63
    [InlineData("mov %r0, 1\nmov %r1, 33\nlsh32 %r0, %r1\nexit", 2UL)] // and to 31
    [InlineData("mov %r0, -8\narsh32 %r0, 1\nexit", 0xfffffffcUL)] // 32-bit arsh, zero-extended
    [InlineData("mov %r0, 5\nneg32 %r0\nexit", 0xfffffffbUL)]
    [InlineData("mov %r0, 5\nneg %r0\nexit", unchecked((ulong)-5L))]
    [InlineData("mov %r0, -1\nadd32 %r0, 1\nexit", 0UL)] // upper half cleared
    [InlineData("mov %r0, 0x80\nmovsx832 %r0, %r0\nexit", 0xffffff80UL)]
    [InlineData("mov %r0, 0x80\nmovsx864 %r0, %r0\nexit", 0xffffffffffffff80UL)]
    [InlineData("mov32 %r0, 0x80000000\nmovsx3264 %r0, %r0\nexit", 0xffffffff80000000UL)]
    [InlineData("lddw %r0, 0x1122334455667788\nbe16 %r0\nexit", 0x8877UL)]
    [InlineData("lddw %r0, 0x1122334455667788\nle32 %r0\nexit", 0x55667788UL)]
    [InlineData("lddw %r0, 0x1122334455667788\nbswap64 %r0\nexit", 0x8877665544332211UL)]
    [InlineData("mov %r0, -1\nmov32 %r1, -1\njeq %r0, %r1, +1\nexit\nmov %r0, 3\nexit", ulong.MaxValue)] // mov32 zero-extends: not equal
    [InlineData("mov %r0, 0\nmov %r1, -1\njeq %r1, -1, +1\nexit\nmov %r0, 1\nexit", 1UL)] // imm sign-extended for 64-bit compare
    [InlineData("mov %r0, 0\nlddw %r1, 0x1ffffffff\njeq32 %r1, -1, +1\nexit\nmov %r0, 1\nexit", 1UL)] // jmp32 compares low halves
    public void Computes(string asm, ulong expected) => Assert.Equal(expected, RunBoth(asm));

    [Fact]
    public void Gotol_uses_the_32_bit_immediate()
    {
        var program = new[]
        {
            Ebpf.Isa.Instruction.Mov64(0, 1),
            new Ebpf.Isa.Instruction(Ebpf.Isa.Opcodes.Ja32, 0, 0, 0, 1), // gotol +1 (off ignored)
            Ebpf.Isa.Instruction.Mov64(0, 2),
            Ebpf.Isa.Instruction.Exit(),
        };
        Assert.Equal(1UL, RunBoth(program));
    }

    [Fact]
    public void Sign_extending_loads()
    {
        byte[] mem = [0x80, 0x80, 0xff, 0x80];
        Assert.Equal(0xffffffffffffff80UL, RunBoth("ldxsb %r0, [%r1]\nexit", mem));
        Assert.Equal(0xffffffffffff8080UL, RunBoth("ldxsh %r0, [%r1]\nexit", mem));
        Assert.Equal(0xffffffff80ff8080UL, RunBoth("ldxsw %r0, [%r1]\nexit", mem));
        Assert.Equal(0x80ff8080UL, RunBoth("ldxw %r0, [%r1]\nexit", mem));
    }
}
