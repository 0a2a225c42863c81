namespace Ebpf.Btf;

/// <summary>
/// One BTF type. Types refer to each other by id (not by object) so that split BTF, the builder and
/// the writer all share one model; <see cref="BtfSpec.GetType(uint)"/> turns an id into a type.
/// </summary>
public abstract class BtfType
{
    private protected BtfType(string name) => Name = name;

    /// <summary>The type id inside its <see cref="BtfSpec"/> (0 for void; assigned when parsed or built).</summary>
    public uint Id { get; internal set; }

    /// <summary>The BTF kind (BTF_KIND_*).</summary>
    public abstract BtfKind Kind { get; }

    /// <summary>The <c>info</c> word as read from the file (null for built types); the validator checks its unused bits.</summary>
    internal uint? RawInfo { get; set; }

    /// <summary>The <c>size</c>/<c>type</c> word as read from the file, for kinds that ignore it.</summary>
    internal uint RawSizeOrType { get; set; }

    /// <summary>The name; empty for anonymous types.</summary>
    public string Name { get; }

    /// <summary>Whether the type has no name.</summary>
    public bool IsAnonymous => Name.Length == 0;

    /// <summary>The raw kind_flag bit of <c>info</c>.</summary>
    public virtual bool KindFlag => false;

    /// <summary>The raw vlen of <c>info</c> (member/param/value/var count, or FUNC linkage).</summary>
    public virtual int Vlen => 0;

    /// <summary>Bytes this type occupies in the type section (12-byte btf_type plus the kind's trailer).</summary>
    internal virtual int EncodedSize => 12;

    /// <summary>Every type id this type mentions (members, params, pointee, …), for validation and walks.</summary>
    public virtual IEnumerable<uint> References() => [];

    /// <summary>A one-line description in the kernel's verifier-log style: <c>[id] KIND name</c>.</summary>
    public override string ToString() => $"[{Id}] {Kind.ToKernelName()} {(IsAnonymous ? "(anon)" : Name)}";
}

/// <summary>
/// Marks the internal constructors that adopt an array instead of copying it: only the reader uses them, with
/// arrays it has just filled, so nothing outside the type can change the members afterwards.
/// </summary>
internal enum ArrayOwnership
{
    Take,
}

/// <summary>The implicit type 0.</summary>
public sealed class BtfVoid : BtfType
{
    /// <summary>The one void type.</summary>
    public static readonly BtfVoid Instance = new();
    private BtfVoid() : base("") { }
    /// <inheritdoc/>
    public override BtfKind Kind => BtfKind.Unknown;
    /// <summary>"[0] void", as the verifier log names it.</summary>
    public override string ToString() => "[0] void";
}

/// <summary>BTF_KIND_INT: an integer of <see cref="Size"/> bytes with <see cref="Bits"/> value bits at <see cref="BitOffset"/>.</summary>
public sealed class BtfInt(string name, uint size, BtfIntEncoding encoding, byte bitOffset, byte bits) : BtfType(name)
{
    /// <inheritdoc/>
    public override BtfKind Kind => BtfKind.Int;

    /// <summary>The INT trailer word as read (reserved bits included), for validation.</summary>
    internal uint? RawIntWord { get; init; }

    /// <summary>sizeof the integer in bytes.</summary>
    public uint Size { get; } = size;
    /// <summary>Signed, char or bool encoding bits.</summary>
    public BtfIntEncoding Encoding { get; } = encoding;
    /// <summary>Bit offset of the value inside its storage (non-zero only in old bitfield encodings).</summary>
    public byte BitOffset { get; } = bitOffset;
    /// <summary>Number of value bits.</summary>
    public byte Bits { get; } = bits;
    /// <summary>Whether the integer is signed.</summary>
    public bool IsSigned => (Encoding & BtfIntEncoding.Signed) != 0;
    /// <summary>Whether it is a C char.</summary>
    public bool IsChar => (Encoding & BtfIntEncoding.Char) != 0;
    /// <summary>Whether it is a C bool.</summary>
    public bool IsBool => (Encoding & BtfIntEncoding.Bool) != 0;
    internal override int EncodedSize => 16;
}

/// <summary>BTF_KIND_FLOAT.</summary>
public sealed class BtfFloat(string name, uint size) : BtfType(name)
{
    /// <inheritdoc/>
    public override BtfKind Kind => BtfKind.Float;
    /// <summary>sizeof the floating-point type in bytes.</summary>
    public uint Size { get; } = size;
}

/// <summary>A kind whose only payload is one referenced type: PTR, TYPEDEF and the modifiers.</summary>
public abstract class BtfReferenceType : BtfType
{
    private protected BtfReferenceType(string name, uint type) : base(name) => Type = type;

    /// <summary>The referenced type id (0 = void).</summary>
    public uint Type { get; }

    /// <summary>True for VOLATILE, CONST, RESTRICT and TYPE_TAG: the kinds that do not change layout.</summary>
    public virtual bool IsModifier => false;

    /// <inheritdoc/>
    public override IEnumerable<uint> References() => [Type];
}

/// <summary>BTF_KIND_PTR: a pointer to <c>type</c>.</summary>
public sealed class BtfPtr(uint type, string name = "") : BtfReferenceType(name, type)
{
    /// <inheritdoc/>
    public override BtfKind Kind => BtfKind.Ptr;
}

/// <summary>BTF_KIND_TYPEDEF: <c>name</c> as another name for <c>type</c>.</summary>
public sealed class BtfTypedef(string name, uint type) : BtfReferenceType(name, type)
{
    /// <inheritdoc/>
    public override BtfKind Kind => BtfKind.Typedef;
}

/// <summary>BTF_KIND_VOLATILE: <c>type</c> qualified volatile.</summary>
public sealed class BtfVolatile(uint type, string name = "") : BtfReferenceType(name, type)
{
    /// <inheritdoc/>
    public override BtfKind Kind => BtfKind.Volatile;
    /// <inheritdoc/>
    public override bool IsModifier => true;
}

/// <summary>BTF_KIND_CONST: <c>type</c> qualified const.</summary>
public sealed class BtfConst(uint type, string name = "") : BtfReferenceType(name, type)
{
    /// <inheritdoc/>
    public override BtfKind Kind => BtfKind.Const;
    /// <inheritdoc/>
    public override bool IsModifier => true;
}

/// <summary>BTF_KIND_RESTRICT: <c>type</c> qualified restrict.</summary>
public sealed class BtfRestrict(uint type, string name = "") : BtfReferenceType(name, type)
{
    /// <inheritdoc/>
    public override BtfKind Kind => BtfKind.Restrict;
    /// <inheritdoc/>
    public override bool IsModifier => true;
}

/// <summary>
/// BTF_KIND_TYPE_TAG: <c>__attribute__((btf_type_tag("name")))</c> on a pointee. kind_flag set means the
/// tag is a plain C attribute (<c>__attribute__((name))</c>) rather than a btf_type_tag.
/// </summary>
public sealed class BtfTypeTag(string name, uint type, bool isAttribute = false) : BtfReferenceType(name, type)
{
    /// <inheritdoc/>
    public override BtfKind Kind => BtfKind.TypeTag;
    /// <inheritdoc/>
    public override bool IsModifier => true;
    /// <summary>kind_flag: a plain C attribute rather than a btf_type_tag.</summary>
    public bool IsAttribute { get; } = isAttribute;
    /// <inheritdoc/>
    public override bool KindFlag => IsAttribute;
}

/// <summary>BTF_KIND_ARRAY.</summary>
public sealed class BtfArray(uint elementType, uint indexType, uint count, string name = "") : BtfType(name)
{
    /// <inheritdoc/>
    public override BtfKind Kind => BtfKind.Array;
    /// <summary>The id of the element type.</summary>
    public uint ElementType { get; } = elementType;
    /// <summary>The id of the index type (an int, only informative).</summary>
    public uint IndexType { get; } = indexType;
    /// <summary>Number of elements (0 for a flexible array).</summary>
    public uint Count { get; } = count;
    internal override int EncodedSize => 24;
    /// <inheritdoc/>
    public override IEnumerable<uint> References() => [ElementType, IndexType];
}

/// <summary>BTF_KIND_FWD: a forward declaration of a struct or (kind_flag set) a union.</summary>
public sealed class BtfFwd(string name, bool isUnion) : BtfType(name)
{
    /// <inheritdoc/>
    public override BtfKind Kind => BtfKind.Fwd;
    /// <summary>Whether the forward-declared type is a union (kind_flag) rather than a struct.</summary>
    public bool IsUnion { get; } = isUnion;
    /// <inheritdoc/>
    public override bool KindFlag => IsUnion;
}
