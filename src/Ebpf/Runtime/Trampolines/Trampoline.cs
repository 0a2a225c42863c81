using Ebpf.Execution;
using Ebpf.Runtime.Memory;
using Ebpf.Runtime.Objects;
using Ebpf.Verification.Attach;

namespace Ebpf.Runtime.Trampolines;

/// <summary>
/// One trampoline (kernel-semantics.md §2.4): the programs attached to one function of one target program — a list
/// per kind (fentry, fexit, fmod_ret) and the single extension slot — and the <see cref="FunctionSlot"/> of that
/// function, which it points at whatever those programs make of a call. Linking follows
/// __bpf_trampoline_link_prog (EBUSY/E2BIG rules); every change is published with one store into the slot, and an
/// unlink returns only after an epoch grace period, so no call can enter the unlinked program afterwards.
/// </summary>
internal sealed class Trampoline
{
    /// <summary>BPF_MAX_TRAMP_LINKS (x86-64).</summary>
    public const int MaxLinks = 38;

    private readonly TrampolineTable _table;
    private readonly Lock _lock = new();
    private readonly List<TracingAttachment>[] _lists = [[], [], []];
    private TracingAttachment? _extension;

    internal Trampoline(TrampolineTable table, TrampolineKey key, ProgramObject target, FunctionSlot slot, AttachPoint point)
    {
        _table = table;
        Key = key;
        Target = target;
        Slot = slot;
        Point = point;
    }

    public TrampolineKey Key { get; }

    /// <summary>The target program (kept alive by the trampoline's holders, not by the trampoline).</summary>
    public ProgramObject Target { get; }

    public FunctionSlot Slot { get; }
    public AttachPoint Point { get; }

    /// <summary>Guarded by the table's lock.</summary>
    internal int References { get; set; }

    /// <summary>The extension now replacing the function, if any.</summary>
    public ProgramObject? Extension { get { lock (_lock) return _extension?.Program; } }

    /// <summary>Programs attached of <paramref name="kind"/> (fentry, fexit, fmod_ret).</summary>
    public IReadOnlyList<ProgramObject> Attached(TrampolineKind kind)
    {
        lock (_lock) return kind == TrampolineKind.Replace ? (_extension is null ? [] : [_extension.Program]) : _lists[(int)kind].Select(a => a.Program).ToArray();
    }

    /// <summary>__bpf_trampoline_link_prog.</summary>
    internal void Link(TracingAttachment attachment)
    {
        lock (_lock)
        {
            if (_extension is not null)
                throw new BpfException(Errno.EBUSY, $"trampoline {Key}: {Point.FunctionName} is replaced by extension {_extension.Program.Id}");
            int count = _lists.Sum(l => l.Count);
            if (attachment.Kind == TrampolineKind.Replace)
            {
                if (count > 0)
                    throw new BpfException(Errno.EBUSY, $"trampoline {Key}: {Point.FunctionName} has {count} fentry/fexit program(s) attached");
                if (!Target.TryMarkExtended())
                    throw new BpfException(Errno.EBUSY, $"program {Target.Id} ({Target.Name}) is in a prog array and cannot be extended");
                _extension = attachment;
                Publish();
                return;
            }
            if (count >= MaxLinks)
                throw new BpfException(Errno.E2BIG, $"trampoline {Key}: {count} programs attached (at most {MaxLinks})");
            var list = _lists[(int)attachment.Kind];
            if (list.Contains(attachment) || list.Any(a => ReferenceEquals(a.Program, attachment.Program)))
                throw new BpfException(Errno.EBUSY, $"trampoline {Key}: program {attachment.Program.Id} is already attached as {attachment.Kind}");
            list.Add(attachment);
            Publish();
        }
    }

    /// <summary>
    /// bpf_trampoline_unlink_prog (never fails): stops routing calls to the program, then waits until every call
    /// that might have entered it has left (the kernel's RCU wait before the image or the jump target is freed).
    /// </summary>
    internal void Unlink(TracingAttachment attachment)
    {
        bool removed;
        lock (_lock)
        {
            if (ReferenceEquals(_extension, attachment))
            {
                _extension = null;
                removed = true;
                Target.ClearExtended();
            }
            else
            {
                removed = _lists[(int)attachment.Kind].Remove(attachment);
            }
            if (removed)
                Publish();
        }
        if (EpochManager.IsInCriticalSection)
            EpochManager.Retire(attachment.MarkReleased); // released from inside a program run: mark it once the grace period ends
        else
        {
            EpochManager.Synchronize();
            attachment.MarkReleased();
        }
    }

    /// <summary>bpf_trampoline_put.</summary>
    internal void Put() => _table.Put(this);

    /// <summary>One store: the slot now routes calls by the current lists (the kernel regenerates the image or pokes the jump).</summary>
    private void Publish()
    {
        FunctionOverride? route = _extension is { } ext
            ? new ExtensionOverride(ext)
            : _lists.All(l => l.Count == 0)
                ? null
                : new TracingOverride(this, [.. _lists[(int)TrampolineKind.Fentry]], [.. _lists[(int)TrampolineKind.Fexit]], [.. _lists[(int)TrampolineKind.ModifyReturn]]);
        Slot.Override = route;
    }

    public override string ToString() => $"trampoline {Key} → {Target.Name}:{Point.FunctionName}";
}
