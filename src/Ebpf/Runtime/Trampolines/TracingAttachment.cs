using Ebpf.Execution;
using Ebpf.Runtime.Objects;

namespace Ebpf.Runtime.Trampolines;

/// <summary>
/// One program on a trampoline (the kernel's bpf_tramp_link): the program, the link that owns the attachment and
/// its cookie. <see cref="Released"/> is set only after the trampoline stopped routing calls to it and every call
/// that could still have entered it has finished (an epoch grace period).
/// </summary>
internal sealed class TracingAttachment
{
    private volatile bool _released;

    internal TracingAttachment(ProgramObject program, TrampolineKind kind, ulong cookie)
    {
        Program = program;
        Kind = kind;
        Cookie = cookie;
        Engine = (program.Executable as PreparedProgram)?.Interpreter
            ?? throw new BpfException(Errno.ENOTSUPP, $"program {program.Id} ({program.Name}) has no executable form");
    }

    public ProgramObject Program { get; }
    public TrampolineKind Kind { get; }
    public ulong Cookie { get; }
    internal Interpreter Engine { get; }

    /// <summary>The attachment's link, once created (diagnostics).</summary>
    public LinkObject? Link { get; internal set; }

    /// <summary>True once no call can reach the program through this attachment any more.</summary>
    public bool Released => _released;

    internal void MarkReleased() => _released = true;
}
