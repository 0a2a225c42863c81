namespace Ebpf.Isa;

/// <summary>Where and why the pre-pass refused a program: the kernel's message, naming slot <see cref="Index"/>.</summary>
internal sealed record PrePassError(int Index, string Message);

/// <summary>
/// The checks the kernel makes on every instruction before abstract interpretation, in its order:
/// <c>add_subprog_and_kfunc</c> ("call to invalid destination"), <c>check_subprogs</c> ("jump out of range from insn
/// %d to %d", "last insn is not an exit or jmp"), then <c>resolve_pseudo_ldimm64</c> ("BPF_LDX uses reserved fields",
/// "invalid bpf_ld_imm64 insn", "unrecognized bpf_ld_imm64 insn", "unknown opcode %02x"). Everything else about an
/// instruction (reserved fields of ALU/JMP/ST/STX, register numbers) the kernel checks only when <c>do_check</c> reaches
/// it, so an unreachable-in-practice instruction with reserved bits set is accepted. The verifier and the runtime's
/// validator both start here, so they agree on which programs are structurally valid.
/// </summary>
internal static class KernelPrePass
{
    /// <summary>Null when the program passes; otherwise the first failure the kernel would report.</summary>
    public static PrePassError? Check(ReadOnlySpan<Instruction> program, IsaExtensions extensions = IsaExtensions.None)
    {
        int n = program.Length;
        // add_subprog_and_kfunc: bpf-to-bpf calls and function references name subprogram starts.
        var starts = new SortedSet<int> { 0 };
        for (int i = 0; i < n; i++)
        {
            var insn = program[i];
            if (!insn.IsLocalCall && !insn.IsFunctionReference)
                continue;
            long target = (long)i + insn.Imm + 1;
            if (target < 0 || target >= n)
                return new PrePassError(i, "call to invalid destination");
            starts.Add((int)target);
        }

        // check_subprogs: every jump stays inside its subprogram; each subprogram ends in exit or goto.
        int[] bounds = [.. starts, n];
        for (int s = 0; s + 1 < bounds.Length; s++)
        {
            int start = bounds[s], end = bounds[s + 1];
            for (int i = start; i < end; i++)
            {
                var insn = program[i];
                if (insn.IsJump && insn.JumpOperation is not (JumpOperation.Call or JumpOperation.Exit))
                {
                    // check_subprogs computes the target in an int: a gotol far past the end wraps negative.
                    int target = unchecked(i + 1 + (insn.Opcode == Opcodes.Ja32 ? insn.Imm : insn.Offset));
                    if (target < start || target >= end)
                        return new PrePassError(i, $"jump out of range from insn {i} to {target}");
                }
                if (i == end - 1 && insn.Opcode is not (Opcodes.Exit or Opcodes.Ja or Opcodes.Ja32))
                    return new PrePassError(i, "last insn is not an exit or jmp");
            }
        }

        // resolve_pseudo_ldimm64: LDX modes, lddw pairs and sources, then the opcode table.
        for (int i = 0; i < n; i += program[i].IsLoadImm64 ? 2 : 1)
        {
            if (InstructionError(program, i, extensions) is { } message)
                return new PrePassError(i, message);
        }
        return null;
    }

    /// <summary>resolve_pseudo_ldimm64's verdict on the instruction at <paramref name="i"/> alone (null: it passes).</summary>
    public static string? InstructionError(ReadOnlySpan<Instruction> program, int i, IsaExtensions extensions = IsaExtensions.None)
    {
        var insn = program[i];
        if (insn.Class == InstructionClass.Ldx && ((insn.AccessMode != AccessMode.Mem && insn.AccessMode != AccessMode.MemSx) || insn.Imm != 0))
            return "BPF_LDX uses reserved fields";
        if (insn.IsLoadImm64)
        {
            if (i == program.Length - 1 || program[i + 1].Opcode != 0 || program[i + 1].Dst != 0 || program[i + 1].Src != 0 || program[i + 1].Offset != 0)
                return "invalid bpf_ld_imm64 insn";
            return UnrecognizedSource(insn, program[i + 1]) ? "unrecognized bpf_ld_imm64 insn" : null;
        }
        bool extension = insn.Opcode == Opcodes.Callx && (extensions & IsaExtensions.Callx) != 0;
        return !OpcodeTable.IsKnown(insn.Opcode) && !extension ? $"unknown opcode {insn.Opcode:x2}" : null;
    }

    /// <summary>Map sources take the map in imm (the second imm only for value offsets); other sources are unknown.</summary>
    private static bool UnrecognizedSource(Instruction first, Instruction second) => (LoadImm64Source)first.Src switch
    {
        LoadImm64Source.Imm64 or LoadImm64Source.BtfId or LoadImm64Source.Function => false,
        LoadImm64Source.MapValue or LoadImm64Source.MapIndexValue => false,
        LoadImm64Source.MapFd or LoadImm64Source.MapIndex => second.Imm != 0,
        _ => true,
    };
}
