using Ebpf.Isa;

namespace Ebpf.Tests.Isa;

public class AssemblerTests
{
    private static Instruction One(string line)
    {
        var insns = Assembler.Assemble(line);
        Assert.Single(insns);
        return insns[0];
    }

    [Fact]
    public void Lock_cmpxchg_encodes_atomic_dw_with_imm_f1()
    {
        var insn = One("lock cmpxchg [%r10-8], %r1");
        Assert.Equal(0xdb, insn.Opcode);
        Assert.Equal(10, insn.Dst);
        Assert.Equal(1, insn.Src);
        Assert.Equal(-8, insn.Offset);
        Assert.Equal(0xf1, insn.Imm);
    }

    [Theory]
    [InlineData("lock add [%r1+4], %r2", 0xdb, 0x00)]
    [InlineData("lock add32 [%r1+4], %r2", 0xc3, 0x00)]
    [InlineData("lock fetch add [%r1+4], %r2", 0xdb, 0x01)]
    [InlineData("lock fetch or32 [%r1+4], %r2", 0xc3, 0x41)]
    [InlineData("lock and [%r1+4], %r2", 0xdb, 0x50)]
    [InlineData("lock fetch xor [%r1+4], %r2", 0xdb, 0xa1)]
    [InlineData("lock xchg32 [%r1+4], %r2", 0xc3, 0xe1)]
    [InlineData("lock cmpxchg32 [%r1+4], %r2", 0xc3, 0xf1)]
    public void Atomics(string text, int opcode, int imm)
    {
        var insn = One(text);
        Assert.Equal(opcode, insn.Opcode);
        Assert.Equal(imm, insn.Imm);
        Assert.Equal(4, insn.Offset);
        Assert.Equal(1, insn.Dst);
        Assert.Equal(2, insn.Src);
    }

    [Fact]
    public void Lddw_takes_two_slots()
    {
        var insns = Assembler.Assemble("lddw %r0, 0x123456789");
        Assert.Equal(2, insns.Length);
        Assert.Equal(0x18, insns[0].Opcode);
        Assert.Equal(0x23456789, insns[0].Imm);
        Assert.Equal(0, insns[1].Opcode);
        Assert.Equal(1, insns[1].Imm);
        Assert.Equal(0x123456789L, Instruction.Imm64(insns[0], insns[1]));
    }

    [Fact]
    public void Lddw_negative_and_full_width_values()
    {
        var neg = Assembler.Assemble("lddw %r3, -2");
        Assert.Equal(-2L, Instruction.Imm64(neg[0], neg[1]));
        Assert.Equal(3, neg[0].Dst);
        var max = Assembler.Assemble("lddw %r1, 0xffffffffffffffff");
        Assert.Equal(-1L, Instruction.Imm64(max[0], max[1]));
    }

    [Theory]
    [InlineData("add32 %r0, 1", 0x04, 0, 0, 0, 1)]
    [InlineData("add32 %r0, %r1", 0x0c, 0, 1, 0, 0)]
    [InlineData("add %r0, -3", 0x07, 0, 0, 0, -3)]
    [InlineData("mov %r1, 0xffffffff", 0xb7, 1, 0, 0, -1)]
    [InlineData("neg %r2", 0x87, 2, 0, 0, 0)]
    [InlineData("neg32 %r2", 0x84, 2, 0, 0, 0)]
    [InlineData("sdiv32 %r0, 3", 0x34, 0, 0, 1, 3)]
    [InlineData("sdiv %r0, %r1", 0x3f, 0, 1, 1, 0)]
    [InlineData("smod32 %r0, %r1", 0x9c, 0, 1, 1, 0)]
    [InlineData("smod %r0, -7", 0x97, 0, 0, 1, -7)]
    [InlineData("movsx832 %r0, %r1", 0xbc, 0, 1, 8, 0)]
    [InlineData("movsx1632 %r4, %r3", 0xbc, 4, 3, 16, 0)]
    [InlineData("movsx864 %r6, %r5", 0xbf, 6, 5, 8, 0)]
    [InlineData("movsx1664 %r8, %r7", 0xbf, 8, 7, 16, 0)]
    [InlineData("movsx3264 %r0, %r9", 0xbf, 0, 9, 32, 0)]
    [InlineData("le16 %r0", 0xd4, 0, 0, 0, 16)]
    [InlineData("be32 %r3", 0xdc, 3, 0, 0, 32)]
    [InlineData("be64 %r3", 0xdc, 3, 0, 0, 64)]
    [InlineData("bswap16 %r0", 0xd7, 0, 0, 0, 16)]
    [InlineData("swap64 %r0", 0xd7, 0, 0, 0, 64)]
    [InlineData("ldxb %r0, [%r1+2]", 0x71, 0, 1, 2, 0)]
    [InlineData("ldxdw %r0, [%r10-8]", 0x79, 0, 10, -8, 0)]
    [InlineData("ldxh %r0, [%r1]", 0x69, 0, 1, 0, 0)]
    [InlineData("ldxw %r0, [%r1+0x10]", 0x61, 0, 1, 16, 0)]
    [InlineData("ldxsb %r0, [%r10-1]", 0x91, 0, 10, -1, 0)]
    [InlineData("ldxsh %r0, [%r10-2]", 0x89, 0, 10, -2, 0)]
    [InlineData("ldxsw %r0, [%r10-4]", 0x81, 0, 10, -4, 0)]
    [InlineData("stb [%r10-1], 0x80", 0x72, 10, 0, -1, 0x80)]
    [InlineData("sth [%r1+2], 5", 0x6a, 1, 0, 2, 5)]
    [InlineData("stw [%r1+2], -1", 0x62, 1, 0, 2, -1)]
    [InlineData("stdw [%r1+2], 7", 0x7a, 1, 0, 2, 7)]
    [InlineData("stxb [%r1+2], %r3", 0x73, 1, 3, 2, 0)]
    [InlineData("stxdw [%r10-8], %r0", 0x7b, 10, 0, -8, 0)]
    [InlineData("jeq %r1, 0xb, +2", 0x15, 1, 0, 2, 11)]
    [InlineData("jne32 %r2, 0xffffff80, -3", 0x56, 2, 0, -3, -128)]
    [InlineData("jsle32 %r1, %r2, +1", 0xde, 1, 2, 1, 0)]
    [InlineData("jset %r1, %r2, +1", 0x4d, 1, 2, 1, 0)]
    [InlineData("ja +5", 0x05, 0, 0, 5, 0)]
    [InlineData("ja32 -1", 0x06, 0, 0, 0, -1)]
    [InlineData("gotol +70000", 0x06, 0, 0, 0, 70000)]
    [InlineData("call 5", 0x85, 0, 0, 0, 5)]
    [InlineData("call %r2", 0x8d, 2, 0, 0, 0)]
    [InlineData("callx %r3", 0x8d, 3, 0, 0, 0)]
    [InlineData("call runtime 1234", 0x85, 0, 2, 0, 1234)]
    [InlineData("call local -3", 0x85, 0, 1, 0, -3)]
    [InlineData("exit", 0x95, 0, 0, 0, 0)]
    [InlineData("ldabsw 0x10", 0x20, 0, 0, 0, 16)]
    [InlineData("ldindh %r3, 4", 0x48, 0, 3, 0, 4)]
    [InlineData(".insn 0x0000000100000095", 0x95, 0, 0, 0, 1)]
    public void Encodings(string text, int opcode, int dst, int src, int offset, int imm)
    {
        var insn = One(text);
        Assert.Equal(new Instruction((byte)opcode, (byte)dst, (byte)src, (short)offset, imm), insn);
    }

    [Fact]
    public void Lddw_pseudo_sources()
    {
        var insns = Assembler.Assemble("lddw %r1, map_value 0x0000001000000003");
        Assert.Equal((byte)LoadImm64Source.MapValue, insns[0].Src);
        Assert.Equal(3, insns[0].Imm);
        Assert.Equal(16, insns[1].Imm);
    }

    [Fact]
    public void Labels_resolve_to_pc_relative_offsets()
    {
        var insns = Assembler.Assemble("""
            mov %r0, 0       # 0
            top:
            jeq %r0, 1, done # 1 -> 4: off 2
            call local fn    # 2 -> 6: imm 3
            ja top           # 3 -> 1: off -3
            done: exit       # 4
            ja32 top         # 5 -> 1: imm -5
            fn:
            exit             # 6
            """);
        Assert.Equal(2, insns[1].Offset);
        Assert.Equal(3, insns[2].Imm);
        Assert.Equal(1, insns[2].Src);
        Assert.Equal(-3, insns[3].Offset);
        Assert.Equal(-5, insns[5].Imm);
    }

    [Fact]
    public void Undeclared_exit_label_means_the_first_exit_instruction()
    {
        var insns = Assembler.Assemble("jeq %r1, 0, exit\nmov %r0, 1\nexit\nmov %r0, 2\nexit");
        Assert.Equal(1, insns[0].Offset);
    }

    [Fact]
    public void Lddw_counts_two_slots_for_labels()
    {
        var insns = Assembler.Assemble("ja end\nlddw %r0, 1\nend: exit");
        Assert.Equal(2, insns[0].Offset);
    }

    [Theory]
    [InlineData("mov %r0, 0\nfoo %r1, 2", "t.s:2: unknown mnemonic 'foo'")]
    [InlineData("mov %r16, 1", "t.s:1: invalid register '%r16'")]
    [InlineData("mov %r1", "t.s:1: 'mov' takes 2 operands, got 1")]
    [InlineData("ldxw %r1, %r2", "t.s:1: invalid memory operand '%r2'")]
    [InlineData("mov %r1, 0x1ffffffff", "t.s:1: immediate '0x1ffffffff' does not fit in 32 bits")]
    [InlineData("mov %r1, 12abc", "t.s:1: invalid immediate '12abc'")]
    [InlineData("\n\nja nowhere", "t.s:3: unknown label 'nowhere'")]
    [InlineData("a:\nexit\na:\nexit", "t.s:3: duplicate label 'a' (first declared on line 1)")]
    [InlineData("lock nand [%r1], %r2", "t.s:1: unknown atomic operation 'nand'")]
    [InlineData("ja +40000", "t.s:1: jump offset '+40000' out of range")]
    [InlineData("lddw %r1, map 3", "t.s:1: unknown lddw source 'map'")]
    public void Errors_name_the_line(string source, string expected)
    {
        var e = Assert.Throws<BpfException>(() => Assembler.Assemble(source, "t.s"));
        Assert.Equal(Errno.EINVAL, e.Errno);
        Assert.StartsWith(expected, e.Message);
    }
}
