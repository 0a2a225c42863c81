using Ebpf.Isa;

namespace Ebpf.Verification;

/// <summary>
/// Spectre v1 simulation for loaders without CAP_PERFMON (the kernel's !bypass_spec_v1), as Linux 6.17+ does it.
/// A branch the verifier decided from its operands still runs its other side under misprediction, and a masked
/// pointer add/sub runs with its offset truncated to 0; both are explored as speculative states
/// (sanitize_speculative_path, push_stack with speculative=true), logged as "from A to B (speculative execution)".
/// On such a path an error the kernel can recover from (EPERM, EACCES, EINVAL: error_recoverable_with_nospec) does not
/// reject the program: the kernel marks the instruction for a speculation barrier (aux->nospec, a BPF_NOSPEC before it)
/// and ends the path, as it ends every speculative path that reaches a barrier (a nospec, or a store marked
/// nospec_result by the Spectre v4 sanitation of stack writes). Other errors (complexity, internal) still reject.
/// The managed runtime executes no speculative path: its interpreter and JIT need no barrier, so the markers only
/// steer the verification (which paths end where), exactly as they steer the kernel's.
/// </summary>
internal sealed class SpeculativePaths(VerifierContext walk) : VerifierComponent(walk)
{
    private bool[]? _nospec, _nospecResult;

    /// <summary>bypass_spec_v1 is perfmon_capable: only a loader without CAP_PERFMON simulates speculation.</summary>
    public bool Enabled => !AllowPtrLeaks;

    /// <summary>error_recoverable_with_nospec: errors a speculation barrier can prevent.</summary>
    public static bool Recoverable(Errno errno) => errno is Errno.EPERM or Errno.EACCES or Errno.EINVAL;

    /// <summary>aux->nospec: a speculative path stops before this instruction.</summary>
    public bool HasNospec(int insn) => _nospec is { } n && n[insn];

    /// <summary>aux->nospec_result: a speculative path stops after this instruction (a barrier follows it).</summary>
    public bool HasNospecResult(int insn) => _nospecResult is { } n && n[insn];

    /// <summary>Instructions that got a barrier before them (for the tests and the report).</summary>
    public IEnumerable<int> NospecInstructions => _nospec is { } n ? Enumerable.Range(0, n.Length).Where(i => n[i]) : [];

    /// <summary>Instructions that got a barrier after them (Spectre v4 sanitation of stack writes).</summary>
    public IEnumerable<int> NospecResultInstructions => _nospecResult is { } n ? Enumerable.Range(0, n.Length).Where(i => n[i]) : [];

    /// <summary>
    /// sanitize_speculative_path: the state as it is, continued at <paramref name="next"/> as a speculative path. For a
    /// decided jump (<paramref name="jump"/>) the compared registers forget what the comparison decided
    /// (mark_reg_unknown), since under misprediction their values need not be the ones that decided it.
    /// </summary>
    public void Push(int next, int from, Instruction? jump)
    {
        var branch = Cur.Clone();
        if (jump is { } insn)
        {
            var regs = branch.Current.Registers;
            regs[insn.Dst] = Unknown();
            if (insn.Source == OperandSource.Register) regs[insn.Src] = Unknown();
        }
        Engine.PushBranch(branch, next, from, speculative: true);
    }

    /// <summary>mark_reg_unknown: precise without CAP_BPF (no precision tracking there), as the kernel marks it.</summary>
    private RegisterState Unknown()
    {
        var r = RegisterState.UnknownScalar();
        r.Precise = !Privileged;
        return r;
    }

    /// <summary>do_check's recovery: the error of <paramref name="insn"/> on a speculative path becomes a barrier before
    /// it, and the instruction's ALU sanitation is dropped (the barrier makes it unnecessary, can_skip_alu_sanitation).</summary>
    public void MarkNospec(int insn)
    {
        (_nospec ??= new bool[Insns.Count])[insn] = true;
        Sanitizer.Forget(insn);
    }

    /// <summary>
    /// check_stack_write_fixed_off's Spectre v4 sanitation (!bypass_spec_v4, also perfmon): a store that spills a
    /// pointer, or that writes over a slot whose first <paramref name="size"/> bytes (the kernel indexes slot_type[0..size)
    /// whatever the store's offset) are not all data or zero, gets a barrier after it.
    /// </summary>
    public void MarkStackWrite(in StackSlot slot, int size, bool storesPointer)
    {
        if (!Enabled) return;
        bool sanitize = storesPointer;
        for (int i = 0; i < size && !sanitize; i++)
            sanitize = slot[i] is not (StackByte.Misc or StackByte.Zero);
        if (sanitize) (_nospecResult ??= new bool[Insns.Count])[InsnIdx] = true;
    }
}
