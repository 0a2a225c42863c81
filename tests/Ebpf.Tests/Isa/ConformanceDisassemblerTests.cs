using Ebpf.Isa;

namespace Ebpf.Tests.Isa;

public class ConformanceDisassemblerTests
{
    [Fact]
    public void Round_trips_every_conformance_program()
    {
        int programs = 0;
        foreach (string path in Directory.EnumerateFiles(SharedData.Require("conformance/tests"), "*.data"))
        {
            var program = ConformanceDataFile.Load(path).Instructions;
            string text = ConformanceDisassembler.Disassemble(program);
            Assert.DoesNotContain(".insn", text);
            Assert.Equal(program, Assembler.Assemble(text, path));
            programs++;
        }
        Assert.True(programs > 300);
    }

    [Fact]
    public void Round_trips_every_corpus_and_fixture_section()
    {
        int sections = 0, raw = 0;
        foreach (var section in IsaCorpus.Sections())
        {
            string text = ConformanceDisassembler.Disassemble(section.Instructions);
            raw += text.Split('\n').Count(l => l.StartsWith(".insn", StringComparison.Ordinal));
            Assert.Equal(section.Instructions, Assembler.Assemble(text, section.ToString()));
            sections++;
        }
        Assert.True(sections > 100);
        Assert.Equal(0, raw); // clang output is all expressible in the dialect
    }

    [Theory]
    [InlineData("sdiv32 %r1, -3")]
    [InlineData("smod %r1, %r2")]
    [InlineData("movsx832 %r1, %r2")]
    [InlineData("movsx3264 %r1, %r2")]
    [InlineData("neg32 %r4")]
    [InlineData("bswap64 %r0")]
    [InlineData("be16 %r0")]
    [InlineData("le32 %r0")]
    [InlineData("ja32 -70000")]
    [InlineData("may_goto +3")]
    [InlineData("ldacqb %r0, [%r10-1]")]
    [InlineData("ldacqdw %r3, [%r1+8]")]
    [InlineData("strelh [%r0+2], %r1")]
    [InlineData("strelw [%r1-4], %r2")]
    [InlineData("jset32 %r1, 255, -1")]
    [InlineData("call local -1")]
    [InlineData("call runtime 77")]
    [InlineData("callx %r5")]
    [InlineData("lddw %r1, func 0x3")]
    [InlineData("lddw %r0, 0xffffffffffffffff")]
    [InlineData("ldxsw %r1, [%r2-4]")]
    [InlineData("ldxdw %r1, [%r2+0]")]
    [InlineData("stw [%r10-4], -1")]
    [InlineData("stxh [%r1+2], %r3")]
    [InlineData("lock fetch or32 [%r1+0], %r2")]
    [InlineData("lock cmpxchg [%r1-8], %r2")]
    [InlineData("lock xchg32 [%r1+0], %r2")]
    [InlineData("ldabsw 4")]
    [InlineData("ldindb %r2, -1")]
    public void Canonical_text_reassembles_to_itself(string asm)
    {
        var program = Assembler.Assemble(asm);
        string text = ConformanceDisassembler.Disassemble(program).TrimEnd('\n');
        Assert.Equal(asm, text);
    }

    [Fact]
    public void Inexpressible_and_invalid_slots_use_insn()
    {
        Instruction[] program =
        [
            new Instruction(0xbf, 1, 2, 1, 1),                       // addr_space_cast
            new Instruction(0xdb, 1, 2, 0, 0x120),                    // an atomic imm nobody defines
            new Instruction(0xff, 0, 0, 0, 0),                       // invalid
            new Instruction(Opcodes.LoadImm64, 1, 0, 0, 1),           // lddw without its second half
        ];
        string text = ConformanceDisassembler.Disassemble(program);
        Assert.Equal(4, text.Split('\n', StringSplitOptions.RemoveEmptyEntries).Count(l => l.StartsWith(".insn 0x", StringComparison.Ordinal)));
        Assert.Equal(program, Assembler.Assemble(text));
    }
}

public class DecodedInstructionTextTests
{
    [Fact]
    public void ToString_is_conformance_text()
    {
        var d = InstructionDecoder.Decode(Assembler.Assemble("lock fetch add32 [%r1+4], %r2"), 0);
        Assert.Equal("lock fetch add32 [%r1+4], %r2", d.ToString());
        var cast = InstructionDecoder.Decode([new Instruction(0xbf, 1, 2, 1, 1)], 0);
        Assert.Equal(".insn 0x00000001000121bf", cast.ToString());
    }
}
