using Ebpf.Abi;
using Ebpf.Btf;

namespace Ebpf.Collections;

// Extensions and tracing programs on BPF targets (libbpf's bpf_program__attach_freplace and
// bpf_program__attach_trace), the same calls on every backend: the link is BPF_LINK_CREATE through the backend.
public sealed partial class BpfProgram
{
    /// <summary>
    /// Replaces <paramref name="function"/> of <paramref name="target"/> with this extension (freplace). The load-time
    /// target is consumed by the first attach; any other target is checked by prototype and type. Dispose the link (and
    /// every pin and duplicate of it) and the original function is back.
    /// </summary>
    public BpfLink AttachExtension(BpfProgram target, string function, ulong cookie = 0)
    {
        ArgumentNullException.ThrowIfNull(target);
        ArgumentNullException.ThrowIfNull(function);
        ThrowIfClosed();
        if (Type != ProgramType.Ext)
            throw new BpfException(Errno.EINVAL, $"program {Id} ({Name}) is {Type}, not an extension");
        return Backend.AttachTracing(this, target, FindFunction(target, function), cookie);
    }

    /// <summary>
    /// Attaches this fentry/fexit program (or extension) to the function it was loaded against. A target and function
    /// may be named only to say which one that is: a tracing program cannot move to another target (EINVAL, as the
    /// kernel refuses a target_fd for tracing programs); an extension naming both goes to <see cref="AttachExtension"/>.
    /// </summary>
    public BpfLink AttachTracing(BpfProgram? target = null, string? function = null, ulong cookie = 0)
    {
        ThrowIfClosed();
        if (target is null)
            return Backend.AttachTracing(this, null, 0, cookie);
        if (function is not null && Type == ProgramType.Ext)
            return AttachExtension(target, function, cookie);
        var info = GetInfo();
        uint btfId = function is null ? info.AttachBtfId : FindFunction(target, function);
        bool loadTimeTarget = btfId == info.AttachBtfId && info.AttachBtfObjectId != 0 && target.GetInfo().BtfId == info.AttachBtfObjectId;
        // The load-time target is what LINK_CREATE without a target means; anything else is the kernel's to refuse.
        return loadTimeTarget ? Backend.AttachTracing(this, null, 0, cookie) : Backend.AttachTracing(this, target, btfId, cookie);
    }

    /// <summary>
    /// libbpf's bpf_program__set_attach_target lookup: the FUNC named <paramref name="function"/> in
    /// <paramref name="target"/>'s BTF (through its prog info's btf_id and BTF_GET_FD_BY_ID). EINVAL when the target
    /// has no BTF, ENOENT when it has no such function, with libbpf's messages.
    /// </summary>
    public static uint FindFunction(BpfProgram target, string function)
    {
        ArgumentNullException.ThrowIfNull(target);
        ArgumentNullException.ThrowIfNull(function);
        uint btfObject = target.GetInfo().BtfId;
        if (btfObject == 0)
            throw new BpfException(Errno.EINVAL, $"The target program doesn't have BTF (program {target.Id}, {target.Name})");
        BtfSpec spec;
        using (var btf = (BtfHandle)target.Backend.Open(ObjectKind.Btf, btfObject))
            spec = BtfSpec.Parse(btf.GetData());
        uint id = spec.FindAllByName(function, BtfKind.Func).FirstOrDefault();
        if (id == 0)
            throw new BpfException(Errno.ENOENT, $"{function} is not found in prog's BTF (program {target.Id}, {target.Name})");
        return id;
    }
}
