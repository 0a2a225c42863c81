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

public class LlvmDisassemblerProbeTests
{
    /// <summary>
    /// Every opcode with varied fields (registers up to r15, offsets, immediates incl. atomic op codes and
    /// byte-swap widths), laid down with llvm-mc-14 as raw words and disassembled by llvm-objdump-14:
    /// our text must match for every slot, including what LLVM prints as &lt;unknown&gt;.
    /// </summary>
    [Fact]
    public void Matches_llvm_objdump_14_on_synthetic_encodings()
    {
        string objdump = LlvmObjdump.RequireTool();
        string mc = Path.Combine(Path.GetDirectoryName(objdump)!, "llvm-mc-14");
        if (!File.Exists(mc))
            Requirement.Missing(Requirement.Llvm, "llvm-mc-14 is not installed");

        var slots = new List<Instruction>();
        int[] immediates = [0, 1, 16, 32, 64, -5, 0x41, 0xe1, 0xf1, 0x100, 11, 12];
        short[] offsets = [0, 1, 8, -3, -32768];
        byte[] registers = [0x21, 0xc1, 0x1c, 0xaa, 0xbf];
        for (int op = 0; op < 256; op++)
        {
            if (op == Opcodes.LoadImm64)
                continue;
            foreach (byte regs in registers)
                foreach (short off in offsets)
                    foreach (int imm in immediates)
                        slots.Add(new Instruction((byte)op, (byte)(regs & 0xf), (byte)(regs >> 4), off, imm));
        }
        for (int imm = 0; imm < 0x100; imm++)
        {
            slots.Add(new Instruction(0xdb, 1, 2, -8, imm));
            slots.Add(new Instruction(0xc3, 1, 2, -8, imm));
        }
        foreach (byte src in new byte[] { 0, 1, 2, 4, 12 })
        {
            foreach (var (lo, hi) in new[] { (5, 0), (-1, -1), (0x12345678, unchecked((int)0x9abcdef0)) })
            {
                slots.Add(new Instruction(Opcodes.LoadImm64, 3, src, 0, lo));
                slots.Add(new Instruction(0, 0, 0, 0, hi));
            }
        }
        slots.Add(new Instruction(Opcodes.LoadImm64, 3, 0, 2, 1)); // off != 0: unknown, then the next slot alone
        slots.Add(new Instruction(0, 0, 0, 0, 7));
        slots.Add(new Instruction(Opcodes.LoadImm64, 12, 0, 0, 1));
        slots.Add(new Instruction(0, 0, 0, 0, 7));
        slots.Add(Instruction.Exit());

        string dir = Directory.CreateTempSubdirectory("isa-probe").FullName;
        try
        {
            string source = Path.Combine(dir, "probe.s");
            string obj = Path.Combine(dir, "probe.o");
            File.WriteAllText(source, ".text\n.globl probe\nprobe:\n" + string.Concat(slots.Select(s => $".quad 0x{s.ToRaw():x16}\n")));
            var psi = new System.Diagnostics.ProcessStartInfo(mc, ["-triple=bpfel", "-filetype=obj", source, "-o", obj]) { RedirectStandardError = true };
            using (var p = System.Diagnostics.Process.Start(psi)!)
            {
                string err = p.StandardError.ReadToEnd();
                p.WaitForExit();
                Assert.True(p.ExitCode == 0, err);
            }
            var (_, lines) = LlvmObjdump.Disassemble(objdump, obj).Single();
            var program = slots.ToArray();
            var symbols = new SectionSymbols(".text", [new SectionSymbol(0, "probe", 2)]);
            var mismatches = new List<string>();
            int compared = 0;
            for (int i = 0; i < program.Length;)
            {
                string ours = LlvmDisassembler.Format(program, i, out int count, symbols.Label);
                if (lines.TryGetValue(i, out string? theirs))
                {
                    compared++;
                    if (theirs != ours)
                        mismatches.Add($"insn {i} {program[i]}: objdump '{theirs}' ours '{ours}'");
                }
                i += count;
            }
            Assert.True(mismatches.Count == 0, $"{mismatches.Count} of {compared} differ; first:\n{string.Join("\n", mismatches.Take(25))}");
            Assert.True(compared > 70_000, $"only {compared} compared");
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
