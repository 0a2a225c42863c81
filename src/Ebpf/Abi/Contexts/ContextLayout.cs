namespace Ebpf.Abi.Contexts;

/// <summary>The outcome of checking one context access (<c>is_valid_access</c>).</summary>
internal readonly record struct ContextAccess(bool Allowed, ContextValueKind Yields, ContextField? Field)
{
    public static readonly ContextAccess Denied = new(false, ContextValueKind.Scalar, null);
}

/// <summary>
/// A program type's context as the verifier sees it: the UAPI struct name and size, its accessible regions
/// and the rules for reads and writes. Pure data plus a lookup; the runtime uses the same table to
/// build the context a program receives.
/// </summary>
internal sealed class ContextLayout
{
    public ContextLayout(string structName, int size, IReadOnlyList<ContextField> fields, bool isRealMemory)
    {
        StructName = structName;
        Size = size;
        Fields = fields;
        IsRealMemory = isRealMemory;
    }

    /// <summary>UAPI struct, e.g. <c>__sk_buff</c>, <c>xdp_md</c>, <c>pt_regs</c>.</summary>
    public string StructName { get; }

    /// <summary>Size of the UAPI struct (for variable contexts, the bound of the accessible range).</summary>
    public int Size { get; }

    /// <summary>Accessible regions in offset order. Offsets not covered are never accessible.</summary>
    public IReadOnlyList<ContextField> Fields { get; }

    /// <summary>True when R1 points at real memory read as-is (kprobe, tracepoint, raw_tp, tracing, syscall);
    /// false when loads are rewritten to the kernel object (<c>convert_ctx_access</c>).</summary>
    public bool IsRealMemory { get; }

    /// <summary>The line a refused access logs before "invalid bpf_context access" (<c>btf_ctx_access</c>'s own
    /// messages for fentry/fexit), or null when the refusal has none. Null: no such lines.</summary>
    public Func<int, int, bool, string?>? DenialLog { get; init; }

    /// <summary>For fields that yield <see cref="ContextValueKind.BtfId"/>: the kernel struct (vmlinux BTF) the loaded
    /// pointer points to, by field offset. Non-null means typed pointers of this program are walked by BTF.</summary>
    public IReadOnlyDictionary<int, string>? KernelStructs { get; init; }

    /// <summary>Whether the typed pointers of <see cref="KernelStructs"/> are plain PTR_TO_BTF_ID (an fentry/fexit
    /// program's arguments: prog_args_trusted is false) rather than PTR_TRUSTED.</summary>
    public bool PlainTypedPointers { get; init; }

    /// <summary>Checks a load (<paramref name="write"/> false) or store of <paramref name="size"/> bytes at <paramref name="offset"/>.</summary>
    public ContextAccess Check(int offset, int size, bool write)
    {
        foreach (var field in Fields)
        {
            if (offset >= field.Offset && offset < field.End)
                return field.Allows(offset, size, write) ? new ContextAccess(true, write ? ContextValueKind.Scalar : field.Yields, field) : ContextAccess.Denied;
        }
        return ContextAccess.Denied;
    }

    /// <summary>The field covering <paramref name="offset"/>, if any.</summary>
    public ContextField? FieldAt(int offset) => Fields.FirstOrDefault(f => offset >= f.Offset && offset < f.End);
}
