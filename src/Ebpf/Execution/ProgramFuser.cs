namespace Ebpf.Execution;

/// <summary>
/// Unchecked-mode peephole pass over decoded code: fewer dispatches per BPF instruction. It only
/// rewrites the first slot of a pattern; the following slots stay as they were, so jumps into the
/// middle of a pattern still execute the original instructions. Checked mode skips this pass so that
/// the instruction budget and fault positions stay exact.
/// <list type="bullet">
/// <item>conditional jump followed by <c>ja</c>: the not-taken target becomes the ja's target (clang's loop shape);</item>
/// <item>jump threading: a jump to a <c>ja</c> goes straight to its target;</item>
/// <item>two <c>add rX, imm</c> in a row (loop counters): one operation;</item>
/// <item><c>mov</c> or <c>add</c> followed by <c>ja</c>: one operation that moves and jumps;</item>
/// <item><c>mov rX, rY; add rX, rZ</c> becomes a three-operand add, and when followed by
/// <c>ldx rX, [rX+off]</c> an indexed load (array and packet indexing);</item>
/// <item><c>ldxdw rX</c> followed by a 64-bit register compare of rX, and <c>mov rX, rY</c> followed by any
/// 64-bit register compare: one operation that also branches (sorting and search loops);</item>
/// <item>two <c>stxdw</c> in a row (swaps, copies): one operation.</item>
/// </list>
/// </summary>
internal static class ProgramFuser
{
    public static void Fuse(DecodedInstruction[] code, int length)
    {
        for (int pc = 0; pc < length; pc++)
        {
            ref var insn = ref code[pc];
            if (insn.IsConditionalJump)
            {
                insn.Offset = Thread(code, insn.Offset);
                insn.NotTaken = Thread(code, insn.NotTaken);
            }
            else if (insn.Op == Operation.Ja)
            {
                insn.Offset = Thread(code, insn.Offset);
            }
            else if (insn.Op is Operation.Mov64X or Operation.Mov64K or Operation.Add64K or Operation.Add64X
                     && pc + 1 < length && code[pc + 1].Op == Operation.Ja)
            {
                insn.Offset = Thread(code, code[pc + 1].Offset);
                insn.Op = insn.Op switch
                {
                    Operation.Mov64X => Operation.Mov64XJa,
                    Operation.Mov64K => Operation.Mov64KJa,
                    Operation.Add64K => Operation.Add64KJa,
                    _ => Operation.Add64XJa,
                };
            }
            else if (insn.Op == Operation.Add64K && pc + 1 < length && code[pc + 1].Op == Operation.Add64K
                     && insn.Imm == (int)insn.Imm && code[pc + 1].Imm == (int)code[pc + 1].Imm)
            {
                var second = code[pc + 1];
                var fused = DecodedInstruction.Jump(Operation.Add64KK, insn.Dst, second.Dst, 0, (int)insn.Imm, (int)second.Imm);
                insn = fused;
            }
            else if (insn.Op == Operation.LdxDW && pc + 1 < length && code[pc + 1].Dst == insn.Dst
                     && RegisterCompare(code[pc + 1].Op) is { } loadCompare)
            {
                ref readonly var jump = ref code[pc + 1];
                insn = DecodedInstruction.Jump((Operation)((int)Operation.LoadDWJeqX + loadCompare), insn.Dst, insn.Src,
                    Thread(code, jump.Offset), insn.Offset, Thread(code, jump.NotTaken));
                insn.Src2 = jump.Src;
            }
            else if (insn.Op == Operation.Mov64X && pc + 1 < length && RegisterCompare(code[pc + 1].Op) is { } moveCompare)
            {
                ref readonly var jump = ref code[pc + 1];
                var fused = DecodedInstruction.Jump((Operation)((int)Operation.MovJeqX + moveCompare), insn.Dst, insn.Src,
                    Thread(code, jump.Offset), 0, Thread(code, jump.NotTaken));
                fused.JumpDst = jump.Dst;
                fused.JumpSrc = jump.Src;
                insn = fused;
            }
            else if (insn.Op == Operation.StxDW && pc + 1 < length && code[pc + 1].Op == Operation.StxDW)
            {
                ref readonly var second = ref code[pc + 1];
                var fused = DecodedInstruction.Jump(Operation.StxDW2, insn.Dst, insn.Src, insn.Offset, second.Offset, second.Src);
                fused.Src2 = second.Dst;
                insn = fused;
            }
            else if (insn.Op == Operation.Mov64X && pc + 1 < length)
            {
                ref readonly var add = ref code[pc + 1];
                if (add.Op == Operation.Add64X && add.Dst == insn.Dst && add.Src != insn.Dst)
                {
                    byte x = insn.Dst, y = insn.Src, z = add.Src;
                    Operation load = pc + 2 < length ? code[pc + 2].Op switch
                    {
                        Operation.LdxB => Operation.LoadIndexedB,
                        Operation.LdxH => Operation.LoadIndexedH,
                        Operation.LdxW => Operation.LoadIndexedW,
                        Operation.LdxDW => Operation.LoadIndexedDW,
                        _ => Operation.Add3,
                    } : Operation.Add3;
                    if (load != Operation.Add3 && (code[pc + 2].Dst != x || code[pc + 2].Src != x))
                        load = Operation.Add3;
                    int offset = load == Operation.Add3 ? 0 : code[pc + 2].Offset;
                    insn = new DecodedInstruction(load, x, y, offset, 0) { Src2 = z };
                }
            }
        }
    }

    /// <summary>
    /// The position of a 64-bit register compare in the fused families (same order as Jeq…Jsle in
    /// <see cref="Operation.LoadDWJeqX"/> and <see cref="Operation.MovJeqX"/>), or null for other operations.
    /// </summary>
    private static int? RegisterCompare(Operation op) => op switch
    {
        Operation.Jeq64X => 0,
        Operation.Jne64X => 1,
        Operation.Jgt64X => 2,
        Operation.Jge64X => 3,
        Operation.Jlt64X => 4,
        Operation.Jle64X => 5,
        Operation.Jsgt64X => 6,
        Operation.Jsge64X => 7,
        Operation.Jslt64X => 8,
        Operation.Jsle64X => 9,
        _ => null,
    };

    /// <summary>Follows chains of <c>ja</c> (bounded, so a ja cycle stays a loop instead of hanging the pass).</summary>
    private static int Thread(DecodedInstruction[] code, int target)
    {
        for (int hops = 0; hops < 8 && code[target].Op == Operation.Ja; hops++)
            target = code[target].Offset;
        return target;
    }
}
