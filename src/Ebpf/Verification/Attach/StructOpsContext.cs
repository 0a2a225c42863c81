using Ebpf.Abi.Contexts;
using Ebpf.Btf;

namespace Ebpf.Verification.Attach;

/// <summary>
/// The context of a struct_ops program: its member's arguments as u64 slots, read-only, typed as
/// <c>bpf_tracing_btf_ctx_access</c> then <c>btf_ctx_access</c> type them against the kernel's prototype (6.18):
/// integers, enums and structs are scalars of any width at the start of their slot; a pointer is read with 8 bytes
/// ("func '%s' size %d must be 8"); a pointer to void or an int is a scalar; a pointer to a struct or union is a
/// trusted PTR_TO_BTF_ID of that kernel type, PTR_MAYBE_NULL when the member's cfi stub names the argument
/// <c>…__nullable</c> (the kernel's prepare_arg_info), promoted as the type's is_valid_access promotes it
/// (tcp_congestion_ops: sock → tcp_sock); anything else is "Only pointer access is allowed".
/// </summary>
internal static class StructOpsContext
{
    private const int ContextBytes = 8 * AttachTargetCheck.MaxFunctionArguments;

    public static ContextLayout For(BtfSpec kernel, string structName, string member, BtfFuncProto proto, StructOpsType type)
    {
        var nullable = NullableArguments(kernel, structName, member);
        int nargs = proto.Parameters.Count;
        var fields = new List<ContextField>();
        var structs = new Dictionary<int, string>();
        var pointer = new bool[nargs];
        var notAllowed = new string?[nargs];
        for (int arg = 0; arg < nargs; arg++)
        {
            int off = arg * 8;
            string name = $"ctx[{arg}]";
            uint id = kernel.SkipTypedefs(proto.Parameters[arg].Type);
            var t = kernel.GetType(id);
            if (t is BtfInt { Size: <= 8 } or BtfEnumType or BtfComposite)
            {
                fields.Add(new ContextField(off, 8, name, AccessSizes.Any, StartOnly: true));
                continue;
            }
            if (t is not BtfPtr ptr)
            {
                notAllowed[arg] = $"arg{arg} '{t.Name}' has type {ExtensionPrototypeMatch.KindName(t)}";
                continue;
            }
            pointer[arg] = true;
            var pointee = kernel.GetType(kernel.SkipTypedefs(ptr.Type));
            if (ptr.Type == 0 || kernel.SkipTypedefs(ptr.Type) == 0 || pointee is BtfInt)
            {
                fields.Add(new ContextField(off, 8, name, AccessSizes.B8, StartOnly: true));
                continue;
            }
            if (pointee is not BtfComposite || string.IsNullOrEmpty(pointee.Name))
                continue; // refused without a line of its own ("is not a struct" goes to the kernel's btf log only)
            structs[off] = type.PromotedArguments.GetValueOrDefault(pointee.Name, pointee.Name);
            fields.Add(new ContextField(off, 8, name, AccessSizes.B8,
                Yields: nullable.Contains(arg) ? ContextValueKind.BtfIdOrNull : ContextValueKind.BtfId, StartOnly: true));
        }

        string? Explain(int off, int size, bool write)
        {
            // bpf_tracing_ctx_access: out of range, a write or a misaligned access fail before btf_ctx_access logs.
            if (off < 0 || off >= ContextBytes || write || size <= 0 || off % size != 0)
                return null;
            if (off % 8 != 0)
                return $"func '{member}' offset {off} is not multiple of 8";
            int arg = off / 8;
            if (arg >= nargs)
                return $"func '{member}' doesn't have {arg + 1}-th argument";
            if (notAllowed[arg] is { } what)
                return $"func '{member}' {what}. Only pointer access is allowed";
            return pointer[arg] && size != 8 ? $"func '{member}' size {size} must be 8" : null;
        }

        return new ContextLayout("u64[]", nargs * 8, fields, isRealMemory: true)
        {
            DenialLog = Explain,
            KernelStructs = structs,
        };
    }

    /// <summary>prepare_arg_info: the cfi stub FUNC <c>STRUCT__MEMBER</c> in the kernel BTF marks nullable arguments by
    /// a <c>__nullable</c> suffix on the parameter's name.</summary>
    private static HashSet<int> NullableArguments(BtfSpec kernel, string structName, string member)
    {
        var result = new HashSet<int>();
        if (kernel.FindByName($"{structName}__{member}", BtfKind.Func) is BtfFunc stub
            && kernel.GetType(stub.ProtoType) is BtfFuncProto sp)
            for (int i = 0; i < sp.Parameters.Count; i++)
                if (sp.Parameters[i].Name.EndsWith("__nullable", StringComparison.Ordinal))
                    result.Add(i);
        return result;
    }
}
