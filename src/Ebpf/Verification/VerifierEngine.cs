using System.Diagnostics;
using Ebpf.Abi;
using Ebpf.Abi.Helpers;
using Ebpf.Isa;

namespace Ebpf.Verification;

/// <summary>
/// The abstract interpreter (the kernel's <c>do_check</c> and friends). One instance verifies one program:
/// it explores every path depth-first, pushing the other side of each undecided branch, and prunes a
/// path when its state at a pruning point is covered by a state already explored from there.
/// </summary>
internal sealed class VerifierEngine : VerifierComponent
{
    private readonly Stack<(VerifierState State, int Insn, int Prev, long LogPos)> _pending = new();

    public VerifierEngine(VerifierInput input) : base(new VerifierContext(input))
    {
        Walk.Engine = this;
    }

    /// <summary>The context shared with the collaborators, so a test can drive one of them on a state it builds.</summary>
    internal VerifierContext Shared => Walk;

    public VerificationResult Run()
    {
        var sw = Stopwatch.StartNew();
        try
        {
            if (Input.ProgramType == ProgramType.Syscall && !Input.Sleepable)
                throw new VerifierError(Errno.EINVAL, "Syscall programs can only be sleepable", 0);
            if (InstructionFeatures.Check(Insns, Input.Profile) is { } missing) throw missing;
            Kfuncs.CheckDevBoundKfuncs();
            Exceptions.Resolve();
            Cfg.Check(allowLoops: Privileged, () => { Kfuncs.CheckPseudoBtfIds(); MapProgramCompatibility.Check(Input, Insns); }, () => SubprogReturnTypes.Check(Input, Cfg, Insns));
            Walk.Iterators.FindNextCalls();
            Log.Level2Header(Insns, Cfg);
            // check_struct_ops_btf_id: a struct_ops program is verified as the member of the struct_ops type its
            // attach_btf_id names (Attach/StructOpsCheck); the license comes first, as in the kernel.
            if (Input.ProgramType == ProgramType.StructOps)
            {
                if (!Input.GplCompatible)
                    throw new VerifierError(Errno.EINVAL, "struct ops programs must have a GPL compatible license", 0);
                if (Walk.StructOps!.Error is { } refused)
                    throw refused;
            }
            VerifyFrom(0, Input.EntryFunction); // an extension: its prototype, not R1 = ctx (§2.8)
            Globals.VerifyCalledGlobals();
            Exceptions.VerifyCallback();
            Subprograms.CheckCombinedStack();
            Exceptions.CheckCallbacksDoNotThrow();
            Helpers.CheckTailCallMaps();
            LogStats();
            return new VerificationResult
            {
                Errno = 0,
                Log = Log.ToString(),
                ProcessedInstructions = Processed,
                MaxStatesPerInstruction = Pruning.MaxStatesPerInsn,
                TotalStates = Pruning.TotalStates,
                PeakStates = Pruning.PeakStates,
                Elapsed = sw.Elapsed,
                Program = BuildProgram(),
            };
        }
        catch (VerifierError e)
        {
            Log.MarkFailed();
            Log.Error(e.Message);
            string? state = Cur is null ? null : StateFormatter.Frame(Cur.Current, Cur);
            LogStats();
            return new VerificationResult
            {
                Errno = e.Errno,
                Error = e.Message,
                ErrorInstruction = e.Insn,
                ErrorState = state,
                Log = Log.ToString(),
                ProcessedInstructions = Processed,
                MaxStatesPerInstruction = Pruning.MaxStatesPerInsn,
                TotalStates = Pruning.TotalStates,
                PeakStates = Pruning.PeakStates,
                Elapsed = sw.Elapsed,
            };
        }
    }

    private void LogStats() =>
        Log.Stats(Processed, Pruning.MaxStatesPerInsn, Pruning.TotalStates, Pruning.PeakStates,
            Cfg.SubprogStarts.Select(s => StackDepth.GetValueOrDefault(s)));

    private VerifiedProgram BuildProgram()
    {
        var xlated = Aux.Translate();
        var moved = xlated.NewIndex;
        var functions = new List<VerifiedFunction>();
        for (int s = 0; s < Cfg.SubprogStarts.Count; s++)
        {
            int start = Cfg.SubprogStarts[s];
            var info = Functions.GetValueOrDefault(start);
            // adjust_subprog_starts_after_remove: a function whose every instruction was dead is gone.
            if (moved[start] == moved[Cfg.SubprogEnd(s)] && s > 0) continue;
            functions.Add(new VerifiedFunction(moved[start], moved[Cfg.SubprogEnd(s)], StackDepth.GetValueOrDefault(start), info?.IsGlobal ?? false, info?.Name ?? (start == 0 ? Input.Name : $"func#{s}")));
        }
        return new VerifiedProgram
        {
            Instructions = xlated.Instructions,
            VerifiedInstructions = Insns,
            SourceIndex = xlated.SourceIndex,
            NewIndex = moved,
            ProgramType = Input.ProgramType,
            Functions = functions,
            Calls = [.. ResolvedCalls.Values.Where(c => xlated.Survives(c.InstructionIndex)).OrderBy(c => c.InstructionIndex)
                .Select(c => c with { InstructionIndex = moved[c.InstructionIndex] })],
            ContextAccesses = [.. ContextAccesses.Values.Where(c => xlated.Survives(c.InstructionIndex)).OrderBy(c => c.InstructionIndex)
                .Select(c => c with { InstructionIndex = moved[c.InstructionIndex] })],
            ChangesPacketData = ChangesPacketData,
            WritesPacket = WritesPacket,
            MaxReadOnlyBufferAccess = Walk.MaxReadOnlyBufferAccess,
            MaxReadWriteBufferAccess = Walk.MaxReadWriteBufferAccess,
            ReadsKernelPointers = ReadsKernelPointers,
            ProbeLoads = Walk.ProbeLoads.Where(xlated.Survives).Select(i => moved[i]).ToHashSet(),
            SpeculationBarriers = [.. Speculation.NospecInstructions],
            SpeculationBarriersAfter = [.. Speculation.NospecResultInstructions],
        };
    }

    // ---- entry states ----

    private VerifierState EntryState(int start, VerifierFunction? global)
    {
        var state = new VerifierState();
        var frame = new FrameState { FunctionStart = start, Serial = ++FrameSerial };
        state.Frames.Add(frame);
        frame.Registers[10] = RegisterState.Pointer(RegisterType.Stack);
        if (global is null)
        {
            frame.Registers[1] = RegisterState.Pointer(RegisterType.Ctx);
            return state;
        }
        for (int i = 0; i < global.Arguments.Count && i < 5; i++)
            frame.Registers[i + 1] = Globals.GlobalArgumentRegister(global.Arguments[i]);
        return state;
    }

    // ---- the main loop ----

    /// <summary>The instruction processed last on the current path (the kernel's log shows it last before a message
    /// raised on arriving at the next one, such as an infinite loop found by pruning).</summary>
    internal int PreviousInsn { get; private set; } = -1;

    internal void VerifyFrom(int start, VerifierFunction? global)
    {
        Cur = EntryState(start, global);
        InsnIdx = start;
        int prev = -1;
        PreviousInsn = -1;
        Log.EntryState(start, Cur);
        while (true)
        {
            if (InsnIdx < 0 || InsnIdx >= Insns.Count)
                throw Fail($"invalid insn idx {InsnIdx} insn_cnt {Insns.Count}", Errno.EFAULT);
            if ((Processed & 4095) == 0) Input.Cancellation.ThrowIfCancellationRequested();
            if (++Processed > Input.InstructionLimit)
                throw Fail($"BPF program is too large. Processed {Processed} insn", Errno.E2BIG);

            bool pathDone = false;
            if (Cfg.PrunePoint[InsnIdx] && Pruning.IsStateVisited(InsnIdx))
            {
                Log.Pruned(InsnIdx, Cur.Speculative);
                pathDone = true;
            }
            else
            {
                var insn = Insns[InsnIdx];
                Precision.PushHistory(InsnIdx);
                // sanitize_mark_insn_seen: a speculative path keeps nothing alive (its code stays dead code).
                if (!Cur.Speculative) Aux.MarkSeen(InsnIdx);
                if (Cfg.JumpPoint[InsnIdx]) Cur.JumpHistory++;
                if (insn.Class is InstructionClass.Jmp or InstructionClass.Jmp32) JumpsProcessed++;
                Log.BeginInsn(Insns, InsnIdx, Cur);
                int at = InsnIdx;
                pathDone = Cur.Speculative ? SpeculativeStep(insn) : Step(insn) == Flow.PathDone;
                prev = at;
                PreviousInsn = at;
            }

            if (!pathDone) continue;
            StatePruning.UpdateBranchCounts(Cur.Parent);
            if (_pending.Count == 0) return;
            var next = _pending.Pop();
            Cur = next.State;
            prev = next.Prev;
            InsnIdx = next.Insn;
            Log.SwitchedPath(next.LogPos, prev);
        }
    }

    /// <summary>
    /// One instruction of a speculative path (do_check with state->speculative): the path ends at a barrier already
    /// placed before the instruction, at an error a barrier can prevent (which places one, see
    /// <see cref="SpeculativePaths"/>), or after a store whose result gets a barrier. The error stays in the log.
    /// </summary>
    private bool SpeculativeStep(Instruction insn)
    {
        int at = InsnIdx;
        if (Speculation.HasNospec(at)) return true;
        try
        {
            if (Step(insn) == Flow.PathDone) return true;
        }
        catch (VerifierError e) when (SpeculativePaths.Recoverable(e.Errno))
        {
            Log.Error(e.Message);
            StackMem.StoreFromImmediate = StackMem.StoreInsn = false;
            Speculation.MarkNospec(at);
            return true;
        }
        return Speculation.HasNospecResult(at);
    }

    /// <summary>Pushes the other side of a branch (the kernel's <c>push_stack</c>); a speculative state's branches are
    /// speculative too.</summary>
    internal void PushBranch(VerifierState state, int insn, int prev, bool speculative = false)
    {
        state.Speculative |= speculative;
        if (state.Parent is not null) state.Parent.Branches++;
        _pending.Push((state, insn, prev, Log.Position));
        if (_pending.Count > 8192)
            throw Fail($"The sequence of {_pending.Count} jumps is too complex.", Errno.E2BIG);
    }

    private Flow Step(Instruction insn)
    {
        switch (insn.Class)
        {
            case InstructionClass.Alu:
            case InstructionClass.Alu64:
                Alu.CheckAlu(insn);
                InsnIdx++;
                return Flow.Continue;
            case InstructionClass.Ldx:
                Memory.CheckLoad(insn);
                InsnIdx++;
                return Flow.Continue;
            case InstructionClass.St:
            case InstructionClass.Stx:
                if (insn.AccessMode == AccessMode.Atomic) Memory.CheckAtomic(insn);
                else Memory.CheckStore(insn);
                InsnIdx++;
                return Flow.Continue;
            case InstructionClass.Ld:
                if (insn.IsLoadImm64)
                {
                    Memory.CheckLoadImm64(insn);
                    InsnIdx += 2;
                    return Flow.Continue;
                }
                Memory.CheckLdAbs(insn);
                InsnIdx++;
                return Cur.Frames.Count > 1 ? Subprograms.LdAbsFailureExit() : Flow.Continue;
            default:
                return StepJump(insn);
        }
    }

    private Flow StepJump(Instruction insn)
    {
        switch (insn.JumpOperation)
        {
            case JumpOperation.Call:
                if (insn.Opcode != Opcodes.Call)
                    throw Fail($"unknown opcode {insn.Opcode:x2}", Errno.EINVAL);
                if (insn.Src == (byte)CallSource.Local) { Subprograms.CheckLocalCall(insn); return Flow.Continue; }
                if (insn.Src == (byte)CallSource.Kfunc)
                {
                    Kfuncs.CheckKfuncCall(insn);
                    if (Exceptions.Threw) { Exceptions.Threw = false; return Flow.PathDone; } // an exception exit
                    InsnIdx++;
                    return Flow.Continue;
                }
                if (insn.Dst != 0 || insn.Offset != 0 || insn.Src != 0) throw Fail("BPF_CALL uses reserved fields", Errno.EINVAL);
                // A callback-taking helper moves to the callback's first instruction itself.
                if (!Helpers.CheckHelperCall(insn)) InsnIdx++;
                if (insn.Imm == (int)HelperId.TailCall && Cur.Frames.Count > 1) return Subprograms.TailCallFromSubprogram(InsnIdx - 1);
                return Flow.Continue;
            case JumpOperation.Exit:
                // The kernel does not look at exit's offset field.
                if (insn.Opcode != Opcodes.Exit || insn.Dst != 0 || insn.Src != 0 || insn.Imm != 0)
                    throw Fail("BPF_EXIT uses reserved fields", Errno.EINVAL);
                return Subprograms.CheckExit();
            case JumpOperation.Ja:
                // goto (JMP) takes its target in off and must leave imm zero; gotol (JMP32) the other way round.
                if (insn.Source != OperandSource.Immediate || insn.Dst != 0 || insn.Src != 0 || (insn.Class == InstructionClass.Jmp && insn.Imm != 0)
                    || (insn.Class == InstructionClass.Jmp32 && insn.Offset != 0))
                    throw Fail("BPF_JA uses reserved fields", Errno.EINVAL);
                InsnIdx = Cfg.JumpTarget(InsnIdx);
                return Flow.Continue;
            default:
                Branches.CheckConditionalJump(insn);
                return Flow.Continue;
        }
    }
}

/// <summary>Whether the walk continues on the current path after an instruction, or the path has ended.</summary>
internal enum Flow { Continue, PathDone }
