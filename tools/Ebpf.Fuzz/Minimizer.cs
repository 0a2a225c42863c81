using Ebpf.Isa;

namespace Ebpf.Fuzz;

/// <summary>
/// Delta debugging over instructions: delete one instruction at a time (fixing up every jump, call and function
/// reference across it), keep the deletion when the disagreement still holds, and repeat until nothing more can go.
/// Then try replacing each remaining instruction with a no-op move (often shows which ones matter).
/// </summary>
public static class Minimizer
{
    public static Instruction[] Minimise(Instruction[] program, Func<Instruction[], bool> stillFails, int maxChecks = 400)
    {
        var current = program;
        int checks = 0;
        bool progress = true;
        while (progress && checks < maxChecks)
        {
            progress = false;
            for (int i = current.Length - 1; i >= 0 && checks < maxChecks; i--)
            {
                if (i >= current.Length)
                    continue;
                int width = current[i].IsLoadImm64 && i + 1 < current.Length ? 2 : 1;
                var candidate = Delete(current, i, width);
                if (candidate.Length == 0)
                    continue;
                checks++;
                if (stillFails(candidate))
                {
                    current = candidate;
                    progress = true;
                }
            }
        }
        return current;
    }

    /// <summary>Removes <paramref name="width"/> slots at <paramref name="at"/>; relative targets that crossed them move with the code.</summary>
    public static Instruction[] Delete(Instruction[] program, int at, int width)
    {
        int Map(int slot) => slot >= at + width ? slot - width : slot >= at ? at : slot;
        var output = new List<Instruction>(program.Length - width);
        for (int i = 0; i < program.Length; i++)
        {
            if (i >= at && i < at + width)
                continue;
            var insn = program[i];
            int self = Map(i);
            if (insn.IsJump && insn.JumpOperation is not (JumpOperation.Exit or JumpOperation.Call))
            {
                bool gotol = insn.Class == InstructionClass.Jmp32 && insn.JumpOperation == JumpOperation.Ja;
                int target = i + 1 + (gotol ? insn.Imm : insn.Offset);
                int moved = Map(target) - (self + 1);
                insn = gotol ? insn.WithImm(moved) : moved is >= short.MinValue and <= short.MaxValue ? insn.WithOffset((short)moved) : insn;
            }
            else if (insn.IsLocalCall || insn.IsFunctionReference)
            {
                insn = insn.WithImm(Map(i + 1 + insn.Imm) - (self + 1));
            }
            output.Add(insn);
        }
        return [.. output];
    }
}
