using Ebpf.Isa;

namespace Ebpf.Verification;

/// <summary>
/// The structural checks that run before abstract interpretation (<c>check_subprogs</c>, <c>check_cfg</c>):
/// opcodes and reserved fields, subprogram boundaries, jump ranges, the last instruction, reachability,
/// back-edges for loaders without CAP_BPF; and a static register liveness used for state pruning.
/// </summary>
internal sealed class ControlFlow
{
    public readonly List<int> SubprogStarts = [0];
    public bool[] PrunePoint = [];
    /// <summary>Instructions reached by a jump or a return (the kernel's jmp points), counted toward forcing a checkpoint.</summary>
    public bool[] JumpPoint = [];
    /// <summary>Helper calls that run a callback synchronously (bpf_loop, for_each_map_elem, find_vma,
    /// user_ringbuf_drain): the callback returns to the call, so iterations meet there (the kernel's calls_callback
    /// and force_checkpoint marks).</summary>
    public bool[] CallsCallback = [];
    /// <summary>Per instruction: bit i set when register Ri may be read before being written.</summary>
    public ushort[] LiveIn = [];
    private readonly IReadOnlyList<Instruction> _insns;

    /// <summary>Registers a helper call reads (r1 up to its last argument), by helper id; null or an unknown helper means
    /// all five argument registers.</summary>
    private readonly Func<int, ushort?>? _helperArgs;

    public ControlFlow(IReadOnlyList<Instruction> insns, Func<int, ushort?>? helperArgs = null)
    {
        _insns = insns;
        _helperArgs = helperArgs;
    }

    public int SubprogOf(int insn)
    {
        int idx = SubprogStarts.BinarySearch(insn);
        return idx >= 0 ? idx : ~idx - 1;
    }

    public int SubprogEnd(int subprog) => subprog + 1 < SubprogStarts.Count ? SubprogStarts[subprog + 1] : _insns.Count;

    /// <summary>The exception callback's first instruction (a subprogram and a CFG root nothing calls), or -1.</summary>
    public int ExceptionCallbackStart { get; set; } = -1;

    /// <param name="allowLoops">Whether back-edges are allowed (bounded loops, privileged loaders); otherwise the
    /// kernel's "back-edge from insn" refusal applies.</param>
    /// <param name="afterPrePass">Checks of resolve_pseudo_ldimm64 that need more than the instructions (the kernel BTF):
    /// they run where the kernel runs them, after the per-instruction pre-pass and before the subprogram and CFG checks.</param>
    /// <param name="afterSubprogs">Checks of check_btf_info on the subprograms found (check_btf_func): after
    /// check_subprogs, before the CFG walk.</param>
    public void Check(bool allowLoops, Action? afterPrePass = null, Action? afterSubprogs = null)
    {
        int n = _insns.Count;
        if (n == 0) throw new VerifierError(Errno.EINVAL, "empty program", 0);
        // The kernel's up-front checks on every instruction, shared with the runtime's validator.
        if (KernelPrePass.Check(_insns as Instruction[] ?? [.. _insns]) is { } error)
            throw new VerifierError(Errno.EINVAL, error.Message, error.Index);
        afterPrePass?.Invoke();
        var isSecondSlot = new bool[n];
        for (int i = 0; i < n; i++)
        {
            var insn = _insns[i];
            if (insn.IsLoadImm64)
            {
                if (i + 1 >= n || _insns[i + 1].Opcode != 0 || _insns[i + 1].Dst != 0 || _insns[i + 1].Src != 0 || _insns[i + 1].Offset != 0)
                    throw new VerifierError(Errno.EINVAL, "invalid bpf_ld_imm64 insn", i);
                isSecondSlot[i + 1] = true;
                if (insn.Src == (byte)LoadImm64Source.Function) AddSubprog(i + insn.Imm + 1, i);
                i++;
                continue;
            }
            if (insn.IsLocalCall) AddSubprog(i + insn.Imm + 1, i);
        }
        if (ExceptionCallbackStart > 0) AddSubprog(ExceptionCallbackStart, 0);
        SubprogStarts.Sort();

        // Jumps must stay inside their subprogram, and every subprogram must end in exit or goto.
        for (int s = 0; s < SubprogStarts.Count; s++)
        {
            int start = SubprogStarts[s], end = SubprogEnd(s);
            for (int i = start; i < end; i++)
            {
                if (isSecondSlot[i]) continue;
                var insn = _insns[i];
                if (!insn.IsJump || insn.JumpOperation is JumpOperation.Call or JumpOperation.Exit) continue;
                int target = JumpTarget(i);
                if (target < start || target >= end)
                    throw new VerifierError(Errno.EINVAL, $"jump out of range from insn {i} to {target}", i);
            }
            var last = _insns[end - 1];
            bool ok = !isSecondSlot[end - 1] && (last.IsExit || (last.IsJump && last.JumpOperation == JumpOperation.Ja));
            if (!ok) throw new VerifierError(Errno.EINVAL, "last insn is not an exit or jmp", end - 1);
        }

        afterSubprogs?.Invoke();
        Walk(allowLoops, isSecondSlot);
        ComputeLiveness(isSecondSlot);
    }

    private void AddSubprog(int start, int at)
    {
        if (start < 0 || start >= _insns.Count)
            throw new VerifierError(Errno.EINVAL, $"call to invalid destination", at);
        if (!SubprogStarts.Contains(start)) SubprogStarts.Add(start);
    }

    public int JumpTarget(int i)
    {
        var insn = _insns[i];
        if (insn.Class == InstructionClass.Jmp32 && insn.JumpOperation == JumpOperation.Ja) return i + insn.Imm + 1;
        return i + insn.Offset + 1;
    }

    /// <summary>Successors of instruction <paramref name="i"/> inside its function (calls fall through).</summary>
    public IEnumerable<int> Successors(int i)
    {
        var insn = _insns[i];
        if (insn.IsLoadImm64) { yield return i + 2; yield break; }
        if (!insn.IsJump) { yield return i + 1; yield break; }
        switch (insn.JumpOperation)
        {
            case JumpOperation.Exit: yield break;
            case JumpOperation.Call: yield return i + 1; yield break;
            case JumpOperation.Ja: yield return JumpTarget(i); yield break;
            default:
                yield return i + 1;
                yield return JumpTarget(i);
                yield break;
        }
    }

    private void Walk(bool allowLoops, bool[] isSecondSlot)
    {
        int n = _insns.Count;
        var state = new byte[n]; // 0 unseen, 1 on the DFS stack, 2 done
        PrunePoint = new bool[n];
        JumpPoint = new bool[n];
        CallsCallback = new bool[n];
        var stack = new Stack<(int Insn, IEnumerator<int> Next)>();
        // The exception callback is a root of its own: nothing calls it (check_cfg walks it after the main program).
        foreach (int entry in ExceptionCallbackStart > 0 ? [0, ExceptionCallbackStart] : new[] { 0 })
        {
            Push(entry);
            while (stack.Count > 0)
            {
                var (at, it) = stack.Peek();
                if (!it.MoveNext())
                {
                    state[at] = 2;
                    stack.Pop();
                    continue;
                }
                int t = it.Current;
                if (t >= n) throw new VerifierError(Errno.EINVAL, $"jump out of range from insn {at} to {t}", at);
                if (isSecondSlot[t]) throw new VerifierError(Errno.EINVAL, $"jump into the middle of ldimm64 insn {t - 1}", at);
                MarkPoints(at, t);
                if (state[t] == 1)
                {
                    if (!allowLoops) throw new VerifierError(Errno.EINVAL, $"back-edge from insn {at} to {t}", at);
                    PrunePoint[t] = true;
                }
                else if (state[t] == 0)
                {
                    Push(t);
                }
            }
        }
        // Function entries are reached through calls and callbacks.
        for (int s = 1; s < SubprogStarts.Count; s++)
        {
            if (state[SubprogStarts[s]] != 0) continue;
            Push(SubprogStarts[s]);
            while (stack.Count > 0)
            {
                var (at, it) = stack.Peek();
                if (!it.MoveNext()) { state[at] = 2; stack.Pop(); continue; }
                int t = it.Current;
                if (t >= n) throw new VerifierError(Errno.EINVAL, $"jump out of range from insn {at} to {t}", at);
                MarkPoints(at, t);
                if (state[t] == 1)
                {
                    if (!allowLoops) throw new VerifierError(Errno.EINVAL, $"back-edge from insn {at} to {t}", at);
                    PrunePoint[t] = true;
                }
                else if (state[t] == 0) Push(t);
            }
        }
        // Function entries are reached by a call edge (push_insn's BRANCH).
        foreach (int s in SubprogStarts) PrunePoint[s] = JumpPoint[s] = true;
        for (int i = 0; i < n; i++)
        {
            if (state[i] == 0 && !isSecondSlot[i])
                throw new VerifierError(Errno.EINVAL, $"unreachable insn {i}", i);
        }

        void Push(int insn)
        {
            state[insn] = 1;
            stack.Push((insn, Successors(insn).GetEnumerator()));
        }
    }

    /// <summary>The kernel's prune and jump points for the edge <paramref name="at"/> → <paramref name="t"/>: a
    /// conditional jump itself and every jump target; the instruction after any call. Fall-through of a
    /// conditional jump is not a prune point (the jump before it was).</summary>
    private void MarkPoints(int at, int t)
    {
        var insn = _insns[at];
        if (insn.IsJump && insn.JumpOperation is not (JumpOperation.Call or JumpOperation.Exit))
        {
            if (insn.JumpOperation != JumpOperation.Ja) PrunePoint[at] = true;
            if (t == JumpTarget(at)) PrunePoint[t] = JumpPoint[t] = true;
        }
        if (insn.IsCall) PrunePoint[at + 1] = JumpPoint[at + 1] = true;
        if (insn.IsCall && insn.Src == 0 && IsSyncCallbackHelper(insn.Imm)) CallsCallback[at] = PrunePoint[at] = JumpPoint[at] = true;
        if (insn.IsCall && insn.Src == 0 && insn.Imm == (int)Abi.Helpers.HelperId.TimerSetCallback) PrunePoint[at] = true;
        if (insn.IsCall && insn.Src == (byte)CallSource.Local) PrunePoint[at] = true;
    }

    /// <summary>is_sync_callback_calling_function: helpers that call their callback before they return.</summary>
    public static bool IsSyncCallbackHelper(int id) => (Abi.Helpers.HelperId)id is Abi.Helpers.HelperId.Loop
        or Abi.Helpers.HelperId.ForEachMapElem or Abi.Helpers.HelperId.FindVma or Abi.Helpers.HelperId.UserRingbufDrain;

    private void ComputeLiveness(bool[] isSecondSlot)
    {
        int n = _insns.Count;
        var use = new ushort[n];
        var def = new ushort[n];
        for (int i = 0; i < n; i++)
        {
            if (isSecondSlot[i]) continue;
            (use[i], def[i]) = UseDef(_insns[i]);
        }
        LiveIn = new ushort[n];
        var liveOut = new ushort[n];
        bool changed = true;
        while (changed)
        {
            changed = false;
            for (int i = n - 1; i >= 0; i--)
            {
                if (isSecondSlot[i]) continue;
                ushort outSet = 0;
                foreach (int s in Successors(i)) if (s < n) outSet |= LiveIn[s];
                ushort inSet = (ushort)(use[i] | (outSet & ~def[i]));
                if (inSet != LiveIn[i] || outSet != liveOut[i])
                {
                    LiveIn[i] = inSet;
                    liveOut[i] = outSet;
                    changed = true;
                }
            }
        }
    }

    private (ushort Use, ushort Def) UseDef(Instruction insn)
    {
        ushort R(int r) => (ushort)(1 << r);
        switch (insn.Class)
        {
            case InstructionClass.Alu:
            case InstructionClass.Alu64:
            {
                ushort u = insn.AluOperation == AluOperation.Mov ? (ushort)0 : R(insn.Dst);
                if (insn.Source == OperandSource.Register && insn.AluOperation is not (AluOperation.Neg or AluOperation.End)) u |= R(insn.Src);
                return (u, R(insn.Dst));
            }
            case InstructionClass.Ldx:
                return (R(insn.Src), R(insn.Dst));
            case InstructionClass.St:
                return (R(insn.Dst), 0);
            case InstructionClass.Stx:
                if (insn.AccessMode == AccessMode.Atomic)
                {
                    ushort u = (ushort)(R(insn.Dst) | R(insn.Src));
                    if (insn.Imm == AtomicOperation.Cmpxchg) return ((ushort)(u | R(0)), R(0));
                    return (u, (insn.Imm & AtomicOperation.Fetch) != 0 ? R(insn.Src) : (ushort)0);
                }
                return ((ushort)(R(insn.Dst) | R(insn.Src)), 0);
            case InstructionClass.Ld:
                if (insn.IsLoadImm64) return (0, R(insn.Dst));
                return ((ushort)(R(6) | (insn.AccessMode == AccessMode.Ind ? R(insn.Src) : 0)), 0x3f);
            default:
                if (insn.IsExit) return (R(0), 0);
                // A helper reads only its declared arguments (the kernel's compute_live_registers takes the count
                // from the prototype): registers past them are dead at the call unless read later, so states that
                // differ only there are equal for pruning. Subprogram and kfunc calls keep all five.
                if (insn.IsCall)
                    return (insn.Src == 0 && _helperArgs?.Invoke(insn.Imm) is { } args ? args : (ushort)0x3e, 0x3f);
                if (insn.JumpOperation == JumpOperation.Ja || insn.Opcode == OpcodeExtras.MayGoto) return (0, 0);
                return ((ushort)(R(insn.Dst) | (insn.Source == OperandSource.Register ? R(insn.Src) : 0)), 0);
        }
    }
}
