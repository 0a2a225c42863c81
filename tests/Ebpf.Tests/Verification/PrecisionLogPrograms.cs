using Ebpf.Isa;
using static Ebpf.Tests.Verification.Asm;

namespace Ebpf.Tests.Verification;

/// <summary>Small socket_filter programs whose verification marks scalars precise, for the level-2 log tests.</summary>
internal static class PrecisionLogPrograms
{

    public static readonly string[] Names =
    [
        "ptr_add", "helper_size", "spill_fill", "pointer_offset_safe", "spilled_size_safe", "decided_branch",
        "subprog", "subprog_ret", "subprog_cp", "linked",
    ];

    public static List<Instruction> Build(string name) => name switch
    {
        // A constant reaches a stack pointer through a copy: backtracking follows r3 back to r2.
        "ptr_add" => Prog(Mov(2, 8), MovReg(3, 2), MovReg(1, 10), Add(1, -16), AddReg(1, 3), St(AccessSize.DoubleWord, 1, 0, 0), Mov(0, 0), Exit()),
        // The size argument of probe_read_kernel (ARG_CONST_SIZE) is precise.
        "helper_size" => Prog(St(AccessSize.DoubleWord, 10, -8, 0), MovReg(1, 10), Add(1, -8), Mov(2, 8), Mov(3, 0), CallId(113), Mov(0, 0), Exit()),
        // The size goes through a spill and a fill: the stack mask carries it between them.
        "spill_fill" => Prog(Mov(2, 8), Stx(AccessSize.DoubleWord, 10, 2, -16), MovReg(1, 10), Add(1, -8), St(AccessSize.DoubleWord, 10, -8, 0),
            Ldx(AccessSize.DoubleWord, 2, 10, -16), Mov(3, 0), CallId(113), Mov(0, 0), Exit()),
        // A checkpoint at the join (parent state lines), then the second path is pruned there (propagation).
        "pointer_offset_safe" => PruningSoundnessTests.PointerOffsetProgram(0),
        // The same with a spilled scalar: "propagating fp-16".
        "spilled_size_safe" => PruningSoundnessTests.SpilledSizeProgram(8),
        // A jump decided by a constant right at a checkpoint (first_idx = last_idx); the second path fails.
        "decided_branch" => PruningSoundnessTests.DecidedBranchProgram(),
        // The callee's argument is walked back through the call into the caller (frame1 -> frame0).
        "subprog" => Prog(Mov(6, 8), MovReg(1, 6), Instruction.CallLocal(2), Mov(0, 0), Exit(),
            MovReg(2, 10), Add(2, -16), AddReg(2, 1), St(AccessSize.DoubleWord, 2, 0, 0), Mov(0, 0), Exit()),
        // The callee's return value is walked back through the exit into the callee (frame0 -> frame1).
        "subprog_ret" => Prog(Instruction.CallLocal(6), MovReg(2, 10), Add(2, -16), AddReg(2, 0), Stx(AccessSize.DoubleWord, 2, 0, 0), Mov(0, 0), Exit(),
            Mov(0, 8), Exit()),
        // A checkpoint inside the callee: parent state lines for frame1 and frame0.
        "subprog_cp" => Prog(Mov(6, 8), MovReg(1, 6), Instruction.CallLocal(2), Mov(0, 0), Exit(),
            MovReg(7, 1), Padding(), Call(HelperIdAlias.GetPrandomU32), Jmp(JumpOperation.Jne, 0, 0, 1), Mov(9, 1),
            MovReg(2, 10), Add(2, -16), AddReg(2, 7), St(AccessSize.DoubleWord, 2, 0, 0), Mov(0, 0), Exit()),
        // Scalars linked by a copy: a bound learnt on r8 reaches r6, so both are wanted before the jump.
        "linked" => PruningSoundnessTests.LinkedScalarProgram(),
        // Not a precision case: a callee gets a pointer to its caller's stack (printed fp[0]-8 there).
        "stack_arg" => Prog(MovReg(1, 10), Add(1, -8), Instruction.CallLocal(2), Mov(0, 0), Exit(),
            Mov(2, 7), Stx(AccessSize.DoubleWord, 1, 2, 0), Mov(0, 0), Exit()),
        _ => throw new ArgumentException(name),
    };

    /// <summary>The precision lines of a level-2 log, in order.</summary>
    public static List<string> PrecisionLines(string log) =>
        [.. log.Split('\n').Where(l => l.StartsWith("mark_precise: ", StringComparison.Ordinal)
            || l.StartsWith("force_precise: ", StringComparison.Ordinal)
            || (l.StartsWith("frame ", StringComparison.Ordinal) && l.Contains(": propagating ", StringComparison.Ordinal)))];

    /// <summary>The verifier trace of a level-2 log without the header table, 6.18's stack-liveness lines and the stats line.</summary>
    public static List<string> Trace(string log)
    {
        var lines = log.Split('\n').ToList();
        int start = lines.FindIndex(l => l.StartsWith("0: R1=", StringComparison.Ordinal));
        return [.. lines.Skip(Math.Max(start, 0)).Where(l => !l.StartsWith('(') && !l.StartsWith("processed ", StringComparison.Ordinal))];
    }
}
