using Ebpf.Isa;

namespace Ebpf.Tests.Isa;

public class KernelDisassemblerTests
{
    private static string Text(string asm, KernelDisassembler.CallNamer? names = null) =>
        KernelDisassembler.Format(Assembler.Assemble(asm), 0, names);

    [Theory]
    // The verifier log lines quoted in the design notes (program-types.md §5.2).
    [InlineData("mov %r6, %r1", "(bf) r6 = r1")]
    [InlineData("stw [%r10-4], 0", "(62) *(u32 *)(r10 -4) = 0")]
    [InlineData("mov %r2, %r10", "(bf) r2 = r10")]
    [InlineData("add %r2, -4", "(07) r2 += -4")]
    [InlineData("jeq %r0, 0, +2", "(15) if r0 == 0x0 goto pc+2")]
    [InlineData("ldxdw %r0, [%r0+8]", "(79) r0 = *(u64 *)(r0 +8)")]
    [InlineData("exit", "(95) exit")]
    [InlineData("mov32 %r0, -1", "(b4) w0 = -1")]
    [InlineData("lddw %r1, 0xffff88814b173000", "(18) r1 = 0xffff88814b173000")]
    // Other forms of disasm.c.
    [InlineData("jne32 %r1, -1, -3", "(56) if w1 != 0xffffffff goto pc-3")]
    [InlineData("jset %r1, %r2, +0", "(4d) if r1 & r2 goto pc+0")]
    [InlineData("ja -1", "(05) goto pc-1")]
    [InlineData("ja32 +70000", "(06) gotol pc+70000")]
    [InlineData("may_goto +4", "(e5) may_goto pc+4")]
    [InlineData("call local +5", "(85) call pc+5")]
    [InlineData("call 999", "(85) call unknown#999")]
    [InlineData("call runtime 1234", "(85) call kernel-function#1234")]
    [InlineData("sdiv32 %r1, 3", "(34) w1 s/= 3")]
    [InlineData("smod %r1, %r2", "(9f) r1 s%= r2")]
    [InlineData("movsx832 %r1, %r2", "(bc) w1 = (s8)w2")]
    [InlineData("movsx3264 %r1, %r2", "(bf) r1 = (s32)r2")]
    [InlineData("neg %r3", "(87) r3 = -r3")]
    [InlineData("be16 %r3", "(dc) r3 = be16 r3")]
    [InlineData("le32 %r3", "(d4) r3 = le32 r3")]
    [InlineData("bswap64 %r3", "(d7) r3 = bswap64 r3")]
    [InlineData("ldxsh %r1, [%r2-2]", "(89) r1 = *(s16 *)(r2 -2)")]
    [InlineData("stxb [%r1+0], %r2", "(73) *(u8 *)(r1 +0) = r2")]
    [InlineData("lock add [%r1+8], %r2", "(db) lock *(u64 *)(r1 +8) += r2")]
    [InlineData("lock xor32 [%r1+8], %r2", "(c3) lock *(u32 *)(r1 +8) ^= r2")]
    [InlineData("lock fetch and [%r1+8], %r2", "(db) r2 = atomic64_fetch_and((u64 *)(r1 +8), r2)")]
    [InlineData("lock fetch or32 [%r1+8], %r2", "(c3) r2 = atomic_fetch_or((u32 *)(r1 +8), r2)")]
    [InlineData("lock xchg [%r1-8], %r2", "(db) r2 = atomic64_xchg((u64 *)(r1 -8), r2)")]
    [InlineData("lock cmpxchg32 [%r1-8], %r2", "(c3) r0 = atomic_cmpxchg((u32 *)(r1 -8), r0, r2)")]
    [InlineData("ldabsh 12", "(28) r0 = *(u16 *)skb[12]")]
    [InlineData("ldindb %r3, 4", "(50) r0 = *(u8 *)skb[r3 + 4]")]
    public void Forms(string asm, string expected) => Assert.Equal(expected, Text(asm));

    [Fact]
    public void Helper_names_come_from_the_caller()
    {
        Assert.Equal("(85) call bpf_map_lookup_elem#1",
            Text("call 1", call => call.Src == 0 && call.Imm == 1 ? "bpf_map_lookup_elem" : null));
    }

    [Fact]
    public void Acquire_release_and_arena_casts()
    {
        Assert.Equal("(db) r1 = load_acquire((u64 *)(r2 +0))",
            KernelDisassembler.Format([new Instruction(0xdb, 1, 2, 0, OpcodeExtras.LoadAcquire)], 0));
        Assert.Equal("(cb) store_release((u16 *)(r1 -2), r2)",
            KernelDisassembler.Format([new Instruction(0xcb, 1, 2, -2, OpcodeExtras.StoreRelease)], 0));
        Assert.Equal("(bf) r1 = addr_space_cast(r2, 0, 1)",
            KernelDisassembler.Format([new Instruction(0xbf, 1, 2, 1, 1)], 0));
    }
}
