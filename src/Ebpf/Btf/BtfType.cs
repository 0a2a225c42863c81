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

    public abstract BtfKind Kind { get; }

    /// <summary>The <c>info</c> word as read from the file (null for built types); the validator checks its unused bits.</summary>
    internal uint? RawInfo { get; set; }

    /// <summary>The <c>size</c>/<c>type</c> word as read from the file, for kinds that ignore it.</summary>
    internal uint RawSizeOrType { get; set; }

    /// <summary>The name; empty for anonymous types.</summary>
    public string Name { get; }

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
    public static readonly BtfVoid Instance = new();
    private BtfVoid() : base("") { }
    /// <inheritdoc/>
    public override BtfKind Kind => BtfKind.Unknown;
    public override string ToString() => "[0] void";
}

/// <summary>BTF_KIND_INT: an integer of <see cref="Size"/> bytes with <see cref="Bits"/> value bits at <see cref="BitOffset"/>.</summary>
public sealed class BtfInt(string name, uint size, BtfIntEncoding encoding, byte bitOffset, byte bits) : BtfType(name)
{
    /// <inheritdoc/>
    public override BtfKind Kind => BtfKind.Int;

    /// <summary>The INT trailer word as read (reserved bits included), for validation.</summary>
    internal uint? RawIntWord { get; init; }

    public uint Size { get; } = size;
    public BtfIntEncoding Encoding { get; } = encoding;
    public byte BitOffset { get; } = bitOffset;
    public byte Bits { get; } = bits;
    public bool IsSigned => (Encoding & BtfIntEncoding.Signed) != 0;
    public bool IsChar => (Encoding & BtfIntEncoding.Char) != 0;
    public bool IsBool => (Encoding & BtfIntEncoding.Bool) != 0;
    internal override int EncodedSize => 16;
}

/// <summary>BTF_KIND_FLOAT.</summary>
public sealed class BtfFloat(string name, uint size) : BtfType(name)
{
    /// <inheritdoc/>
    public override BtfKind Kind => BtfKind.Float;
    public uint Size { get; } = size;
}

/// <summary>A kind whose only payload is one referenced type: PTR, TYPEDEF and the modifiers.</summary>
public abstract class BtfReferenceType(string name, uint type) : BtfType(name)
{
    /// <summary>The referenced type id (0 = void).</summary>
    public uint Type { get; } = type;

    /// <summary>True for VOLATILE, CONST, RESTRICT and TYPE_TAG: the kinds that do not change layout.</summary>
    public virtual bool IsModifier => false;

    /// <inheritdoc/>
    public override IEnumerable<uint> References() => [Type];
}

public sealed class BtfPtr(uint type, string name = "") : BtfReferenceType(name, type)
{
    /// <inheritdoc/>
    public override BtfKind Kind => BtfKind.Ptr;
}

public sealed class BtfTypedef(string name, uint type) : BtfReferenceType(name, type)
{
    /// <inheritdoc/>
    public override BtfKind Kind => BtfKind.Typedef;
}

public sealed class BtfVolatile(uint type, string name = "") : BtfReferenceType(name, type)
{
    /// <inheritdoc/>
    public override BtfKind Kind => BtfKind.Volatile;
    /// <inheritdoc/>
    public override bool IsModifier => true;
}

public sealed class BtfConst(uint type, string name = "") : BtfReferenceType(name, type)
{
    /// <inheritdoc/>
    public override BtfKind Kind => BtfKind.Const;
    /// <inheritdoc/>
    public override bool IsModifier => true;
}

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
    public bool IsAttribute { get; } = isAttribute;
    /// <inheritdoc/>
    public override bool KindFlag => IsAttribute;
}

/// <summary>BTF_KIND_ARRAY.</summary>
public sealed class BtfArray(uint elementType, uint indexType, uint count, string name = "") : BtfType(name)
{
    /// <inheritdoc/>
    public override BtfKind Kind => BtfKind.Array;
    public uint ElementType { get; } = elementType;
    public uint IndexType { get; } = indexType;
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
    public bool IsUnion { get; } = isUnion;
    /// <inheritdoc/>
    public override bool KindFlag => IsUnion;
}
