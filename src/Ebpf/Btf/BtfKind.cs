namespace Ebpf.Btf;

/// <summary>BTF_KIND_* values as encoded in bits 24..28 of <c>btf_type.info</c>.</summary>
public enum BtfKind : byte
{
    Unknown = 0,
    Int = 1,
    Ptr = 2,
    Array = 3,
    Struct = 4,
    Union = 5,
    Enum = 6,
    Fwd = 7,
    Typedef = 8,
    Volatile = 9,
    Const = 10,
    Restrict = 11,
    Func = 12,
    FuncProto = 13,
    Var = 14,
    Datasec = 15,
    Float = 16,
    DeclTag = 17,
    TypeTag = 18,
    Enum64 = 19,
}

/// <summary>BTF_INT_* encoding bits (bits 24..27 of the INT extra word).</summary>
[Flags]
public enum BtfIntEncoding : byte
{
    None = 0,
    Signed = 1,
    Char = 2,
    Bool = 4,
}

/// <summary>BTF_FUNC_* linkage stored in a FUNC's vlen.</summary>
public enum BtfFuncLinkage : ushort
{
    Static = 0,
    Global = 1,
    Extern = 2,
}

/// <summary>BTF_VAR_* linkage of a VAR.</summary>
public enum BtfVarLinkage : uint
{
    Static = 0,
    GlobalAllocated = 1,
    GlobalExtern = 2,
}

internal static class BtfKindNames
{
    /// <summary>The kind name as the kernel and bpftool print it ("INT", "FUNC_PROTO", …).</summary>
    public static string ToKernelName(this BtfKind kind) => kind switch
    {
        BtfKind.Unknown => "UNKNOWN",
        BtfKind.Int => "INT",
        BtfKind.Ptr => "PTR",
        BtfKind.Array => "ARRAY",
        BtfKind.Struct => "STRUCT",
        BtfKind.Union => "UNION",
        BtfKind.Enum => "ENUM",
        BtfKind.Fwd => "FWD",
        BtfKind.Typedef => "TYPEDEF",
        BtfKind.Volatile => "VOLATILE",
        BtfKind.Const => "CONST",
        BtfKind.Restrict => "RESTRICT",
        BtfKind.Func => "FUNC",
        BtfKind.FuncProto => "FUNC_PROTO",
        BtfKind.Var => "VAR",
        BtfKind.Datasec => "DATASEC",
        BtfKind.Float => "FLOAT",
        BtfKind.DeclTag => "DECL_TAG",
        BtfKind.TypeTag => "TYPE_TAG",
        BtfKind.Enum64 => "ENUM64",
        _ => "UNKNOWN",
    };
}
