using Ebpf.Abi.Contexts;

namespace Ebpf.Verification.Attach;

/// <summary>
/// The context of an fentry/fexit program attached to a function (<c>btf_ctx_access</c> for BPF targets): the
/// target's arguments as u64 words, read-only, one 8-byte slot per argument of its BTF prototype; an fexit
/// program also sees the return value in the slot after them. Anything else is "invalid bpf_context access".
/// </summary>
/// <remarks>
/// Arguments are scalars here: the kernel types a pointer to a struct as PTR_TO_BTF_ID of the kernel's own type
/// (which needs the kernel struct, not modelled for BPF targets); pointers to ints or void are scalars there too.
/// </remarks>
internal static class TracingContext
{
    public static ContextLayout For(AttachPoint point, bool seesReturnValue)
    {
        int slots = point.ArgumentCount + (seesReturnValue && point.ReturnsValue ? 1 : 0);
        var fields = new ContextField[slots];
        for (int i = 0; i < slots; i++)
            fields[i] = new ContextField(i * 8, 8, i < point.ArgumentCount ? $"ctx[{i}]" : "retval", AccessSizes.B8, StartOnly: true);
        return new ContextLayout("u64[]", slots * 8, fields, isRealMemory: true);
    }
}
