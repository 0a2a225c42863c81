using Ebpf.Collections;
using Ebpf.Abi;
using Ebpf.Runtime.Objects;

namespace Ebpf.Runtime.Links;

/// <summary>
/// The library calls for extensions and tracing programs on BPF targets (libbpf's bpf_program__attach_freplace and
/// bpf_program__attach_trace). Each returns the link handle: dispose it (and every pin and duplicate of it) and the
/// attachment goes, returning only when no call can still enter the program. Refusals are <see cref="BpfException"/>s
/// with the kernel's errno; a refused load carries the verifier log (<see cref="BpfException.Log"/>).
/// </summary>
public static class ProgramAttachExtensions
{
    /// <summary>
    /// Replaces <paramref name="function"/> of <paramref name="target"/> with this extension. The load-time target is
    /// consumed by the first attach (no new check); any other target is checked by prototype and type (§2.5).
    /// </summary>
    public static BpfLink AttachExtension(this BpfProgram extension, BpfProgram target, string function, ulong cookie = 0)
    {
        ArgumentNullException.ThrowIfNull(extension);
        ArgumentNullException.ThrowIfNull(target);
        var prog = extension.Program;
        if (prog.Type != ProgramType.Ext)
            throw new BpfException(Errno.EINVAL, $"program {prog.Id} ({prog.Name}) is {prog.Type}, not an extension");
        uint btfId = BpfRuntime.FindFunction(target.Program, function);
        return prog.Runtime.AttachTracing(prog, target.Program, btfId, cookie);
    }

    /// <summary>
    /// Attaches this fentry/fexit program (or extension) to the function it was loaded against. A target and function
    /// may be named only to say which one that is: a tracing program cannot move to another target (EINVAL, as the
    /// kernel refuses a target_fd for tracing programs).
    /// </summary>
    public static BpfLink AttachTracing(this BpfProgram program, BpfProgram? target = null, string? function = null, ulong cookie = 0)
    {
        ArgumentNullException.ThrowIfNull(program);
        var prog = program.Program;
        if (target is not null && function is not null && prog.Type == ProgramType.Ext)
            return AttachExtension(program, target, function, cookie);
        if (target is not null)
        {
            uint btfId = function is null ? prog.AttachBtfId : BpfRuntime.FindFunction(target.Program, function);
            bool isLoadTimeTarget = prog.LoadTimeAttachPoint is not null && prog.AttachBtfId == btfId
                && prog.Runtime.Trampolines.Find(Trampolines.TrampolineKey.ForProgram(target.Program.Id, btfId)) is { } t
                && ReferenceEquals(t.Target, target.Program) && prog.SavedTargetType is not null;
            if (!isLoadTimeTarget)
                return prog.Runtime.AttachTracing(prog, target.Program, btfId, cookie); // EINVAL for tracing programs, by the kernel's rule
        }
        return prog.Runtime.AttachTracing(prog, null, 0, cookie);
    }

    /// <summary>bpf_link_info.tracing of a tracing link: (attach type, target program id, target BTF id, cookie).</summary>
    public static (AttachType AttachType, uint TargetObjectId, uint TargetBtfId, ulong Cookie) GetTracingInfo(this BpfLink link)
    {
        var info = link.GetInfo();
        if (info.Type != LinkType.Tracing)
            throw new BpfException(Errno.EINVAL, $"link {info.Id} is {info.Type}, not a tracing link");
        return (info.AttachType, info.TargetObjectId, info.TargetBtfId, info.Cookie);
    }
}
