using Ebpf.Abi;
using Ebpf.Execution;
using Ebpf.Runtime.Trampolines;
using Ebpf.Verification.Attach;

namespace Ebpf.Runtime.Objects;

// The attach-related state of a program (kernel-semantics.md §2.1): what it was loaded against (dst_prog,
// dst_trampoline, saved_dst_*), and, as a target, its slotted functions and the is_extended /
// prog_array_member_cnt pair that keeps extensions and tail-call tables apart.
public sealed partial class ProgramObject
{
    /// <summary>dst_mutex: serialises attach operations of this program.</summary>
    internal readonly Lock AttachLock = new();

    /// <summary>ext_mutex: serialises "extended" against "member of a prog array" on this program as a target.</summary>
    internal readonly Lock ExtensionLock = new();

    private int _programArrayMemberships;
    private bool _extended;

    /// <summary>dst_prog: the load-time target, held from load until the first attach (or the program's end).</summary>
    internal ProgramObject? LoadTimeTarget { get; set; }

    /// <summary>dst_trampoline: the trampoline pre-created at load, consumed by the first attach.</summary>
    internal Trampoline? LoadTimeTrampoline { get; set; }

    /// <summary>The function this program was loaded against (its model and name), when it was.</summary>
    public AttachPoint? LoadTimeAttachPoint { get; internal set; }

    /// <summary>attach_btf_id: the target FUNC's BTF id (0 when loaded against nothing).</summary>
    public uint AttachBtfId { get; internal set; }

    /// <summary>attach_btf_obj_id: the BTF object of the load-time target program.</summary>
    public uint AttachBtfObjectId { get; internal set; }

    /// <summary>saved_dst_prog_type / saved_dst_attach_type: what the load-time target was (kept after it is released).</summary>
    public (ProgramType Type, AttachType AttachType)? SavedTargetType { get; internal set; }

    /// <summary>attach_tracing_prog: loaded as a tracing program against another tracing program (sticky, rule P9).</summary>
    public bool AttachedToTracing { get; internal set; }

    /// <summary>The program type whose rules apply (resolve_prog_type): an extension has its target's.</summary>
    public ProgramType ResolvedType => Type == ProgramType.Ext && SavedTargetType is { } saved ? saved.Type : Type;

    /// <summary>The slots of this program's functions (one per func_info record), shared by all its engines.</summary>
    public IReadOnlyList<FunctionSlot> FunctionSlots { get; internal set; } = [];

    /// <summary>This program's functions as attach targets (BTF id, start, reliability).</summary>
    public IReadOnlyList<AttachableFunction> AttachableFunctions { get; internal set; } = [];

    /// <summary>is_extended: an extension replaces one of this program's functions.</summary>
    public bool IsExtended { get { lock (ExtensionLock) return _extended; } }

    /// <summary>prog_array_member_cnt: how many prog-array slots hold this program.</summary>
    public int ProgramArrayMemberships { get { lock (ExtensionLock) return _programArrayMemberships; } }

    /// <summary>The slot of the function starting at <paramref name="start"/>.</summary>
    internal FunctionSlot? SlotAt(int start) => FunctionSlots.FirstOrDefault(s => s.Start == start);

    /// <summary>Marks the program extended unless a prog array holds it (6.12+: EBUSY).</summary>
    internal bool TryMarkExtended()
    {
        lock (ExtensionLock)
        {
            if (_programArrayMemberships > 0)
                return false;
            _extended = true;
            return true;
        }
    }

    internal void ClearExtended()
    {
        lock (ExtensionLock) _extended = false;
    }

    /// <summary>prog_fd_array_get_ptr: an extended program cannot enter a prog array (EBUSY).</summary>
    internal bool TryJoinProgramArray()
    {
        lock (ExtensionLock)
        {
            if (_extended)
                return false;
            _programArrayMemberships++;
            return true;
        }
    }

    internal void LeaveProgramArray()
    {
        lock (ExtensionLock) _programArrayMemberships--;
    }

    /// <summary>bpf_prog_free: the load-time target and trampoline go with the program if no attach consumed them.</summary>
    private void ReleaseLoadTimeTarget()
    {
        Trampoline? trampoline;
        ProgramObject? target;
        lock (AttachLock)
        {
            trampoline = LoadTimeTrampoline;
            target = LoadTimeTarget;
            LoadTimeTrampoline = null;
            LoadTimeTarget = null;
        }
        trampoline?.Put();
        target?.Release();
    }
}

public sealed partial class ProgramObject
{
    /// <summary>The attach type the verifier checks with: an extension borrows its target's for verification.</summary>
    internal AttachType VerifiedAttachType => Type == ProgramType.Ext && SavedTargetType is { } saved ? saved.AttachType : ExpectedAttachType;

    /// <summary>An extension's main function as a global function of its target's type (set before verification).</summary>
    internal Verification.VerifierFunction? ExtensionEntry { get; set; }

    /// <summary>An fentry/fexit program's ctx: its target's arguments (set before verification).</summary>
    internal Abi.Contexts.ContextLayout? TracingContextLayout { get; set; }

    /// <summary>An iterator program's target (the TARGET of bpf_iter_TARGET it was loaded against; null for others).</summary>
    internal string? IterTarget { get; set; }
}
