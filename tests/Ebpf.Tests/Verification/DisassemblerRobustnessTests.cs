using Ebpf.Abi;
using Ebpf.Isa;
using Ebpf.Verification;

namespace Ebpf.Tests.Verification;

/// <summary>
/// The verifier log prints every instruction it visits, so its disassembler sees whatever a program contains: every
/// opcode byte with any register and offset must format (as the kernel's "(bad opcode)" where it has no meaning),
/// never throw. may_goto (0xe5) once threw IndexOutOfRangeException and aborted `prog verify --log-level 2`.
/// </summary>
public class DisassemblerRobustnessTests
{
    [Fact]
    public void Every_opcode_formats_in_both_kernel_dialects()
    {
        var random = new Random(11);
        for (int opcode = 0; opcode < 256; opcode++)
            for (int trial = 0; trial < 8; trial++)
            {
                var insn = new Instruction((byte)opcode, (byte)random.Next(16), (byte)random.Next(16), (short)random.Next(short.MinValue, short.MaxValue), random.Next());
                Instruction[] program = [insn, new Instruction(0, 0, 0, 0, random.Next())];
                Assert.False(string.IsNullOrEmpty(VerifierLog.Disassemble(program, 0)));
                Assert.False(string.IsNullOrEmpty(Ebpf.Isa.KernelDisassembler.Format(program, 0)));
            }
    }

    [Fact]
    public void May_goto_prints_as_the_kernel_prints_it()
    {
        Instruction[] program = [new Instruction(OpcodeExtras.MayGoto, 0, 0, 2, 0), Instruction.Mov64(0, 0), Instruction.Exit()];
        Assert.Equal("(e5) may_goto pc+2", VerifierLog.Disassemble(program, 0));
        Assert.Equal("(e5) may_goto pc+2", Ebpf.Isa.KernelDisassembler.Format(program, 0));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void Verifying_a_may_goto_program_at_any_log_level_returns_a_verdict(int level)
    {
        Instruction[] program =
        [
            Instruction.Mov64(0, 0),
            new Instruction(OpcodeExtras.MayGoto, 0, 0, 1, 0),
            Instruction.Mov64(0, 1),
            Instruction.Exit(),
        ];
        var result = Verifier.Verify(new VerifierInput { Instructions = program, ProgramType = ProgramType.SocketFilter, LogLevel = level });
        Assert.True(result.Accepted, result.Log);
        Assert.False(string.IsNullOrEmpty(result.Log));
        // Level 2 prints every instruction it visits; level 1 an accepted program's statistics only.
        if (level == 2) Assert.Contains("(e5) may_goto pc+1", result.Log);
        else Assert.Contains("processed", result.Log);
    }

    [Fact]
    public void Map_loads_print_as_references_in_the_verifier_log_and_as_immediates_by_default()
    {
        var (fd, fdHigh) = Instruction.LoadImm64(1, 3, LoadImm64Source.MapFd);
        var (value, _) = Instruction.LoadImm64(2, 3, LoadImm64Source.MapValue); // offset 16 in the second slot
        Instruction[] program = [fd, fdHigh, value, new Instruction(0, 0, 0, 0, 16)];
        Assert.Equal("(18) r1 = map[id:3]", VerifierLog.Disassemble(program, 0));
        Assert.Equal("(18) r2 = map[id:3][0]+16", VerifierLog.Disassemble(program, 2));
        Assert.Equal("(18) r1 = 0x3", Ebpf.Isa.KernelDisassembler.Format(program, 0));
        Assert.Equal("(18) r2 = 0x1000000003", Ebpf.Isa.KernelDisassembler.Format(program, 2));
    }
}
