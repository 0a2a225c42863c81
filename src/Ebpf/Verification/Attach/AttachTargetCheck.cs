using Ebpf.Abi;
using Ebpf.Btf;

namespace Ebpf.Verification.Attach;

/// <summary>
/// <c>bpf_check_attach_target</c> for targets that are BPF programs (kernel-semantics.md §2.2): rules G1–G4,
/// P1–P4, P6 and P8–P11, the per-attach-type checks A1, A5–A10 and A13, in the kernel's order and with its log
/// lines. At load time the log line goes into the verifier log; at (re)attach time the kernel passes no log,
/// so only the errno reaches the caller (the exception still carries the line for diagnostics).
/// </summary>
/// <remarks>
/// Not modelled: P5/P8 (every program of the runtime runs compiled or in the verified interpreter, which stands
/// for "JITed"); P7 (an extension cannot be sleepable, so it cannot call the helpers that make a subprogram
/// "might sleep"); kernel-function targets (K1 is refused here; the runtime has no kernel functions to trace).
/// </remarks>
internal static class AttachTargetCheck
{
    /// <summary>MAX_BPF_FUNC_ARGS: the trampoline's argument limit (A10).</summary>
    public const int MaxFunctionArguments = 12;

    /// <summary>
    /// Checks <paramref name="program"/> against function <paramref name="btfId"/> of <paramref name="target"/> (null:
    /// a kernel function, which this runtime cannot provide). Returns the attach point or throws
    /// <see cref="AttachTargetException"/>.
    /// </summary>
    public static AttachPoint Check(AttachingProgram program, AttachTargetProgram? target, uint btfId)
    {
        if (btfId == 0)
            throw Refuse("Tracing programs must provide btf_id");
        var btf = target?.Btf;
        if (btf is null)
            throw Refuse("FENTRY/FEXIT program can only be attached to another program annotated with BTF");
        if (!btf.TryGetType(btfId, out var t) || btfId == 0)
            throw Refuse($"attach_btf_id {btfId} is invalid");
        string tname = t.Name;
        if (string.IsNullOrEmpty(tname))
            throw Refuse($"attach_btf_id {btfId} doesn't have a name");

        bool extension = program.IsExtension;
        AttachableFunction? function = null;
        bool conservative = false;
        if (target is not null)
        {
            // P1: bpf_prog_dev_bound_match — a device-bound program attaches only to a program bound to the same device.
            if (program.BoundIfindex != 0 && target.BoundIfindex != program.BoundIfindex)
                throw Refuse("Target program bound device mismatch");
            function = target.Functions.FirstOrDefault(f => f.BtfId == btfId)
                ?? throw Refuse($"Subprog {tname} doesn't exist");
            if (function.IsExceptionCallback)
                throw Refuse(extension ? "Extension programs cannot attach to exception callback" : "FENTRY/FEXIT programs cannot attach to exception callback");
            conservative = !function.Reliable;
            if (extension && conservative)
                throw Refuse("Cannot replace static functions");
            // P6 (6.13+): callers of the function invalidate packet pointers only if it changes packet data.
            if (extension && program.ChangesPacketData && !function.ChangesPacketData)
                throw Refuse("Extension program changes packet data, while original does not");
            if (!target.Jited)
                throw Refuse("Can attach to only JITed progs");
            if (program.IsTracing)
            {
                if (target.AttachedToTracing)
                    throw Refuse("Cannot nest tracing program attach more than once");
            }
            else if (target.Type == program.Type)
            {
                throw Refuse("Cannot recursively attach");
            }
            if (target.Type == ProgramType.Tracing && extension
                && target.ExpectedAttachType is AttachType.TraceFentry or AttachType.TraceFexit)
                throw Refuse("Cannot extend fentry/fexit");
        }
        else if (extension)
        {
            throw Refuse("Cannot replace kernel functions");
        }

        switch (extension ? default : program.ExpectedAttachType)
        {
            case AttachType.TraceRawTp:
                throw Refuse("Only FENTRY/FEXIT progs are attachable to another BPF prog");
            case AttachType.TraceIter:
                throw Refuse($"attach_btf_id {btfId} is not a function", silent: !(t is BtfFunc));
            case AttachType.TraceFentry or AttachType.TraceFexit or AttachType.ModifyReturn or AttachType.LsmMac or AttachType.LsmCgroup:
                break;
            default:
                if (!extension)
                    throw new AttachTargetException(Errno.EINVAL, null, $"{program.Type} program with attach type {program.ExpectedAttachType} cannot attach to a function");
                break;
        }
        if (t is not BtfFunc func)
            throw Refuse($"attach_btf_id {btfId} is not a function");
        if (extension)
            ExtensionPrototypeMatch.Check(program, btf, func);
        if (!btf.TryGetType(func.ProtoType, out var protoType) || protoType is not BtfFuncProto proto)
            throw new AttachTargetException(Errno.EINVAL, null, $"{tname}: FUNC does not point to a FUNC_PROTO");
        if (program.SavedTargetType is { } saved && (target is null || saved.Type != target.Type || saved.AttachType != target.ExpectedAttachType))
            throw new AttachTargetException(Errno.EINVAL, null,
                $"{program.Name} was loaded against a {saved.Type} program; {target?.Name ?? "a kernel function"} is {(target is null ? "not a program" : target.Type.ToString())}");

        var point = conservative
            ? new AttachPoint(function!, tname, 5, ReturnsValue: true, Conservative: true)
            : Distill(btf, proto, function!, tname);
        if (program.ExpectedAttachType == AttachType.ModifyReturn && !extension && target is not null)
            throw Refuse("can't modify return codes of BPF programs");
        return point;
    }

    /// <summary>btf_distill_func_proto: the argument count and return kind the trampoline is built for (A10).</summary>
    private static AttachPoint Distill(BtfSpec btf, BtfFuncProto proto, AttachableFunction function, string tname)
    {
        int nargs = proto.Parameters.Count;
        if (nargs > MaxFunctionArguments)
            throw Refuse($"The function {tname} has {nargs} arguments. Too many.");
        bool returnsValue = proto.ReturnType != 0;
        if (returnsValue)
        {
            var ret = btf.ResolveType(proto.ReturnType);
            bool supported = ret is BtfInt or BtfPtr or BtfEnumType || ret is BtfComposite c && c.Size <= 16;
            if (!supported)
                throw Refuse($"return type {ExtensionPrototypeMatch.KindName(ret)} is unsupported");
        }
        for (int i = 0; i < nargs; i++)
        {
            var p = proto.Parameters[i];
            if (p.Type == 0)
                throw Refuse(i == nargs - 1 ? $"The function {tname} with variable args is unsupported." : "malformed void argument");
            var arg = btf.ResolveType(p.Type);
            uint size = btf.SizeOf(btf.SkipTypedefs(p.Type));
            if (size > 16 || arg is BtfFwd)
                throw Refuse($"arg{i} type {ExtensionPrototypeMatch.KindName(arg)} is unsupported");
        }
        return new AttachPoint(function, tname, nargs, returnsValue, Conservative: false);
    }

    internal static AttachTargetException Refuse(string line, bool silent = false) =>
        new(Errno.EINVAL, silent ? null : line, line);
}
