using System.Text;
using Ebpf.Isa;

namespace Ebpf.Verification;

/// <summary>
/// The verifier log in the kernel's format (program-types.md §5.2). Level 1 keeps only the trace of the
/// path being explored: finishing a path rewinds the log to where that path's branch was pushed, so a
/// failure shows the failing path and a success only the stats line. Level 2 keeps everything.
/// </summary>
internal sealed class VerifierLog
{
    /// <summary>
    /// One instruction as the log prints it: the kernel's <c>print_bpf_insn</c> text with helper names (a host
    /// helper's registered name when <paramref name="hostHelpers"/> has it), and maps in the map-reference form (the
    /// kernel prints the map's kernel address here, which this verifier does not have).
    /// </summary>
    public static string Disassemble(IReadOnlyList<Instruction> insns, int index, IReadOnlyDictionary<int, HostHelper>? hostHelpers = null) =>
        KernelDisassembler.Format(insns, index, call => call.Src != 0 ? null
            : hostHelpers?.GetValueOrDefault(call.Imm)?.Name ?? Abi.Helpers.HelperNames.KernelName(call.Imm),
            KernelDisassembler.MapLoadStyle.MapReference);

    /// <summary>The program's host helpers, for their names in instruction lines.</summary>
    public IReadOnlyDictionary<int, HostHelper>? HostHelpers { get; init; }

    private readonly StringBuilder _sb = new();
    /// <summary>
    /// The log rotates as the kernel's does by default (no BPF_LOG_FIXED): past <see cref="MaxChars"/> characters its
    /// oldest lines are dropped, so a level-2 trace of a million instructions keeps its last 16 MiB instead of growing
    /// to gigabytes. Positions (<see cref="Position"/>) count from the first character ever logged.
    /// </summary>
    internal const int MaxChars = 16 * 1024 * 1024;
    private long _dropped;
    private readonly int _level;
    private readonly HashSet<int> _scratchedRegs = [];
    private readonly HashSet<(int Frame, int Slot)> _scratchedSlots = [];
    private long _lineStart;
    /// <summary>End of the last instruction line and its length with the newline (env->prev_log_pos,
    /// prev_insn_print_pos): the state goes on that line only if nothing was logged after it.</summary>
    private long _prevLogPos = -1;
    private int _prevInsnLen;
    /// <summary>After a path switch or a call every register and slot of the frame is printed.</summary>
    private bool _allScratched;
    /// <summary>The instruction the path popped from the branch stack came from, until its first step is logged.</summary>
    private int? _pendingFrom;

    /// <summary>Unprivileged programs: every scalar is precise in the kernel, see <see cref="StateFormatter.Register"/>.</summary>
    private readonly bool _allPrecise;

    public VerifierLog(int level, bool unprivileged = false)
    {
        _level = level;
        _allPrecise = unprivileged;
    }

    private bool Trace => (_level & 3) != 0;
    /// <summary>Level 2: whole trace, precision backtracking lines. Callers test it before formatting a message.</summary>
    public bool Verbose => (_level & 2) != 0;

    /// <summary>A level-2 line (mark_precise and friends); <paramref name="text"/> includes its newline, if any.</summary>
    public void Verbose2(string text)
    {
        if (Verbose) _sb.Append(text);
    }

    public long Position => _dropped + _sb.Length;

    /// <summary>Drops the oldest whole lines once the log holds twice <see cref="MaxChars"/> (amortized: one copy per
    /// <see cref="MaxChars"/> characters logged).</summary>
    private void Rotate()
    {
        if (_sb.Length <= 2 * MaxChars) return;
        int cut = _sb.Length - MaxChars;
        while (cut < _sb.Length && _sb[cut - 1] != '\n') cut++;
        _sb.Remove(0, cut);
        _dropped += cut;
    }

    public void Level2Header(IReadOnlyList<Instruction> insns, ControlFlow cfg)
    {
        if (!Verbose) return;
        for (int s = 0; s < cfg.SubprogStarts.Count; s++) _sb.Append($"func#{s} @{cfg.SubprogStarts[s]}\n");
        _sb.Append("Live regs before insn:\n");
        for (int i = 0; i < insns.Count; i++)
        {
            if (i > 0 && insns[i - 1].IsLoadImm64) continue;
            var live = new char[10];
            for (int r = 0; r < 10; r++) live[r] = (cfg.LiveIn[i] & (1 << r)) != 0 ? (char)('0' + r) : '.';
            _sb.Append($"{i,7}: {new string(live)} {Disassemble(insns, i, HostHelpers)}\n");
        }
    }

    public void EntryState(int insn, VerifierState state)
    {
        if (!Trace) return;
        // A new verification (main program or a global function) starts with nothing left from the last path.
        _scratchedRegs.Clear();
        _scratchedSlots.Clear();
        _allScratched = false;
        _pendingFrom = null;
        _sb.Append($"{insn}: {StateFormatter.Frame(state.Current, state, _allPrecise)}\n");
    }

    /// <summary>
    /// The top of do_check's loop for instruction <paramref name="idx"/>: first what the previous step left to print
    /// (the "from" line after a path switch, then the registers it scratched), then the instruction line. Printing
    /// the previous instruction's state only here, after the pruning check, is what lets lines logged in between
    /// (mark_precise, propagation) come before it, as in the kernel.
    /// </summary>
    public void BeginInsn(IReadOnlyList<Instruction> insns, int idx, VerifierState state)
    {
        if (!Trace) return;
        if (_pendingFrom is { } from)
        {
            if (Verbose) _sb.Append($"\nfrom {from} to {idx}{SpeculativeMark(state.Speculative)}: {StateFormatter.Frame(state.Current, state, _allPrecise)}\n");
            _pendingFrom = null;
        }
        InsnState(idx, state);
        Rotate();
        _lineStart = Position;
        _sb.Append($"{idx}: {Disassemble(insns, idx, HostHelpers)}\n");
        _prevInsnLen = (int)(Position - _lineStart);
        _prevLogPos = Position;
    }

    public void Scratch(int reg)
    {
        if (Trace) _scratchedRegs.Add(reg);
    }

    public void ScratchSlot(int frame, int slot)
    {
        if (Trace) _scratchedSlots.Add((frame, slot));
    }

    /// <summary>print_insn_state: the scratched registers and slots, appended to the instruction line after padding
    /// (vlog_alignment) when nothing was logged since it, otherwise on a line of their own headed by
    /// <paramref name="idx"/>. The kernel calls it at the next instruction and for decided conditional jumps.</summary>
    public void InsnState(int idx, VerifierState state)
    {
        if (!Trace) return;
        var parts = new List<string>();
        var frame = state.Current;
        if (_allScratched)
        {
            string all = StateFormatter.Frame(frame, state, _allPrecise);
            if (all.Length > 0) parts.Add(all);
        }
        else
        {
            foreach (int r in _scratchedRegs.Order())
                if (frame.Registers[r].Type != RegisterType.NotInit) parts.Add($"R{r}={StateFormatter.Register(frame.Registers[r], _allPrecise, frame.FrameNo)}");
            // The kernel scratches slot numbers, not frames, and prints them from the current frame: a write through
            // a pointer to the caller's stack shows nothing unless the callee's own slot of that number is in use.
            foreach (int s in _scratchedSlots.Select(x => x.Slot).Distinct().Order())
                if (!frame.Stack[s].IsEmpty && !StateFormatter.IsSecondaryObjectSlot(frame.Stack[s])) parts.Add(StateFormatter.Slot(s, frame.Stack[s], _allPrecise, frame.FrameNo));
            if (parts.Count > 0 && frame.FrameNo > 0) parts.Insert(0, $"frame{frame.FrameNo}:");
            if (parts.Count > 0 && StateFormatter.CallbackMark(frame) is { } mark) parts.Add(mark);
        }
        _scratchedRegs.Clear();
        _scratchedSlots.Clear();
        _allScratched = false;
        if (parts.Count == 0) return;
        if (_prevLogPos == Position && _sb.Length > 0)
        {
            _sb.Length--;
            int pad = RoundUp(Math.Max(_prevInsnLen + 4, 40), 8) - _prevInsnLen - 1;
            _sb.Append(' ', pad).Append(';');
        }
        else
        {
            _sb.Append(idx).Append(':');
        }
        foreach (var p in parts) _sb.Append(' ').Append(p);
        _sb.Append('\n');
    }

    private static int RoundUp(int v, int m) => (v + m - 1) / m * m;

    /// <summary>The "from" lines' mark of a path explored under misprediction (do_check's speculative state).</summary>
    private static string SpeculativeMark(bool speculative) => speculative ? " (speculative execution)" : "";

    /// <summary>The path was cut at <paramref name="insn"/> by an equivalent explored state.</summary>
    public void Pruned(int insn, bool speculative = false)
    {
        if (!Trace) return;
        if (_pendingFrom is { } from) _sb.Append($"\nfrom {from} to {insn}{SpeculativeMark(speculative)}: safe\n");
        else _sb.Append($"{insn}: safe\n");
        _pendingFrom = null;
    }

    /// <summary>pop_stack: at level 1 the finished path's trace is dropped (back to where this branch was pushed);
    /// the "from" line (level 2) and the whole state follow at the branch's first instruction.</summary>
    public void SwitchedPath(long logPos, int prev)
    {
        if (!Trace) return;
        // bpf_vlog_reset: back to the push's position, or to empty when that part has rotated out.
        if (!Verbose && logPos <= Position) _sb.Length = (int)Math.Max(0, logPos - _dropped);
        _pendingFrom = prev;
        _scratchedRegs.Clear();
        _scratchedSlots.Clear();
        _allScratched = true;
    }

    public void CallerCallee(FrameState caller, FrameState callee)
    {
        if (!Trace) return;
        _sb.Append($"caller:\n {StateFormatter.Frame(caller, null, _allPrecise)}\ncallee:\n {StateFormatter.Frame(callee, null, _allPrecise)}\n");
        _allScratched = true;
    }

    /// <summary>prepare_func_exit: both frames as the callee returns; the caller then resumes like a popped path
    /// (a "from" line at level 2) but with nothing scratched.</summary>
    public void ReturnFromCallee(int exitIdx, int returnIdx, FrameState callee, VerifierState caller)
    {
        if (!Trace) return;
        _sb.Append($"returning from callee:\n {StateFormatter.Frame(callee, null, _allPrecise)}\nto caller at {returnIdx}:\n {StateFormatter.Frame(caller.Current, caller, _allPrecise)}\n");
        _pendingFrom = exitIdx;
        _scratchedRegs.Clear();
        _scratchedSlots.Clear();
        _allScratched = false;
    }

    /// <summary>A line of its own at log level 1 and up (between paths, e.g. "Validating f() func#1...").</summary>
    public void Note(string message)
    {
        if (!Trace) return;
        if (_sb.Length > 0 && _sb[^1] != '\n') _sb.Append('\n');
        _sb.Append(message).Append('\n');
    }

    public void Error(string message)
    {
        if (_level == 0) return;
        if (_sb.Length > 0 && _sb[^1] != '\n') _sb.Append('\n');
        _sb.Append(message).Append('\n');
    }

    public void Stats(int processed, int maxStatesPerInsn, int totalStates, int peakStates, IEnumerable<int> stackDepths)
    {
        if (_level == 0) return;
        if (!Verbose && (_level & 1) != 0 && !_failed) _sb.Clear();
        if ((_level & 4) != 0)
        {
            _sb.Append("stack depth ").Append(string.Join("+", stackDepths)).Append('\n');
        }
        _sb.Append($"processed {processed} insns (limit {Verifier.ComplexityLimit}) max_states_per_insn {maxStatesPerInsn} total_states {totalStates} peak_states {peakStates} mark_read 0\n");
    }

    private bool _failed;

    public void MarkFailed() => _failed = true;

    public override string ToString() => _sb.ToString();
}
