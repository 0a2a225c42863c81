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
    private readonly StringBuilder _sb = new();
    private readonly int _level;
    private readonly HashSet<int> _scratchedRegs = [];
    private readonly HashSet<(int Frame, int Slot)> _scratchedSlots = [];
    private int _lineStart;

    public VerifierLog(int level) => _level = level;

    private bool Trace => (_level & 3) != 0;
    private bool Verbose => (_level & 2) != 0;

    public int Position => _sb.Length;

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
            _sb.Append($"{i,7}: {new string(live)} ({insns[i].Opcode:x2}) {KernelDisassembler.Format(insns, i)}\n");
        }
    }

    public void EntryState(int insn, VerifierState state)
    {
        if (!Trace) return;
        _sb.Append($"{insn}: {StateFormatter.Frame(state.Current, state)}\n");
    }

    public void BeginInsn(IReadOnlyList<Instruction> insns, int idx)
    {
        if (!Trace) return;
        _scratchedRegs.Clear();
        _scratchedSlots.Clear();
        _lineStart = _sb.Length;
        _sb.Append($"{idx}: ({insns[idx].Opcode:x2}) {KernelDisassembler.Format(insns, idx)}");
    }

    public void Scratch(int reg)
    {
        if (Trace) _scratchedRegs.Add(reg);
    }

    public void ScratchSlot(int frame, int slot)
    {
        if (Trace) _scratchedSlots.Add((frame, slot));
    }

    /// <summary>Ends the instruction line with the scratched registers after padding (vlog_alignment).</summary>
    public void EndInsn(VerifierState state)
    {
        if (!Trace) return;
        var parts = new List<string>();
        var frame = state.Current;
        foreach (int r in _scratchedRegs.Order())
            if (frame.Registers[r].Type != RegisterType.NotInit) parts.Add($"R{r}={StateFormatter.Register(frame.Registers[r])}");
        foreach (var (f, s) in _scratchedSlots.OrderBy(x => x.Slot))
            if (f < state.Frames.Count && !state.Frames[f].Stack[s].IsEmpty) parts.Add(StateFormatter.Slot(s, state.Frames[f].Stack[s]));
        if (parts.Count > 0)
        {
            int len = _sb.Length - _lineStart + 1;
            int pad = RoundUp(Math.Max(len + 4, 40), 8) - len - 1;
            _sb.Append(' ', pad).Append("; ").Append(string.Join(" ", parts));
        }
        _sb.Append('\n');
    }

    private static int RoundUp(int v, int m) => (v + m - 1) / m * m;

    public void Pruned(int prev, int insn)
    {
        if (!Verbose) return;
        _sb.Append(prev >= 0 ? $"from {prev} to {insn}: safe\n" : $"{insn}: safe\n");
    }

    public void SwitchedPath(int logPos, int prev, int insn, VerifierState state)
    {
        if (!Trace) return;
        if (!Verbose && logPos <= _sb.Length) _sb.Length = logPos;
        string st = StateFormatter.Frame(state.Current, state);
        _sb.Append($"from {prev} to {insn}: {st}\n");
    }

    public void CallerCallee(FrameState caller, FrameState callee)
    {
        if (!Trace) return;
        _sb.Append($"caller:\n {StateFormatter.Frame(caller)}\ncallee:\n {StateFormatter.Frame(callee)}\n");
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

    public void Stats(VerifierEngine engine)
    {
        if (_level == 0) return;
        if (!Verbose && (_level & 1) != 0 && !_failed) _sb.Clear();
        if ((_level & 4) != 0)
        {
            _sb.Append("stack depth ").Append(string.Join("+", engine.StackDepths)).Append('\n');
        }
        _sb.Append($"processed {engine.Processed} insns (limit 1000000) max_states_per_insn {engine.MaxStatesPerInsn} total_states {engine.TotalStates} peak_states {engine.PeakStates} mark_read 0\n");
    }

    private bool _failed;

    public void MarkFailed() => _failed = true;

    public override string ToString() => _sb.ToString();
}
