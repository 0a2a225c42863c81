using Ebpf.Abi;

namespace Ebpf.Runtime.Objects;

/// <summary>
/// The type-specific half of a link (the kernel's bpf_link_ops): what to do when the link is
/// released (detach from the attach point), and optionally LINK_DETACH and LINK_UPDATE.
/// </summary>
public interface ILinkAttachment
{
    /// <summary>Removes the attachment (last reference gone while attached, or LINK_DETACH).</summary>
    void Release(LinkObject link);

    /// <summary>Whether LINK_DETACH is supported (else EOPNOTSUPP).</summary>
    bool SupportsDetach => true;

    /// <summary>Switches the attach point to the new program (the delegate's second argument); null = no update_prog (EINVAL).</summary>
    Action<LinkObject, ProgramObject>? UpdateProgram => null;
}

/// <summary>
/// A link: owns an attachment and holds its program. Created in three phases (prime, attach,
/// settle) so a failed attach never exposes an id (§1.6). A detached link stays a valid object
/// (defunct) until its last reference goes.
/// </summary>
public sealed class LinkObject : KernelObject
{
    private const Errno ENOLINK = (Errno)67;
    private readonly Lock _lock = new();
    private ProgramObject? _program;
    private ILinkAttachment? _attachment;

    internal LinkObject(BpfRuntime runtime, LinkType type, AttachType attachType, ProgramObject program, ulong cookie)
        : base(runtime, ObjectKind.Link)
    {
        Type = type;
        AttachType = attachType;
        _program = program;
        Cookie = cookie;
    }

    /// <summary>The link type (BPF_LINK_TYPE_*), which decides the operations the link supports.</summary>
    public LinkType Type { get; }
    /// <summary>The attach type the link was created with.</summary>
    public AttachType AttachType { get; }
    /// <summary>The BPF cookie given at link creation (bpf_get_attach_cookie returns it), 0 when none.</summary>
    public ulong Cookie { get; }
    /// <summary>The reserved id during prime (visible <see cref="KernelObject.Id"/> is 0 until settle).</summary>
    internal uint ReservedId { get; set; }
    /// <summary>The program the link holds (changes on LINK_UPDATE); null once the link was released.</summary>
    public ProgramObject? Program { get { lock (_lock) return _program; } }
    /// <summary>True once the link was detached (LINK_DETACH or its target went away): it stays valid but defunct.</summary>
    public bool IsDetached { get { lock (_lock) return _attachment is null; } }

    internal void Attach(ILinkAttachment attachment)
    {
        lock (_lock) _attachment = attachment;
    }

    /// <summary>Attach failed: the link must not drop the caller's program reference (cleanup path).</summary>
    internal void AbandonProgram()
    {
        lock (_lock) _program = null;
    }

    /// <summary>BPF_LINK_DETACH: the link becomes defunct but stays queryable.</summary>
    public void Detach()
    {
        ILinkAttachment? attachment;
        lock (_lock)
        {
            attachment = _attachment;
            if (attachment is null)
                return;
            if (!attachment.SupportsDetach)
                throw new BpfException(Errno.EOPNOTSUPP, $"link {Id} ({Type}) does not support detach");
            _attachment = null;
        }
        attachment.Release(this);
    }

    /// <summary>BPF_LINK_UPDATE (update_prog contract of §1.6 item 8).</summary>
    public void Update(ProgramObject newProgram, ProgramObject? expectedOld = null)
    {
        lock (_lock)
        {
            var update = _attachment?.UpdateProgram;
            if (_attachment is not null && update is null)
                throw new BpfException(Errno.EINVAL, $"link {Id} ({Type}) has no update operation");
            if (_attachment is null)
                throw new BpfException(ENOLINK, $"link {Id} is detached");
            if (expectedOld is not null && !ReferenceEquals(expectedOld, _program))
                throw new BpfException(Errno.EPERM, $"link {Id}: current program is not program {expectedOld.Id}");
            if (_program is { } current && (current.Type != newProgram.Type || current.ExpectedAttachType != newProgram.ExpectedAttachType))
                throw new BpfException(Errno.EINVAL, $"link {Id}: program {newProgram.Id} has a different type or attach type");
            if (ReferenceEquals(newProgram, _program))
                return;
            newProgram.Acquire();
            try
            {
                update!(this, newProgram);
            }
            catch
            {
                newProgram.Release();
                throw;
            }
            var old = _program;
            _program = newProgram;
            old?.Release();
        }
    }

    /// <summary>BPF_OBJ_GET_INFO_BY_FD for this link: id, type, attach type, program id and, for tracing links, the
    /// target and cookie.</summary>
    public Collections.LinkInfo GetInfo()
    {
        lock (_lock)
        {
            // Tracing links also report their trampoline key (target_obj_id, target_btf_id) and cookie.
            var key = (_attachment as Links.ITracingLinkInfo)?.Key;
            return new()
            {
                Id = Id, Type = Type, AttachType = AttachType, ProgramId = _program?.Id ?? 0, Detached = _attachment is null,
                TargetObjectId = key?.TargetObjectId ?? 0, TargetBtfId = key?.BtfId ?? 0, Cookie = Type == LinkType.Tracing ? Cookie : 0,
                Ifindex = (_attachment as Net.IXdpLinkInfo)?.Ifindex ?? 0,
                IterTargetName = (_attachment as Iterators.IterLinkAttachment)?.Target,
                IterMapId = (_attachment as Iterators.IterLinkAttachment)?.Map?.Id ?? 0,
            };
        }
    }

    /// <summary>The type-specific attachment (null once detached or released).</summary>
    internal ILinkAttachment? Attachment
    {
        get { lock (_lock) return _attachment; }
    }

    /// <summary>Releases the attachment (if still attached) and the link's reference on its program.</summary>
    protected override void OnFree()
    {
        ILinkAttachment? attachment;
        ProgramObject? program;
        lock (_lock)
        {
            attachment = _attachment;
            _attachment = null;
            program = _program;
            _program = null;
        }
        attachment?.Release(this);
        program?.Release();
    }
}
