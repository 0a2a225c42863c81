using Ebpf.Abi;
using Ebpf.Isa;
using Ebpf.Verification;

namespace Ebpf.Tests.Verification;

/// <summary>
/// No instruction can crash a disassembler: random 64-bit instruction words (every opcode byte, any registers,
/// offsets and immediates, lddw first slots with and without a second slot, at the end of the program) go through
/// the kernel dialect, the verifier log's, LLVM's and the conformance dialect, and through the verifier itself at
/// log levels 1 and 2 (which disassembles every instruction it reaches). Each must return text (or a typed refusal),
/// never throw.
/// </summary>
public class DisassemblerFuzzTests
{
    private static Instruction RandomInstruction(Random random)
    {
        Span<byte> raw = stackalloc byte[8];
        random.NextBytes(raw);
        // Bias towards the interesting opcodes: jumps (may_goto among them), atomics, lddw.
        switch (random.Next(6))
        {
            case 0: raw[0] = OpcodeExtras.MayGoto; break;
            case 1: raw[0] = (byte)(0x03 | 0xc0 | (random.Next(4) << 3)); raw[4] = (byte)random.Next(0x100); raw[5] = (byte)random.Next(3); raw[6] = raw[7] = 0; break;
            case 2: raw[0] = Opcodes.LoadImm64; break;
        }
        return Instruction.FromRaw(BitConverter.ToUInt64(raw));
    }

    [Fact]
    public void Random_words_format_in_every_dialect()
    {
        var random = new Random(1717);
        for (int trial = 0; trial < 200_000; trial++)
        {
            int length = 1 + random.Next(3);
            var program = new Instruction[length];
            for (int i = 0; i < length; i++) program[i] = RandomInstruction(random);
            for (int i = 0; i < length; i++)
            {
                string context = $"trial {trial}, insn {i}: {string.Join(' ', program.Select(p => p.ToString()))}";
                try
                {
                    Assert.False(string.IsNullOrEmpty(KernelDisassembler.Format(program, i)), context);
                    Assert.False(string.IsNullOrEmpty(KernelDisassembler.Format(program, i, maps: KernelDisassembler.MapLoadStyle.MapReference)), context);
                    Assert.False(string.IsNullOrEmpty(VerifierLog.Disassemble(program, i)), context);
                    Assert.False(string.IsNullOrEmpty(LlvmDisassembler.Format(program, i, out _)), context);
                    Assert.False(string.IsNullOrEmpty(ConformanceDisassembler.Format(program, i, out _)), context);
                }
                catch (Exception e) when (e is not Xunit.Sdk.XunitException)
                {
                    Assert.Fail($"{context}: {e}");
                }
            }
        }
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void The_verifier_log_never_throws_on_random_programs(int level)
    {
        var random = new Random(77 + level);
        for (int trial = 0; trial < 3_000; trial++)
        {
            int length = 2 + random.Next(10);
            var program = new Instruction[length];
            for (int i = 0; i < length - 1; i++)
                program[i] = random.Next(3) == 0 ? RandomInstruction(random) : new Instruction((byte)random.Next(256), (byte)random.Next(11), (byte)random.Next(11), (short)random.Next(-3, 4), random.Next(-2, 300));
            program[^1] = Instruction.Exit();
            try
            {
                var result = Verifier.Verify(new VerifierInput { Instructions = program, ProgramType = ProgramType.SocketFilter, LogLevel = level });
                Assert.False(string.IsNullOrEmpty(result.Log));
            }
            catch (Exception e) when (e is not Xunit.Sdk.XunitException)
            {
                Assert.Fail($"trial {trial}: {string.Join(' ', program.Select(p => p.ToString()))}: {e}");
            }
        }
    }
}
