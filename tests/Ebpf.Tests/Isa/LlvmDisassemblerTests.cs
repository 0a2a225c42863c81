using Ebpf.Isa;

namespace Ebpf.Tests.Isa;

public class LlvmDisassemblerTests
{
    private static string Text(string asm)
    {
        var program = Assembler.Assemble(asm);
        return LlvmDisassembler.Format(program, 0, out _);
    }

    [Theory]
    [InlineData("ldxw %r2, [%r1+4]", "r2 = *(u32 *)(r1 + 4)")]
    [InlineData("stxdw [%r10-8], %r1", "*(u64 *)(r10 - 8) = r1")]
    [InlineData("lddw %r2, -3750763034362895579", "r2 = -3750763034362895579 ll")]
    [InlineData("lock add [%r10-8], %r1", "lock *(u64 *)(r10 - 8) += r1")]
    [InlineData("lock fetch xor [%r1+0], %r2", "r2 = atomic_fetch_xor((u64 *)(r1 + 0), r2)")]
    [InlineData("lock cmpxchg [%r1+0], %r2", "r0 = cmpxchg_64(r1 + 0, r0, r2)")]
    [InlineData("lock xchg [%r1+0], %r2", "r2 = xchg_64(r1 + 0, r2)")]
    [InlineData("lock add32 [%r1+0], %r2", "lock *(u32 *)(r1 + 0) += r2")]
    [InlineData("lock fetch add32 [%r1+0], %r2", "lock *(u32 *)(r1 + 0) += r2")] // LLVM 14 ignores the fetch bit here
    [InlineData("lock xchg32 [%r1+0], %r2", "<unknown>")]
    [InlineData("call 5", "call 5")]
    [InlineData("mov32 %r0, %r1", "w0 = w1")]
    [InlineData("be16 %r0", "r0 = be16 r0")]
    [InlineData("le64 %r0", "r0 = le64 r0")]
    [InlineData("bswap16 %r0", "<unknown>")]
    [InlineData("neg32 %r3", "w3 = -w3")]
    [InlineData("mod %r3, 2", "<unknown>")]
    [InlineData("stw [%r1+0], 2", "<unknown>")]
    [InlineData("jset %r1, 2, +1", "<unknown>")]
    [InlineData("jsle32 %r1, -7, -3", "if w1 s<= -7 goto -3")]
    [InlineData("ja +0", "goto +0")]
    [InlineData("ja32 +3", "<unknown>")]
    [InlineData("callx %r2", "callx r0")] // LLVM reads the register from imm
    [InlineData("ldabsh 12", "r0 = *(u16 *)skb[12]")]
    [InlineData("ldindb %r3, 4", "r0 = *(u8 *)skb[r3]")]
    [InlineData("lddw %r1, map_fd 7", "ld_pseudo\tr1, 1, 7")]
    [InlineData("movsx832 %r1, %r2", "w1 = w2")]
    [InlineData("sdiv %r1, 3", "r1 /= 3")]
    [InlineData("ldxsw %r1, [%r2+0]", "<unknown>")]
    [InlineData("mov %r12, 1", "<unknown>")]
    [InlineData("mov %r11, 1", "r11 = 1")]
    [InlineData("exit", "exit")]
    public void Forms(string asm, string expected) => Assert.Equal(expected, Text(asm));

    [Fact]
    public void Lddw_in_the_last_slot_is_unknown()
    {
        var (first, _) = Instruction.LoadImm64(1, 5);
        Assert.Equal("<unknown>", LlvmDisassembler.Format([first], 0, out int slots));
        Assert.Equal(1, slots);
    }

    [Fact]
    public void Branch_labels_use_the_last_symbol_at_or_before_the_target()
    {
        var symbols = new SectionSymbols("tc", [new SectionSymbol(16, "LBB0_2", 0), new SectionSymbol(0, "prog", 2), new SectionSymbol(16, "A", 0)]);
        var program = Assembler.Assemble("ja +1\nexit\nexit\nexit");
        Assert.Equal("goto +1 <LBB0_2>", LlvmDisassembler.Format(program, 0, out _, symbols.Label));
        Assert.Equal(" <LBB0_2+0x8>", symbols.Label(24));
        Assert.Equal(" <prog>", symbols.Label(0));
        var noStart = new SectionSymbols("xdp", [new SectionSymbol(8, "f", 2)]);
        Assert.Equal(" <xdp+0x4>", noStart.Label(4));
    }

    [Fact]
    public void Matches_llvm_objdump_14_on_every_corpus_and_fixture_instruction()
    {
        string tool = LlvmObjdump.RequireTool();
        int compared = 0;
        var mismatches = new List<string>();
        foreach (string path in IsaCorpus.Objects())
        {
            var expected = LlvmObjdump.Disassemble(tool, path);
            var sections = IsaCorpus.Sections([path]).ToList();
            Assert.True(expected.Count == sections.Count, $"{path}: objdump shows {expected.Count} code sections, we found {sections.Count}");
            for (int s = 0; s < sections.Count; s++)
            {
                var section = sections[s];
                var (name, lines) = expected[s];
                Assert.Equal(name, section.Name);
                var symbols = SectionSymbols.FromElf(section.Elf, section.ElfSection);
                var program = section.Instructions;
                for (int i = 0; i < program.Length;)
                {
                    string text = LlvmDisassembler.Format(program, i, out int count, symbols.Label);
                    if (lines.TryGetValue(i, out string? theirs))
                    {
                        compared++;
                        if (theirs != text)
                            mismatches.Add($"{section} insn {i} {program[i]}: objdump '{theirs}' ours '{text}'");
                    }
                    else if (!program.AsSpan(i, count).ToArray().All(insn => insn.ToRaw() == 0))
                    {
                        mismatches.Add($"{section} insn {i}: objdump printed nothing, ours '{text}'");
                    }
                    i += count;
                }
            }
        }
        Assert.True(mismatches.Count == 0, $"{mismatches.Count} of {compared} differ; first:\n{string.Join("\n", mismatches.Take(25))}");
        Assert.True(compared > 100_000, $"only {compared} instructions compared");
    }
}
