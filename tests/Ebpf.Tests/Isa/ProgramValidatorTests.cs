using Ebpf.Isa;

namespace Ebpf.Tests.Isa;

public class ProgramValidatorTests
{
    private static BpfException Reject(string asm, ValidatorOptions? options = null) =>
        Assert.Throws<BpfException>(() => ProgramValidator.Validate(Assembler.Assemble(asm), options));

    [Fact]
    public void Every_conformance_program_is_structurally_valid()
    {
        foreach (string path in Directory.EnumerateFiles(SharedData.Require("conformance/tests"), "*.data"))
        {
            var test = ConformanceDataFile.Load(path);
            var validated = ProgramValidator.Validate(test.Instructions, ValidatorOptions.Conformance);
            Assert.Equal(test.Instructions.Length, validated.SlotCount);
        }
    }

    [Fact]
    public void Callx_is_rejected_under_kernel_rules()
    {
        var e = Reject("mov %r2, 5\ncallx %r2\nexit");
        Assert.Equal("insn 1: unknown opcode 8d", e.Message);
    }

    [Fact]
    public void Functions_are_split_at_local_call_targets()
    {
        var program = ProgramValidator.Validate(Assembler.Assemble("""
            call local f
            lddw %r1, func g
            exit
            f: mov %r0, 1
            exit
            g: exit
            """));
        Assert.Equal([0, 4, 6], program.FunctionStarts);
        Assert.Null(program.AtSlot(2));
        Assert.Equal(InstructionKind.LoadImm64, program.AtSlot(1)!.Value.Kind);
        Assert.Equal(6, program.Instructions.Count);
    }

    [Theory]
    [InlineData("ja +5\nexit", "insn 0: jump out of range from insn 0 to 6")]
    [InlineData("ja -2\nexit", "insn 0: jump out of range from insn 0 to -1")]
    [InlineData("jeq %r1, 0, +1\nlddw %r0, 1\nexit", "insn 0: jump into the middle of ldimm64 insn 1 from insn 0")]
    [InlineData("call local +5\nexit", "insn 0: call to invalid destination")]
    [InlineData("call local -2\nexit", "insn 0: call to invalid destination")]
    // The call makes slot 3 a function start, so the one before it ends in half an lddw (the live kernel says so too).
    [InlineData("call local +2\nexit\nlddw %r0, 1\nexit", "insn 2: last insn is not an exit or jmp")]
    [InlineData("mov %r0, 0", "insn 0: last insn is not an exit or jmp")]
    [InlineData("call local f\nmov %r0, 1\nf: exit", "insn 1: last insn is not an exit or jmp")]
    [InlineData("call local f\nja f\nexit\nf: exit", "insn 1: jump out of range from insn 1 to 3")]
    // check_subprogs runs before resolve_pseudo_ldimm64: the half lddw is first a bad last instruction (as the live kernel says).
    [InlineData("mov %r0, 0\n.insn 0x0000000500000018", "insn 1: last insn is not an exit or jmp")]
    [InlineData("mov %r0, 0\n.insn 0x0000000500000018\nexit", "insn 1: invalid bpf_ld_imm64 insn")]
    [InlineData("mov %r0, 0\n.insn 0x00000000000000e4\nja +5\nexit", "insn 2: jump out of range from insn 2 to 8")]
    public void Structural_errors(string asm, string message)
    {
        var e = Reject(asm);
        Assert.Equal(Errno.EINVAL, e.Errno);
        Assert.Equal(message, e.Message);
        Assert.NotNull(e.Log);
    }

    [Fact]
    public void Empty_and_oversized_programs_are_E2BIG()
    {
        Assert.Equal(Errno.E2BIG, Assert.Throws<BpfException>(() => ProgramValidator.Validate([])).Errno);
        var big = Enumerable.Repeat(Instruction.Exit(), 11).ToArray();
        Assert.Equal(Errno.E2BIG, Assert.Throws<BpfException>(
            () => ProgramValidator.Validate(big, new ValidatorOptions { MaxInstructions = 10 })).Errno);
    }

    [Fact]
    public void Corpus_programs_with_relocated_calls_validate()
    {
        // Executable sections of clang objects are whole functions; unrelocated local calls (imm -1) point at
        // themselves, so only sections without local calls are checked here.
        int validated = 0;
        foreach (var section in IsaCorpus.Sections())
        {
            var decoded = InstructionDecoder.DecodeProgram(section.Instructions);
            if (decoded.Any(d => d.IsLocalCall || d.IsFunctionReference))
                continue;
            ProgramValidator.Validate(section.Instructions);
            validated++;
        }
        Assert.True(validated > 100, $"only {validated} sections validated");
    }
}
