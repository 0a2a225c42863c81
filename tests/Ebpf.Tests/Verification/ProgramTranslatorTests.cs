using Ebpf.Isa;
using Ebpf.Verification;
using static Ebpf.Isa.Instruction;

namespace Ebpf.Tests.Verification;

/// <summary>
/// The fixups on hand-written facts: which instructions a path reached and what pointer each access used. Jumps
/// (forward, backward, gotol), local calls and function references must land on the same instruction after removal.
/// </summary>
public class ProgramTranslatorTests
{
    private static InstructionFacts[] Seen(int n, params int[] dead) =>
        [.. Enumerable.Range(0, n).Select(i => new InstructionFacts(!dead.Contains(i), RegisterType.NotInit))];

    [Fact]
    public void Branch_with_a_dead_fallthrough_becomes_ja_and_the_ja_goes_with_the_dead_code()
    {
        Instruction[] p =
        [
            Mov64(0, 1),                          // 0
            Jump(JumpOperation.Jeq, 0, 1, 2),     // 1: always taken
            Mov64(0, 7),                          // 2: dead
            Mov64(0, 8),                          // 3: dead
            Exit(),                               // 4
        ];
        var t = ProgramTranslator.Translate(p, Seen(5, 2, 3), privileged: true, converter: null);
        Assert.Equal([Mov64(0, 1), Exit()], t.Instructions);
        Assert.Equal([0, 4], t.SourceIndex);
        Assert.False(t.Survives(1));
        Assert.True(t.Survives(4));
    }

    [Fact]
    public void Branch_with_a_dead_target_becomes_a_nop_and_is_removed_and_backward_jumps_are_moved()
    {
        Instruction[] p =
        [
            Mov64(0, 0),                          // 0
            Alu64(AluOperation.Add, 0, 1),        // 1: loop head
            Jump(JumpOperation.Jgt, 0, 100, 3),   // 2: never taken
            Jump(JumpOperation.Jlt, 0, 3, -3),    // 3: back to 1
            Exit(),                               // 4
            Mov64(0, 9),                          // 5: dead
            Exit(),                               // 6: dead
        ];
        var t = ProgramTranslator.Translate(p, Seen(7, 5, 6), privileged: true, converter: null);
        Assert.Equal([Mov64(0, 0), Alu64(AluOperation.Add, 0, 1), Jump(JumpOperation.Jlt, 0, 3, -2), Exit()], t.Instructions);
    }

    [Fact]
    public void Local_calls_function_references_and_gotol_are_retargeted()
    {
        var gotol = new Instruction(Opcodes.Ja32, 0, 0, 0, 2);
        Instruction[] p =
        [
            Mov64(1, 0),                          // 0
            Jump(JumpOperation.Jeq, 1, 0, 1),     // 1: always taken
            Mov64(1, 5),                          // 2: dead
            CallLocal(3),                         // 3 -> 7
            new(Opcodes.LoadImm64, 2, (byte)LoadImm64Source.Function, 0, 2), // 4 -> 7
            new(0, 0, 0, 0, 0),                   // 5 (second half)
            Exit(),                               // 6
            gotol,                                // 7 -> 10
            Mov64(0, 3),                          // 8: dead
            Mov64(0, 4),                          // 9: dead
            Exit(),                               // 10
        ];
        var t = ProgramTranslator.Translate(p, Seen(11, 2, 8, 9), privileged: true, converter: null);
        // 0, 3, 4, 5, 6, 7(gotol), 10: the jump at 1 (now ja +1 over a removed insn) is a nop and goes as well.
        Assert.Equal([0, 3, 4, 5, 6, 7, 10], t.SourceIndex);
        Assert.Equal(3, t.Instructions[1].Imm);           // call: 1 + 1 + 3 = 5 (the gotol)
        Assert.Equal(2, t.Instructions[2].Imm);           // func ref: 2 + 1 + 2 = 5
        Assert.Equal(0, t.Instructions[5].Imm);           // gotol: now lands on its successor but is no plain ja: kept
    }

    [Fact]
    public void Unprivileged_dead_code_is_replaced_by_traps_and_nothing_moves()
    {
        Instruction[] p = [Mov64(0, 1), Jump(JumpOperation.Jeq, 0, 1, 1), Mov64(0, 7), Exit()];
        var t = ProgramTranslator.Translate(p, Seen(4, 2), privileged: false, converter: null);
        Assert.Equal([Mov64(0, 1), Jump(JumpOperation.Jeq, 0, 1, 1), Ja(-1), Exit()], t.Instructions);
    }

    private sealed class DoubleWordConverter : IContextAccessConverter
    {
        public Instruction[]? Convert(Instruction insn) =>
            insn.Offset == 0 ? [LoadMem(AccessSize.DoubleWord, insn.Dst, insn.Src, 40), Alu64(AluOperation.Add, insn.Dst, 0)] : null;
    }

    [Fact]
    public void Only_accesses_proved_ctx_are_converted_and_growth_moves_jumps()
    {
        Instruction[] p =
        [
            Jump(JumpOperation.Jeq, 1, 0, 2),     // 0: over 1 and 2
            LoadMem(AccessSize.Word, 0, 1, 0),    // 1: ctx
            LoadMem(AccessSize.Word, 0, 2, 0),    // 2: stack, same offset
            Exit(),                               // 3
        ];
        InstructionFacts[] facts =
        [
            new(true, RegisterType.NotInit), new(true, RegisterType.Ctx), new(true, RegisterType.Stack), new(true, RegisterType.NotInit),
        ];
        var t = ProgramTranslator.Translate(p, facts, privileged: true, converter: new DoubleWordConverter());
        Assert.Equal(5, t.Instructions.Length);
        Assert.Equal(3, t.Instructions[0].Offset);
        Assert.Equal(LoadMem(AccessSize.DoubleWord, 0, 1, 40), t.Instructions[1]);
        Assert.Equal(p[2], t.Instructions[3]);
        Assert.Equal([0, 1, 3, 4, 5], t.NewIndex);
    }
}

/// <summary>bpf_adj_linfo after dead-code removal: survivors move, a removed run's last record is inherited once.</summary>
public class LineInfoAdjustmentTests
{
    [Fact]
    public void Records_follow_their_instructions_and_the_first_survivor_inherits_the_last_removed_record()
    {
        // Verified 0..7; 2-4 removed, 7 removed (the tail). newIndex: 0,1,2,2,2,2,3,4,4
        int[] newIndex = [0, 1, 2, 2, 2, 2, 3, 4, 4];
        // records at 0, 2, 3 (removed run 2-4, 5 has none: 3 moves to 5), 6, 7 (tail: dropped)
        Assert.Equal([0, -1, 2, 3, -1], LineInfoAdjustment.Move(newIndex, [0, 2, 3, 6, 7]));
        // 5 has its own record: the removed run's records are all dropped
        Assert.Equal([0, -1, -1, 2], LineInfoAdjustment.Move(newIndex, [0, 2, 3, 5]));
    }
}
