using Ebpf.Runtime.Objects;
using Ebpf.Runtime.Trampolines;

namespace Ebpf.Runtime.Links;

/// <summary>What a tracing link reports beyond the generic link info (bpf_link_info.tracing).</summary>
internal interface ITracingLinkInfo
{
    TrampolineKey Key { get; }
}

/// <summary>
/// The attachment of a BPF_LINK_TYPE_TRACING link (fentry/fexit/fmod_ret/freplace on a BPF program): its program on
/// one trampoline, plus the reference on the target program the link holds. Release (bpf_tracing_link_release)
/// unlinks — returning only when no call can still enter the program — then puts the trampoline and the target.
/// Tracing links have neither LINK_DETACH (EOPNOTSUPP) nor LINK_UPDATE (EINVAL) in mainline.
/// </summary>
internal sealed class TracingLinkAttachment(TracingAttachment attachment, Trampoline trampoline, ProgramObject? target) : ILinkAttachment, ITracingLinkInfo
{
    public TracingAttachment Attachment { get; } = attachment;
    public Trampoline Trampoline { get; } = trampoline;
    public TrampolineKey Key => Trampoline.Key;

    public bool SupportsDetach => false;

    /// <summary>The target program (null for a kernel target).</summary>
    public ProgramObject? Target => target;

    // Program-owned (beyond the kernel): the target holds the link, and the link no longer holds the target.
    private int _ownedByTarget;

    /// <summary>Marks the link as held by its target; false when it already is.</summary>
    public bool MarkOwnedByTarget() => Interlocked.Exchange(ref _ownedByTarget, 1) == 0;

    public void Release(LinkObject link)
    {
        Trampoline.Unlink(Attachment);
        Trampoline.Put();
        if (Volatile.Read(ref _ownedByTarget) == 0)
            target?.Release();
    }
}
