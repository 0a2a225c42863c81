namespace Ebpf.Btf;

/// <summary>BTF_KIND_* values as encoded in bits 24..28 of <c>btf_type.info</c>.</summary>
public enum BtfKind : byte
{
    /// <summary><c>BTF_KIND_UNKN</c>: void (type id 0).</summary>
    Unknown = 0,
    /// <summary><c>BTF_KIND_INT</c>: an integer.</summary>
    Int = 1,
    /// <summary><c>BTF_KIND_PTR</c>: a pointer.</summary>
    Ptr = 2,
    /// <summary><c>BTF_KIND_ARRAY</c>: an array.</summary>
    Array = 3,
    /// <summary><c>BTF_KIND_STRUCT</c>: a struct.</summary>
    Struct = 4,
    /// <summary><c>BTF_KIND_UNION</c>: a union.</summary>
    Union = 5,
    /// <summary><c>BTF_KIND_ENUM</c>: an enum with 32-bit values.</summary>
    Enum = 6,
    /// <summary><c>BTF_KIND_FWD</c>: a forward declaration of a struct or union.</summary>
    Fwd = 7,
    /// <summary><c>BTF_KIND_TYPEDEF</c>: a typedef.</summary>
    Typedef = 8,
    /// <summary><c>BTF_KIND_VOLATILE</c>: the volatile qualifier.</summary>
    Volatile = 9,
    /// <summary><c>BTF_KIND_CONST</c>: the const qualifier.</summary>
    Const = 10,
    /// <summary><c>BTF_KIND_RESTRICT</c>: the restrict qualifier.</summary>
    Restrict = 11,
    /// <summary><c>BTF_KIND_FUNC</c>: a function (name, linkage, prototype).</summary>
    Func = 12,
    /// <summary><c>BTF_KIND_FUNC_PROTO</c>: a function prototype.</summary>
    FuncProto = 13,
    /// <summary><c>BTF_KIND_VAR</c>: a variable.</summary>
    Var = 14,
    /// <summary><c>BTF_KIND_DATASEC</c>: an ELF data section and its variables.</summary>
    Datasec = 15,
    /// <summary><c>BTF_KIND_FLOAT</c>: a floating-point type.</summary>
    Float = 16,
    /// <summary><c>BTF_KIND_DECL_TAG</c>: a tag on a declaration.</summary>
    DeclTag = 17,
    /// <summary><c>BTF_KIND_TYPE_TAG</c>: a tag on a type (e.g. __user, __percpu).</summary>
    TypeTag = 18,
    /// <summary><c>BTF_KIND_ENUM64</c>: an enum with 64-bit values.</summary>
    Enum64 = 19,
}

/// <summary>BTF_INT_* encoding bits (bits 24..27 of the INT extra word).</summary>
[Flags]
public enum BtfIntEncoding : byte
{
    /// <summary>No encoding: an unsigned integer.</summary>
    None = 0,
    /// <summary><c>BTF_INT_SIGNED</c>.</summary>
    Signed = 1,
    /// <summary><c>BTF_INT_CHAR</c>.</summary>
    Char = 2,
    /// <summary><c>BTF_INT_BOOL</c>.</summary>
    Bool = 4,
}

/// <summary>BTF_FUNC_* linkage stored in a FUNC's vlen.</summary>
public enum BtfFuncLinkage : ushort
{
    /// <summary><c>BTF_FUNC_STATIC</c>.</summary>
    Static = 0,
    /// <summary><c>BTF_FUNC_GLOBAL</c>: verified on its own, by its BTF signature.</summary>
    Global = 1,
    /// <summary><c>BTF_FUNC_EXTERN</c>: defined elsewhere (a kfunc or a function of another object).</summary>
    Extern = 2,
}

/// <summary>BTF_VAR_* linkage of a VAR.</summary>
public enum BtfVarLinkage : uint
{
    /// <summary><c>BTF_VAR_STATIC</c>.</summary>
    Static = 0,
    /// <summary><c>BTF_VAR_GLOBAL_ALLOCATED</c>.</summary>
    GlobalAllocated = 1,
    /// <summary><c>BTF_VAR_GLOBAL_EXTERN</c>.</summary>
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
