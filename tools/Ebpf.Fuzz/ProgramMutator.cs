using Ebpf.Abi;
using Ebpf.Isa;

namespace Ebpf.Fuzz;

/// <summary>
/// Mutations of seed programs (the conformance suite's and earlier generated ones): field bit flips, instruction
/// replacement, insertion, deletion and duplication. Jump offsets are left as they are: a jump that now lands
/// somewhere odd is part of what the pre-pass must judge.
/// </summary>
public sealed class ProgramMutator(Random random, IReadOnlyList<Instruction[]> seeds)
{
    public FuzzProgram Mutate(ProgramType type, ProgramGenerator generator)
    {
        var code = seeds.Count > 0 && random.Next(3) != 0
            ? [.. seeds[random.Next(seeds.Count)]]
            : new List<Instruction>(generator.Next().Instructions);
        bool nondeterministic = false;
        for (int m = 0, n = 1 + random.Next(3); m < n && code.Count > 0; m++)
        {
            int at = random.Next(code.Count);
            var insn = code[at];
            switch (random.Next(8))
            {
                case 0: code[at] = new Instruction((byte)(insn.Opcode ^ (1 << random.Next(8))), insn.Dst, insn.Src, insn.Offset, insn.Imm); break;
                case 1: code[at] = insn.WithDst((byte)(random.Next(4) == 0 ? random.Next(16) : random.Next(11))); break;
                case 2: code[at] = insn.WithSrc((byte)(random.Next(4) == 0 ? random.Next(16) : random.Next(11))); break;
                case 3: code[at] = insn.WithOffset((short)(insn.Offset + random.Next(-3, 4))); break;
                case 4: code[at] = insn.WithImm(random.Next(3) == 0 ? insn.Imm ^ (1 << random.Next(32)) : insn.Imm + random.Next(-3, 4)); break;
                case 5: code.RemoveAt(at); break;
                case 6: code.Insert(at, insn); break;
                default:
                    var donor = generator.Next();
                    nondeterministic |= donor.Nondeterministic;
                    int from = random.Next(donor.Instructions.Length);
                    int len = Math.Min(1 + random.Next(4), donor.Instructions.Length - from);
                    code.InsertRange(at, donor.Instructions.AsSpan(from, len).ToArray());
                    break;
            }
        }
        if (code.Count == 0)
            code.Add(Instruction.Exit());
        // Conformance programs read memory through r1; whatever they call is unknown to us: treat all as nondeterministic
        // when they call helpers we do not model identically.
        nondeterministic |= code.Any(i => i.IsHelperCall && i.Imm is 5 or 7 or 8);
        return new FuzzProgram(type, [.. code], "mutated", nondeterministic);
    }
}
