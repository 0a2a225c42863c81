using Ebpf.Abi;
using Ebpf.Abi.Contexts;
using Ebpf.Btf;

namespace Ebpf.Verification.Attach;

/// <summary>
/// The context of an fentry/fexit program attached to a function of a BPF program: the target's arguments as u64
/// words (fexit: the return value in the slot after them), read-only, checked as <c>tracing_prog_is_valid_access</c>
/// then <c>btf_ctx_access</c> check them against the target's BTF prototype (kernel 6.18):
/// <list type="bullet">
/// <item>scalars (ints, enums, structs) may be read with any width at the start of their slot;</item>
/// <item>a pointer must be read with 8 bytes ("func '%s' size %d must be 8"); a pointer to void or an int is a
/// scalar; any other pointer goes through <c>btf_translate_to_vmlinux</c>: a pointer to the target type's context
/// struct (<c>xdp_md</c>, <c>__sk_buff</c>, … or their kernel projections <c>xdp_buff</c>, <c>sk_buff</c>) becomes
/// PTR_TO_BTF_ID of the kernel's context struct (<c>xdp_buff</c>, <c>sk_buff</c>, …) in vmlinux BTF, and every
/// other pointer is refused without a line of its own (the kernel's <c>return false</c> after the translation
/// fails): a tracing program cannot dereference a BPF function's struct arguments;</item>
/// <item>anything else is "Only pointer access is allowed".</item>
/// </list>
/// A conservative (unreliable) target has no prototype: five u64 slots of any width, as the kernel's t == NULL case.
/// </summary>
internal static class TracingContext
{
    /// <summary>MAX_BPF_FUNC_ARGS × 8: <c>bpf_tracing_ctx_access</c> refuses offsets past it without a line.</summary>
    private const int TracingContextBytes = 8 * AttachTargetCheck.MaxFunctionArguments;

    /// <summary>MAX_BPF_FUNC_REG_ARGS: the slots of a target without a prototype.</summary>
    private const int ConservativeSlots = 5;

    private enum SlotKind { Scalar, ScalarPointer, ContextPointer, RefusedPointer, NotAllowed }

    /// <summary>
    /// The layout for a program attached at <paramref name="point"/>. <paramref name="targetType"/> is the target's
    /// resolved type (an extension target counts as the type it extends), which decides the context struct;
    /// <paramref name="kernelBtf"/> is the vmlinux BTF the kernel struct is taken from (null: none, so context
    /// pointers are refused like any other struct pointer).
    /// </summary>
    public static ContextLayout For(AttachPoint point, bool fexit, BtfSpec? targetBtf, ProgramType targetType, BtfSpec? kernelBtf)
    {
        string tname = point.FunctionName;
        BtfFuncProto? proto = point.Conservative ? null : Prototype(targetBtf, point.Function.BtfId);
        if (proto is null || targetBtf is null)
            return Conservative(tname, fexit);

        int nargs = proto.Parameters.Count;
        int slots = nargs + (fexit ? 1 : 0);
        var fields = new List<ContextField>();
        var structs = new Dictionary<int, string>();
        var kinds = new SlotKind[slots];
        for (int arg = 0; arg < slots; arg++)
        {
            uint type = arg < nargs ? proto.Parameters[arg].Type : proto.ReturnType;
            var kind = Classify(targetBtf, type, targetType, kernelBtf, out string? kernelStruct);
            kinds[arg] = kind;
            int off = arg * 8;
            string name = arg < nargs ? $"ctx[{arg}]" : "retval";
            switch (kind)
            {
                case SlotKind.Scalar:
                    fields.Add(new ContextField(off, 8, name, AccessSizes.Any, StartOnly: true));
                    break;
                case SlotKind.ScalarPointer:
                    fields.Add(new ContextField(off, 8, name, AccessSizes.B8, StartOnly: true));
                    break;
                case SlotKind.ContextPointer:
                    fields.Add(new ContextField(off, 8, name, AccessSizes.B8, Yields: ContextValueKind.BtfId, StartOnly: true));
                    structs[off] = kernelStruct!;
                    break;
            }
        }

        string? Explain(int off, int size, bool write)
        {
            if (Silent(off, size, write))
                return null;
            if (off % 8 != 0)
                return $"func '{tname}' offset {off} is not multiple of 8";
            int arg = off / 8;
            if (arg > nargs || (arg == nargs && !fexit))
                return $"func '{tname}' doesn't have {arg + 1}-th argument";
            switch (kinds[arg])
            {
                case SlotKind.NotAllowed:
                {
                    uint id = targetBtf.SkipTypedefs(arg < nargs ? proto.Parameters[arg].Type : proto.ReturnType);
                    targetBtf.TryGetType(id, out var t);
                    string typeName = t is null || id == 0 ? "" : t.Name;
                    string kindName = t is null || id == 0 ? "UNKNOWN" : ExtensionPrototypeMatch.KindName(t);
                    return $"func '{tname}' arg{arg} '{typeName}' has type {kindName}. Only pointer access is allowed";
                }
                case SlotKind.ScalarPointer or SlotKind.ContextPointer or SlotKind.RefusedPointer when size != 8:
                    return $"func '{tname}' size {size} must be 8";
                default:
                    return null;
            }
        }

        return new ContextLayout("u64[]", slots * 8, fields, isRealMemory: true)
        {
            DenialLog = Explain,
            KernelStructs = structs,
            PlainTypedPointers = true,
        };
    }

    /// <summary>The target without a prototype (a static function or an unusual main): 5 × u64, any width.</summary>
    private static ContextLayout Conservative(string tname, bool fexit)
    {
        int slots = ConservativeSlots + (fexit ? 1 : 0);
        var fields = new ContextField[slots];
        for (int i = 0; i < slots; i++)
            fields[i] = new ContextField(i * 8, 8, i < ConservativeSlots ? $"ctx[{i}]" : "retval", AccessSizes.Any, StartOnly: true);
        string? Explain(int off, int size, bool write)
        {
            if (Silent(off, size, write))
                return null;
            if (off % 8 != 0)
                return $"func '{tname}' offset {off} is not multiple of 8";
            int arg = off / 8;
            return arg > ConservativeSlots || (arg == ConservativeSlots && !fexit) ? $"func '{tname}' doesn't have {arg + 1}-th argument" : null;
        }
        return new ContextLayout("u64[]", slots * 8, fields, isRealMemory: true) { DenialLog = Explain };
    }

    /// <summary>bpf_tracing_ctx_access: out of [0, 96), a write, or a misaligned access fail before btf_ctx_access logs.</summary>
    private static bool Silent(int off, int size, bool write) =>
        off < 0 || off >= TracingContextBytes || write || size <= 0 || off % size != 0;

    private static BtfFuncProto? Prototype(BtfSpec? btf, uint funcId) =>
        btf is not null && btf.TryGetType(funcId, out var t) && t is BtfFunc f && btf.TryGetType(f.ProtoType, out var p) ? p as BtfFuncProto : null;

    private static SlotKind Classify(BtfSpec btf, uint type, ProgramType targetType, BtfSpec? kernelBtf, out string? kernelStruct)
    {
        kernelStruct = null;
        if (type == 0)
            return SlotKind.NotAllowed; // void (an fexit of a function returning nothing)
        var t = btf.GetType(btf.SkipTypedefs(type));
        if (t is BtfInt { Size: <= 8 } or BtfEnumType or BtfComposite)
            return SlotKind.Scalar;
        if (t is not BtfPtr ptr)
            return SlotKind.NotAllowed;
        // is_void_or_int_ptr (6.18): a pointer to void or to an int is no more than a number.
        uint pointee = btf.SkipTypedefs(ptr.Type);
        if (pointee == 0 || btf.GetType(pointee) is BtfInt)
            return SlotKind.ScalarPointer;
        kernelStruct = TranslateToVmlinux(btf, ptr.Type, targetType, kernelBtf);
        return kernelStruct is null ? SlotKind.RefusedPointer : SlotKind.ContextPointer;
    }

    /// <summary>
    /// btf_translate_to_vmlinux: when the pointee is the target type's context struct (by name, or its kernel
    /// projection), the kernel struct the program really gets; else null.
    /// </summary>
    private static string? TranslateToVmlinux(BtfSpec btf, uint pointee, ProgramType targetType, BtfSpec? kernelBtf)
    {
        if (kernelBtf is null || !ContextStructs.TryGetValue(targetType, out var names))
            return null;
        var t = btf.GetType(btf.SkipTypedefs(pointee));
        if (t is not BtfComposite || string.IsNullOrEmpty(t.Name))
            return null;
        bool matches = t.Name == names.User
            || (names.User == "__sk_buff" && t.Name == "sk_buff")
            || (names.User == "xdp_md" && t.Name == "xdp_buff")
            || (names.UserUnderlying is { } under && t.Name == under);
        if (!matches)
            return null;
        return kernelBtf.TryFindByName(names.Kernel, BtfKind.Struct, out _) ? names.Kernel : null;
    }

    /// <summary>
    /// bpf_ctx_convert: the context struct a program type's programs are written against and the kernel struct the
    /// kernel really passes (include/linux/bpf_types.h). Types whose user context has no struct name are absent.
    /// </summary>
    private static readonly Dictionary<ProgramType, (string User, string Kernel, string? UserUnderlying)> ContextStructs = new()
    {
        [ProgramType.SocketFilter] = ("__sk_buff", "sk_buff", null),
        [ProgramType.SchedCls] = ("__sk_buff", "sk_buff", null),
        [ProgramType.SchedAct] = ("__sk_buff", "sk_buff", null),
        [ProgramType.CgroupSkb] = ("__sk_buff", "sk_buff", null),
        [ProgramType.LwtIn] = ("__sk_buff", "sk_buff", null),
        [ProgramType.LwtOut] = ("__sk_buff", "sk_buff", null),
        [ProgramType.LwtXmit] = ("__sk_buff", "sk_buff", null),
        [ProgramType.LwtSeg6Local] = ("__sk_buff", "sk_buff", null),
        [ProgramType.SkSkb] = ("__sk_buff", "sk_buff", null),
        [ProgramType.FlowDissector] = ("__sk_buff", "bpf_flow_dissector", null),
        [ProgramType.Xdp] = ("xdp_md", "xdp_buff", null),
        [ProgramType.CgroupSock] = ("bpf_sock", "sock", null),
        [ProgramType.CgroupSockAddr] = ("bpf_sock_addr", "bpf_sock_addr_kern", null),
        [ProgramType.SockOps] = ("bpf_sock_ops", "bpf_sock_ops_kern", null),
        [ProgramType.SkMsg] = ("sk_msg_md", "sk_msg", null),
        [ProgramType.Kprobe] = ("bpf_user_pt_regs_t", "pt_regs", "pt_regs"),
        [ProgramType.PerfEvent] = ("bpf_perf_event_data", "bpf_perf_event_data_kern", null),
        [ProgramType.CgroupDevice] = ("bpf_cgroup_dev_ctx", "bpf_cgroup_dev_ctx", null),
        [ProgramType.CgroupSysctl] = ("bpf_sysctl", "bpf_sysctl_kern", null),
        [ProgramType.CgroupSockopt] = ("bpf_sockopt", "bpf_sockopt_kern", null),
        [ProgramType.SkReuseport] = ("sk_reuseport_md", "sk_reuseport_kern", null),
        [ProgramType.SkLookup] = ("bpf_sk_lookup", "bpf_sk_lookup_kern", null),
        [ProgramType.Netfilter] = ("bpf_nf_ctx", "bpf_nf_ctx", null),
    };
}
