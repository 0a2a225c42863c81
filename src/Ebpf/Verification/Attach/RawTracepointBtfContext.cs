using Ebpf.Abi.Contexts;
using Ebpf.Btf;

namespace Ebpf.Verification.Attach;

/// <summary>
/// The context of a BTF-enabled raw tracepoint program (SEC("tp_btf/NAME"): BPF_PROG_TYPE_TRACING, BPF_TRACE_RAW_TP)
/// for the standalone verifier: the tracepoint's arguments as u64 slots, typed by the vmlinux typedef
/// <c>btf_trace_NAME</c> (a pointer to a FUNC_PROTO whose first parameter, the tracepoint's private data, is not
/// passed), checked as <c>btf_ctx_access</c> checks them (kernel 6.18): read-only, 8-byte slots read at their start;
/// a pointer to a struct is PTR_TO_BTF_ID | PTR_TRUSTED of that struct (prog_args_trusted), maybe NULL where
/// <see cref="RawTracepointNullArgs"/> or a <c>__nullable</c> parameter says so, a scalar where it may be an ERR_PTR; a
/// pointer to anything else is a scalar.
/// </summary>
internal static class RawTracepointBtfContext
{
    /// <summary>BTF_TRACE_PREFIX.</summary>
    public const string TypedefPrefix = "btf_trace_";

    /// <summary>The layout for tracepoint <paramref name="tracepoint"/> of <paramref name="kernelBtf"/>, or null when the
    /// kernel BTF has no such tracepoint (the load then fails before the verifier).</summary>
    public static ContextLayout? For(BtfSpec kernelBtf, string tracepoint)
    {
        if (!kernelBtf.TryFindByName(TypedefPrefix + tracepoint, BtfKind.Typedef, out var td) || td is not BtfTypedef typedef)
            return null;
        if (kernelBtf.ResolveType(typedef.Type) is not BtfPtr ptr || kernelBtf.ResolveType(ptr.Type) is not BtfFuncProto proto)
            return null;
        int nargs = proto.Parameters.Count - 1;
        if (nargs < 0)
            return null;
        var fields = new List<ContextField>();
        var structs = new Dictionary<int, string>();
        for (int arg = 0; arg < nargs; arg++)
        {
            int off = arg * 8;
            var p = proto.Parameters[arg + 1];
            var t = kernelBtf.ResolveType(p.Type);
            if (t is BtfPtr argPtr && argPtr.Type != 0 && kernelBtf.ResolveType(argPtr.Type) is BtfComposite s
                && !RawTracepointNullArgs.MayBeError(tracepoint, arg))
            {
                // raw_tp_null_args and a "__nullable" parameter name make the argument PTR_MAYBE_NULL.
                bool maybeNull = RawTracepointNullArgs.MayBeNull(tracepoint, arg) || p.Name.EndsWith("__nullable", StringComparison.Ordinal);
                fields.Add(new ContextField(off, 8, p.Name, AccessSizes.B8, Yields: maybeNull ? ContextValueKind.BtfIdOrNull : ContextValueKind.BtfId, StartOnly: true));
                structs[off] = s.Name;
            }
            else if (t is BtfPtr)
                fields.Add(new ContextField(off, 8, p.Name, AccessSizes.B8, StartOnly: true));
            else
                fields.Add(new ContextField(off, 8, p.Name, AccessSizes.Any, StartOnly: true));
        }
        return new ContextLayout("u64[]", nargs * 8, fields, isRealMemory: true) { KernelStructs = structs };
    }
}
