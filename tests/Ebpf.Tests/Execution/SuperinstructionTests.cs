using Ebpf.Execution;
using Ebpf.Isa;
using static Ebpf.Tests.Execution.InterpreterTestKit;

namespace Ebpf.Tests.Execution;

/// <summary>
/// Unchecked mode fuses instruction patterns (ProgramFuser); checked mode does not. Every test runs both
/// and requires the same r0, including jumps into the middle of a fused pattern.
/// </summary>
public class SuperinstructionTests
{
    [Fact]
    public void Indexed_load_and_three_operand_add()
    {
        byte[] mem = [10, 20, 30, 40, 50, 60, 70, 80];
        Assert.Equal(30UL + 40, RunBoth("""
            mov %r2, 2
            mov %r3, %r1
            add %r3, %r2
            ldxb %r3, [%r3+0]
            mov %r4, %r1
            add %r4, %r2
            ldxb %r5, [%r4+1]
            mov %r0, %r3
            add %r0, %r5
            exit
            """, mem));
    }

    [Fact]
    public void Jump_into_the_middle_of_a_fused_pattern()
    {
        byte[] mem = [1, 2, 3, 4, 5, 6, 7, 8];
        // First pass runs mov+add+ldx fused; second pass enters at the add (r3 already = r1 + 4).
        Assert.Equal(3UL + 8, RunBoth("""
            mov %r0, 0
            mov %r2, 2
            mov %r6, 0
            again:
            mov %r3, %r1
            middle:
            add %r3, %r2
            ldxb %r3, [%r3+0]
            add %r0, %r3
            jne %r6, 0, done
            mov %r6, 1
            mov %r3, %r1
            add %r3, 5
            ja middle
            done:
            exit
            """, mem));
    }

    [Fact]
    public void Two_immediate_adds_and_entering_at_the_second()
    {
        Assert.Equal(5UL * 200 + 2 * 7 + 100, RunBoth("""
            mov %r1, 0
            mov %r2, 0
            mov %r6, 0
            top:
            add %r1, 5
            second:
            add %r2, 7
            jne %r6, 0, out
            mov %r6, 1
            ja second
            out:
            mov %r0, %r1
            mul %r0, 200
            add %r0, %r2
            add %r0, 100
            add %r0, 0
            exit
            """));
    }

    [Fact]
    public void Conditional_jump_over_ja_chains_and_move_then_jump()
    {
        // A clang-shaped loop (jcc +1; ja back), a ja chain and mov/add followed by ja.
        Assert.Equal(5050UL + 3, RunBoth("""
            mov %r0, 0
            mov %r1, 0
            loop:
            add %r1, 1
            add %r0, %r1
            jeq %r1, 100, +1
            ja loop
            ja hop1
            hop2:
            add %r0, 1
            mov %r2, 2
            ja hop3
            hop1:
            ja hop2
            hop3:
            mov %r3, 0
            add %r3, %r2
            add %r0, %r3
            exit
            """));
    }

    [Fact]
    public void Random_alu_and_jump_programs_agree_between_modes()
    {
        // Differential fuzz over the fused shapes: mov/add (K and X), jumps forward. No memory access,
        // so the unchecked run is safe even for random programs.
        var random = new Random(4242);
        for (int round = 0; round < 3000; round++)
        {
            int length = random.Next(3, 24);
            var program = new Instruction[length];
            for (int k = 0; k < length - 1; k++)
            {
                byte dst = (byte)random.Next(0, 5), src = (byte)random.Next(0, 5);
                int imm = random.Next(-5, 6);
                int forward = random.Next(0, Math.Max(1, length - k - 2));
                program[k] = random.Next(8) switch
                {
                    0 => Instruction.Mov64Reg(dst, src),
                    1 => Instruction.Alu64Reg(AluOperation.Add, dst, src),
                    2 => Instruction.Alu64(AluOperation.Add, dst, imm),
                    3 => Instruction.Mov64(dst, imm),
                    4 => Instruction.Ja((short)forward),
                    5 => Instruction.Jump(JumpOperation.Jgt, dst, imm, (short)forward),
                    6 => Instruction.JumpReg(JumpOperation.Jne, dst, src, (short)forward),
                    _ => Instruction.Alu64(AluOperation.Mul, dst, imm),
                };
            }
            program[^1] = Instruction.Exit();
            Interpreter checkedProgram, uncheckedProgram;
            try
            {
                checkedProgram = Load(program, ExecutionMode.Checked);
            }
            catch (BpfException)
            {
                Assert.Throws<BpfException>(() => Load(program, ExecutionMode.Unchecked));
                continue;
            }
            uncheckedProgram = Load(program, ExecutionMode.Unchecked);
            ulong expected = checkedProgram.Run(7);
            Assert.True(expected == uncheckedProgram.Run(7), $"round {round}: {string.Join(", ", program)}");
        }
    }
}
