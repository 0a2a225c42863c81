using System.Diagnostics;
using Ebpf.Abi;
using Ebpf.Abi.Contexts;
using Ebpf.Abi.Helpers;
using Ebpf.Isa;

namespace Ebpf.Verification;

/// <summary>
/// The abstract interpreter (the kernel's <c>do_check</c> and friends). One instance verifies one program:
/// it explores every path depth-first, pushing the other side of each undecided branch, and prunes a
/// path when its state at a pruning point is covered by a state already explored from there.
/// </summary>
internal sealed partial class VerifierEngine
{
    private readonly VerifierInput _input;
    private readonly IReadOnlyList<Instruction> _insns;
    private readonly ControlFlow _cfg;
    private readonly VerifierLog _log;
    private readonly ContextLayout? _ctx;
    private readonly bool _privileged;
    private readonly Stack<(VerifierState State, int Insn, int Prev, int LogPos)> _pending = new();
    /// <summary>Stored states per instruction (the kernel's explored_states), indexed by instruction.</summary>
    private readonly List<Checkpoint>?[] _explored;
    private readonly Dictionary<int, int> _stackDepth = [];
    private readonly Dictionary<int, ContextAccessSite> _ctxAccesses = [];
    private readonly Dictionary<int, ResolvedCall> _calls = [];
    private readonly Dictionary<int, VerifierFunction> _functions = [];
    private readonly List<(int Caller, int Callee)> _callEdges = [];
    private int _idGen;
    private int _frameSerial;
    private int _processed;
    private int _totalStates;
    private int _maxStatesPerInsn;
    private int _insnIdx;
    private bool _changesPacketData;
    private bool _writesPacket;
    private VerifierState _cur = null!;

    public VerifierEngine(VerifierInput input)
    {
        _input = input;
        _insns = input.Instructions;
        _cfg = new ControlFlow(_insns, HelperArgRegisters);
        _explored = new List<Checkpoint>?[_insns.Count];
        _log = new VerifierLog(input.LogLevel, unprivileged: input.Privilege == HelperPrivilege.Unprivileged);
        _ctx = input.ContextLayout ?? ContextLayouts.For(input.ProgramType, input.ExpectedAttachType);
        _privileged = input.Privilege != HelperPrivilege.Unprivileged;
        if (input.Functions is not null)
            foreach (var f in input.Functions) _functions[f.StartInstruction] = f;
    }

    public VerificationResult Run()
    {
        var sw = Stopwatch.StartNew();
        try
        {
            if (_input.ProgramType == ProgramType.Syscall && !_input.Sleepable)
                throw new VerifierError(Errno.EINVAL, "Syscall programs can only be sleepable", 0);
            _cfg.Check(allowLoops: _privileged, CheckPseudoBtfIds);
            _log.Level2Header(_insns, _cfg);
            VerifyFrom(0, _input.EntryFunction);
            VerifyCalledGlobals();
            CheckCombinedStack();
            _log.Stats(this);
            return new VerificationResult
            {
                Errno = 0,
                Log = _log.ToString(),
                ProcessedInstructions = _processed,
                MaxStatesPerInstruction = _maxStatesPerInsn,
                TotalStates = _totalStates,
                PeakStates = _peakStates,
                Elapsed = sw.Elapsed,
                Program = BuildProgram(),
            };
        }
        catch (VerifierError e)
        {
            _log.MarkFailed();
            _log.Error(e.Message);
            string? state = _cur is null ? null : StateFormatter.Frame(_cur.Current, _cur);
            _log.Stats(this);
            return new VerificationResult
            {
                Errno = e.Errno,
                Error = e.Message,
                ErrorInstruction = e.Insn,
                ErrorState = state,
                Log = _log.ToString(),
                ProcessedInstructions = _processed,
                MaxStatesPerInstruction = _maxStatesPerInsn,
                TotalStates = _totalStates,
                PeakStates = _peakStates,
                Elapsed = sw.Elapsed,
            };
        }
    }

    public int Processed => _processed;
    public int MaxStatesPerInsn => _maxStatesPerInsn;
    public int TotalStates => _totalStates;
    public int PeakStates => _peakStates;
    public IEnumerable<int> StackDepths => _cfg.SubprogStarts.Select(s => _stackDepth.GetValueOrDefault(s));

    private VerifiedProgram BuildProgram()
    {
        var xlated = Translate();
        var moved = xlated.NewIndex;
        var functions = new List<VerifiedFunction>();
        for (int s = 0; s < _cfg.SubprogStarts.Count; s++)
        {
            int start = _cfg.SubprogStarts[s];
            var info = _functions.GetValueOrDefault(start);
            // adjust_subprog_starts_after_remove: a function whose every instruction was dead is gone.
            if (moved[start] == moved[_cfg.SubprogEnd(s)] && s > 0) continue;
            functions.Add(new VerifiedFunction(moved[start], moved[_cfg.SubprogEnd(s)], _stackDepth.GetValueOrDefault(start), info?.IsGlobal ?? false, info?.Name ?? (start == 0 ? _input.Name : $"func#{s}")));
        }
        return new VerifiedProgram
        {
            Instructions = xlated.Instructions,
            VerifiedInstructions = _insns,
            SourceIndex = xlated.SourceIndex,
            NewIndex = moved,
            ProgramType = _input.ProgramType,
            Functions = functions,
            Calls = [.. _calls.Values.Where(c => xlated.Survives(c.InstructionIndex)).OrderBy(c => c.InstructionIndex)
                .Select(c => c with { InstructionIndex = moved[c.InstructionIndex] })],
            ContextAccesses = [.. _ctxAccesses.Values.Where(c => xlated.Survives(c.InstructionIndex)).OrderBy(c => c.InstructionIndex)
                .Select(c => c with { InstructionIndex = moved[c.InstructionIndex] })],
            ChangesPacketData = _changesPacketData,
            WritesPacket = _writesPacket,
            ReadsKernelPointers = _readsKernelPointers,
        };
    }

    private VerifierError Fail(string message, Errno errno = Errno.EACCES) => new(errno, message, _insnIdx);

    // ---- entry states ----

    private VerifierState EntryState(int start, VerifierFunction? global)
    {
        var state = new VerifierState();
        var frame = new FrameState { FunctionStart = start, Serial = ++_frameSerial };
        state.Frames.Add(frame);
        frame.Registers[10] = RegisterState.Pointer(RegisterType.Stack);
        if (global is null)
        {
            frame.Registers[1] = RegisterState.Pointer(RegisterType.Ctx);
            return state;
        }
        for (int i = 0; i < global.Arguments.Count && i < 5; i++)
            frame.Registers[i + 1] = GlobalArgumentRegister(global.Arguments[i]);
        return state;
    }

    // ---- the main loop ----

    private void VerifyFrom(int start, VerifierFunction? global)
    {
        _cur = EntryState(start, global);
        _insnIdx = start;
        int prev = -1;
        _log.EntryState(start, _cur);
        while (true)
        {
            if (_insnIdx < 0 || _insnIdx >= _insns.Count)
                throw Fail($"invalid insn idx {_insnIdx} insn_cnt {_insns.Count}", Errno.EFAULT);
            if ((_processed & 4095) == 0) _input.Cancellation.ThrowIfCancellationRequested();
            if (++_processed > _input.InstructionLimit)
                throw Fail($"BPF program is too large. Processed {_processed} insn", Errno.E2BIG);

            bool pathDone = false;
            if (_cfg.PrunePoint[_insnIdx] && IsStateVisited(_insnIdx))
            {
                _log.Pruned(_insnIdx);
                pathDone = true;
            }
            else
            {
                var insn = _insns[_insnIdx];
                PushHistory(_insnIdx);
                MarkSeen(_insnIdx);
                if (_cfg.JumpPoint[_insnIdx]) _cur.JumpHistory++;
                if (insn.Class is InstructionClass.Jmp or InstructionClass.Jmp32) _jmpsProcessed++;
                _log.BeginInsn(_insns, _insnIdx, _cur);
                int at = _insnIdx;
                var flow = Step(insn);
                if (flow == Flow.PathDone) pathDone = true;
                prev = at;
            }

            if (!pathDone) continue;
            UpdateBranchCounts(_cur.Parent);
            if (_pending.Count == 0) return;
            var next = _pending.Pop();
            _cur = next.State;
            prev = next.Prev;
            _insnIdx = next.Insn;
            _log.SwitchedPath(next.LogPos, prev);
        }
    }

    private enum Flow { Continue, PathDone }

    /// <summary>Pushes the other side of a branch (the kernel's <c>push_stack</c>).</summary>
    private void PushBranch(VerifierState state, int insn, int prev)
    {
        if (state.Parent is not null) state.Parent.Branches++;
        _pending.Push((state, insn, prev, _log.Position));
        if (_pending.Count > 8192)
            throw Fail($"The sequence of {_pending.Count} jumps is too complex.", Errno.E2BIG);
    }

    private static void UpdateBranchCounts(Checkpoint? cp)
    {
        while (cp is not null)
        {
            cp.Branches--;
            if (cp.Branches > 0) break;
            cp = cp.Parent;
        }
    }

    private Flow Step(Instruction insn)
    {
        switch (insn.Class)
        {
            case InstructionClass.Alu:
            case InstructionClass.Alu64:
                CheckAlu(insn);
                _insnIdx++;
                return Flow.Continue;
            case InstructionClass.Ldx:
                CheckLoad(insn);
                _insnIdx++;
                return Flow.Continue;
            case InstructionClass.St:
            case InstructionClass.Stx:
                if (insn.AccessMode == AccessMode.Atomic) CheckAtomic(insn);
                else CheckStore(insn);
                _insnIdx++;
                return Flow.Continue;
            case InstructionClass.Ld:
                if (insn.IsLoadImm64)
                {
                    CheckLoadImm64(insn);
                    _insnIdx += 2;
                    return Flow.Continue;
                }
                CheckLdAbs(insn);
                _insnIdx++;
                return Flow.Continue;
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
                if (insn.Src == (byte)CallSource.Local) { CheckLocalCall(insn); return Flow.Continue; }
                if (insn.Src == (byte)CallSource.Kfunc) { CheckKfuncCall(insn); _insnIdx++; return Flow.Continue; }
                if (insn.Dst != 0 || insn.Offset != 0 || insn.Src != 0) throw Fail("BPF_CALL uses reserved fields", Errno.EINVAL);
                // A callback-taking helper moves to the callback's first instruction itself.
                if (!CheckHelperCall(insn)) _insnIdx++;
                return Flow.Continue;
            case JumpOperation.Exit:
                // The kernel does not look at exit's offset field.
                if (insn.Opcode != Opcodes.Exit || insn.Dst != 0 || insn.Src != 0 || insn.Imm != 0)
                    throw Fail("BPF_EXIT uses reserved fields", Errno.EINVAL);
                return CheckExit();
            case JumpOperation.Ja:
                // goto (JMP) takes its target in off and must leave imm zero; gotol (JMP32) the other way round.
                if (insn.Source != OperandSource.Immediate || insn.Dst != 0 || insn.Src != 0 || (insn.Class == InstructionClass.Jmp && insn.Imm != 0)
                    || (insn.Class == InstructionClass.Jmp32 && insn.Offset != 0))
                    throw Fail("BPF_JA uses reserved fields", Errno.EINVAL);
                _insnIdx = _cfg.JumpTarget(_insnIdx);
                return Flow.Continue;
            default:
                CheckConditionalJump(insn);
                return Flow.Continue;
        }
    }

    // ---- register helpers ----

    private ref RegisterState Reg(int r) => ref _cur.Current.Registers[r];

    private void CheckRegisterNumber(int r)
    {
        if (r > 10) throw Fail($"R{r} is invalid", Errno.EINVAL);
    }

    /// <summary>check_reg_arg(SRC_OP): the register must be initialised.</summary>
    private ref RegisterState ReadReg(int r)
    {
        CheckRegisterNumber(r);
        ref var reg = ref Reg(r);
        if (reg.Type == RegisterType.NotInit) throw Fail($"R{r} !read_ok");
        _log.Scratch(r);
        return ref reg;
    }

    /// <summary>check_reg_arg(DST_OP): R10 is read-only.</summary>
    private void CheckWritable(int r)
    {
        CheckRegisterNumber(r);
        if (r == 10) throw Fail("frame pointer is read only");
        _log.Scratch(r);
    }

    private void SetReg(int r, in RegisterState value)
    {
        Reg(r) = value;
        _log.Scratch(r);
    }

    private int NewId() => ++_idGen;
}
