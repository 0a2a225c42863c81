using System.Runtime.InteropServices;
using Ebpf.Execution;
using Ebpf.Isa;
using static Ebpf.Tests.Execution.InterpreterTestKit;

namespace Ebpf.Tests.Execution;

/// <summary>
/// The memory and compare superinstructions of unchecked mode (ldxdw + register compare, mov + register
/// compare, stxdw pairs): same results as checked mode, including jumps into the second slot of a pattern.
/// </summary>
public class MemoryFusionTests
{
    private static readonly JumpOperation[] RegisterCompares =
    [
        JumpOperation.Jeq, JumpOperation.Jne, JumpOperation.Jgt, JumpOperation.Jge, JumpOperation.Jlt, JumpOperation.Jle,
        JumpOperation.Jsgt, JumpOperation.Jsge, JumpOperation.Jslt, JumpOperation.Jsle, JumpOperation.Jset,
    ];

    [Fact]
    public void Bubble_sort_shaped_loop_sorts_in_both_modes()
    {
        // The inner loop of clang's bubble sort: ldxdw + jge on the loaded register, a swap by two stxdw,
        // mov + jgt as the loop test. Values include negatives, so a signed/unsigned mix-up would show.
        long[] values = [5, -3, 17, 0, long.MaxValue, 2, -3, long.MinValue, 9, 1];
        byte[] memory = MemoryMarshal.AsBytes(values.AsSpan()).ToArray();
        string program = """
            mov %r3, 0
            outer:
            mov %r4, 9
            sub %r4, %r3
            ldxdw %r6, [%r1+0]
            mov %r5, %r1
            mov %r0, 0
            ja inner
            next:
            add %r0, 1
            add %r5, 8
            mov %r6, %r7
            jgt %r4, %r0, inner
            add %r3, 1
            jne %r3, 9, outer
            ja fold
            inner:
            ldxdw %r7, [%r5+8]
            jge %r7, %r6, next
            stxdw [%r5+8], %r6
            stxdw [%r5+0], %r7
            mov %r7, %r6
            ja next
            fold:
            mov %r0, 0
            mov %r2, 0
            fold_loop:
            mov %r3, %r1
            add %r3, %r2
            ldxdw %r3, [%r3+0]
            mul %r0, 31
            add %r0, %r3
            add %r2, 8
            jne %r2, 80, fold_loop
            exit
            """;
        ulong expected = 0;
        foreach (ulong v in values.Select(v => (ulong)v).Order())
            expected = expected * 31 + v;
        Assert.Equal(expected, RunBoth(program, memory));
    }

    [Fact]
    public void Jumps_into_the_second_slot_of_each_pattern()
    {
        // Each pattern is run once fused, then entered at its second slot with different register values.
        byte[] memory = new byte[32];
        BitConverter.TryWriteBytes(memory.AsSpan(0), 40UL);
        BitConverter.TryWriteBytes(memory.AsSpan(8), 2UL);
        Assert.Equal(RunChecked(Asm(JumpIntoPatterns), memory), RunBoth(JumpIntoPatterns, memory));
    }

    private const string JumpIntoPatterns = """
        mov %r0, 0
        mov %r9, 0
        mov %r6, 10
        load:
        ldxdw %r2, [%r1+0]
        load_cmp:
        jgt %r2, %r6, load_big
        add %r0, 1
        load_big:
        add %r0, 100
        jne %r9, 0, move
        mov %r9, 1
        mov %r2, 3
        ja load_cmp
        move:
        mov %r3, %r6
        move_cmp:
        jsle %r3, %r2, move_small
        add %r0, 1000
        move_small:
        add %r0, 10000
        jne %r9, 1, stores
        mov %r9, 2
        mov %r3, -1
        ja move_cmp
        stores:
        stxdw [%r1+16], %r0
        store2:
        stxdw [%r1+24], %r6
        jne %r9, 2, fold
        mov %r9, 3
        mov %r6, 77
        ja store2
        fold:
        ldxdw %r4, [%r1+16]
        ldxdw %r5, [%r1+24]
        mul %r4, 1000
        add %r4, %r5
        add %r0, %r4
        exit
        """;

    [Fact]
    public void Random_memory_and_compare_programs_agree_between_modes()
    {
        // Differential fuzz: r1 stays the base of a 64-byte buffer; bodies mix loads, stores, moves and
        // register compares (the fused pairs are emitted on purpose, and random forward jumps land in their
        // second slots). An epilogue folds the buffer into r0, so stores are compared too.
        var random = new Random(8086);
        byte[] dataRegisters = [0, 2, 3, 4, 5];
        for (int round = 0; round < 3000; round++)
        {
            int bodyLength = random.Next(3, 28);
            var body = new List<Instruction>();
            byte Dst() => dataRegisters[random.Next(dataRegisters.Length)];
            byte Src() => (byte)random.Next(0, 6);
            short Slot() => (short)(8 * random.Next(0, 8));
            JumpOperation Compare() => RegisterCompares[random.Next(RegisterCompares.Length)];
            while (body.Count < bodyLength)
            {
                byte dst = Dst();
                switch (random.Next(9))
                {
                    case 0: body.Add(Instruction.Mov64Reg(dst, Src())); break;
                    case 1: body.Add(Instruction.LoadMem(AccessSize.DoubleWord, dst, 1, Slot())); break;
                    case 2: body.Add(Instruction.StoreMem(AccessSize.DoubleWord, 1, Src(), Slot())); break;
                    case 3: body.Add(Instruction.Mov64(dst, random.Next(3) == 0 ? random.Next(int.MinValue, int.MaxValue) : random.Next(-3, 4))); break;
                    case 4: body.Add(Instruction.Alu64(AluOperation.Add, dst, random.Next(-2, 3))); break;
                    case 5:
                        body.Add(Instruction.LoadMem(AccessSize.DoubleWord, dst, 1, Slot()));
                        body.Add(Instruction.JumpReg(Compare(), dst, random.Next(4) == 0 ? dst : Src(), 0));
                        break;
                    case 6:
                        body.Add(Instruction.Mov64Reg(dst, Src()));
                        body.Add(Instruction.JumpReg(Compare(), Dst(), Src(), 0));
                        break;
                    case 7:
                        body.Add(Instruction.StoreMem(AccessSize.DoubleWord, 1, Src(), Slot()));
                        body.Add(Instruction.StoreMem(AccessSize.DoubleWord, 1, Src(), Slot()));
                        break;
                    default: body.Add(Instruction.Ja(0)); break;
                }
            }
            // Jumps get random forward offsets within the body (or onto the epilogue).
            for (int k = 0; k < body.Count; k++)
            {
                var insn = body[k];
                if ((insn.Opcode & 0x07) == (byte)InstructionClass.Jmp)
                    body[k] = insn.WithOffset((short)random.Next(0, body.Count - k));
            }
            for (short slot = 0; slot < 64; slot += 8)
            {
                body.Add(Instruction.LoadMem(AccessSize.DoubleWord, 2, 1, slot));
                body.Add(Instruction.Alu64(AluOperation.Mul, 0, 31));
                body.Add(Instruction.Alu64Reg(AluOperation.Add, 0, 2));
            }
            body.Add(Instruction.Exit());
            var program = body.ToArray();

            byte[] memory = new byte[64];
            random.NextBytes(memory);
            if (random.Next(2) == 0)
                memory.AsSpan(0, 16).Clear(); // equal values, so the eq/ge/le edges are hit
            ulong expected = ConformanceRunner.Execute(program, memory, Options(ExecutionMode.Checked));
            ulong actual = ConformanceRunner.Execute(program, memory, Options(ExecutionMode.Unchecked));
            Assert.True(expected == actual, $"round {round}: {string.Join(", ", program)}");
        }
    }

    private static InterpreterOptions Options(ExecutionMode mode) =>
        new() { Name = "fuzz", Mode = mode, Helpers = HelperTable.ForConformance() };
}
