using Ebpf.Abi.Contexts;
using Ebpf.Btf;

namespace Ebpf.Verification.Attach;

/// <summary>
/// The context of a BPF iterator program (SEC("iter/TARGET"): BPF_PROG_TYPE_TRACING, BPF_TRACE_ITER): the arguments
/// of the vmlinux function <c>bpf_iter_TARGET</c> as u64 slots, which is <c>struct bpf_iter__TARGET</c>, checked as
/// <c>btf_ctx_access</c> checks them for iterators (kernel 6.18): read-only, 8-byte aligned slots; the target's
/// <c>ctx_arg_info</c> decides what a pointer slot yields (bpf_map_elem: key PTR_TO_BUF | PTR_MAYBE_NULL |
/// MEM_RDONLY, value PTR_TO_BUF | PTR_MAYBE_NULL; bpf_map: map PTR_TO_BTF_ID_OR_NULL); any other struct pointer is
/// a trusted PTR_TO_BTF_ID of its vmlinux struct (meta: <c>bpf_iter_meta</c>, whose <c>seq</c> is the seq_file the
/// seq helpers take).
/// </summary>
internal static class IterContext
{
    /// <summary>BPF_ITER_FUNC_PREFIX.</summary>
    public const string FunctionPrefix = "bpf_iter_";

    /// <summary>The iterator targets this runtime registers (bpf_iter_reg_target) and their ctx_arg_info.</summary>
    public static readonly IReadOnlyDictionary<string, IReadOnlyDictionary<int, ContextValueKind>> Targets =
        new Dictionary<string, IReadOnlyDictionary<int, ContextValueKind>>
        {
            ["bpf_map"] = new Dictionary<int, ContextValueKind> { [8] = ContextValueKind.BtfIdOrNull },
            ["bpf_prog"] = new Dictionary<int, ContextValueKind> { [8] = ContextValueKind.BtfIdOrNull },
            ["bpf_link"] = new Dictionary<int, ContextValueKind> { [8] = ContextValueKind.BtfIdOrNull },
            ["bpf_map_elem"] = new Dictionary<int, ContextValueKind>
            {
                [16] = ContextValueKind.ReadOnlyBufOrNull,
                [24] = ContextValueKind.BufOrNull,
            },
        };

    /// <summary>
    /// The layout for the iterator function <paramref name="function"/> of <paramref name="kernelBtf"/> (the
    /// attach_btf_id's FUNC), or null when the function is not a registered target's (bpf_iter_prog_supported fails).
    /// </summary>
    /// <param name="kernelBtf">The kernel BTF holding the function.</param>
    /// <param name="function">The iterator function (attach_btf_id).</param>
    /// <param name="anyKernelTarget">For the standalone verifier: a kernel target this runtime does not register
    /// (task, task_vma, tcp, …) is typed as the kernel registers nearly all of them, each object pointer after
    /// <c>meta</c> PTR_TO_BTF_ID_OR_NULL | PTR_TRUSTED; such a program is verified, never run.</param>
    public static ContextLayout? For(BtfSpec kernelBtf, BtfFunc function, bool anyKernelTarget = false)
    {
        string tname = function.Name;
        if (!tname.StartsWith(FunctionPrefix, StringComparison.Ordinal))
            return null;
        if (!kernelBtf.TryGetType(function.ProtoType, out var p) || p is not BtfFuncProto proto)
            return null;
        int nargs = proto.Parameters.Count;
        if (!Targets.TryGetValue(tname[FunctionPrefix.Length..], out var argInfo))
        {
            if (!anyKernelTarget)
                return null;
            argInfo = Enumerable.Range(1, Math.Max(0, nargs - 1)).ToDictionary(arg => arg * 8, _ => ContextValueKind.BtfIdOrNull);
        }
        var fields = new List<ContextField>();
        var structs = new Dictionary<int, string>();
        var refusals = new string?[nargs];
        for (int arg = 0; arg < nargs; arg++)
        {
            int off = arg * 8;
            string name = proto.Parameters[arg].Name;
            var t = kernelBtf.GetType(kernelBtf.SkipTypedefs(proto.Parameters[arg].Type));
            if (t is BtfInt { Size: <= 8 } or BtfEnumType or BtfComposite)
            {
                fields.Add(new ContextField(off, 8, name, AccessSizes.Any, StartOnly: true));
                continue;
            }
            if (t is not BtfPtr ptr)
            {
                refusals[arg] = $"func '{tname}' arg{arg} '{t.Name}' has type {ExtensionPrototypeMatch.KindName(t)}. Only pointer access is allowed";
                continue;
            }
            if (argInfo.TryGetValue(off, out var kind) && kind is ContextValueKind.BufOrNull or ContextValueKind.ReadOnlyBufOrNull)
            {
                fields.Add(new ContextField(off, 8, name, AccessSizes.B8, Yields: kind, StartOnly: true));
                continue;
            }
            uint pointee = kernelBtf.SkipTypedefs(ptr.Type);
            if (pointee == 0 || kernelBtf.GetType(pointee) is BtfInt)
            {
                fields.Add(new ContextField(off, 8, name, AccessSizes.B8, StartOnly: true));
                continue;
            }
            if (kernelBtf.GetType(pointee) is not BtfComposite s)
            {
                refusals[arg] = $"func '{tname}' arg{arg} type {ExtensionPrototypeMatch.KindName(kernelBtf.GetType(pointee))} is not a struct";
                continue;
            }
            fields.Add(new ContextField(off, 8, name, AccessSizes.B8,
                Yields: argInfo.TryGetValue(off, out var k) ? k : ContextValueKind.BtfId, StartOnly: true));
            structs[off] = s.Name;
        }

        string? Explain(int off, int size, bool write)
        {
            // bpf_tracing_ctx_access: out of range, a write or a misaligned access fail without a line of their own.
            if (off < 0 || off >= 8 * AttachTargetCheck.MaxFunctionArguments || write || size <= 0 || off % size != 0)
                return null;
            if (off % 8 != 0)
                return $"func '{tname}' offset {off} is not multiple of 8";
            int arg = off / 8;
            if (arg >= nargs)
                return $"func '{tname}' doesn't have {arg + 1}-th argument";
            if (refusals[arg] is { } why)
                return why;
            var field = fields.FirstOrDefault(f => f.Offset == off);
            return field is not null && field.Read == AccessSizes.B8 && size != 8 ? $"func '{tname}' size {size} must be 8" : null;
        }

        return new ContextLayout("bpf_iter__" + tname[FunctionPrefix.Length..], nargs * 8, fields, isRealMemory: true)
        {
            DenialLog = Explain,
            KernelStructs = structs,
        };
    }
}
