namespace Ebpf.Btf;

/// <summary>One FUNC_PROTO parameter. A trailing parameter with no name and type 0 marks "...".</summary>
public readonly record struct BtfParam(string Name, uint Type);

/// <summary>BTF_KIND_FUNC_PROTO: the signature; parameters are kept exactly as encoded (including the "..." marker).</summary>
public sealed class BtfFuncProto : BtfType
{
    private readonly BtfParam[] _params;

    /// <summary>
    /// A prototype returning <paramref name="returnType"/> (0 = void) and taking <paramref name="parameters"/>.
    /// </summary>
    public BtfFuncProto(uint returnType, IReadOnlyList<BtfParam> parameters, string name = "") : base(name)
    {
        ReturnType = returnType;
        _params = [.. parameters];
    }

    /// <summary>For the reader: takes <paramref name="parameters"/> as is, no copy.</summary>
    internal BtfFuncProto(uint returnType, BtfParam[] parameters, string name, ArrayOwnership _) : base(name)
    {
        ReturnType = returnType;
        _params = parameters;
    }

    /// <inheritdoc/>
    public override BtfKind Kind => BtfKind.FuncProto;
    /// <summary>The id of the return type (0 = void).</summary>
    public uint ReturnType { get; }

    /// <summary>Parameters as encoded, including the trailing variadic marker when present.</summary>
    public IReadOnlyList<BtfParam> Parameters => _params;

    /// <summary>Whether the last parameter is the <c>...</c> marker (type 0, no name).</summary>
    public bool IsVariadic => _params.Length > 0 && _params[^1].Type == 0 && _params[^1].Name.Length == 0;

    /// <summary>Parameters without the variadic marker.</summary>
    public IEnumerable<BtfParam> NamedParameters => IsVariadic ? _params[..^1] : _params;

    /// <inheritdoc/>
    public override int Vlen => _params.Length;
    internal override int EncodedSize => 12 + 8 * _params.Length;
    /// <inheritdoc/>
    public override IEnumerable<uint> References() => _params.Select(p => p.Type).Prepend(ReturnType);
}

/// <summary>BTF_KIND_FUNC: a named function whose signature is a FUNC_PROTO; vlen carries the linkage.</summary>
public sealed class BtfFunc(string name, uint protoType, BtfFuncLinkage linkage = BtfFuncLinkage.Static) : BtfType(name)
{
    /// <inheritdoc/>
    public override BtfKind Kind => BtfKind.Func;
    /// <summary>The id of the function's FUNC_PROTO.</summary>
    public uint ProtoType { get; } = protoType;
    /// <summary>Static, global or extern (stored in vlen); the verifier checks global functions separately.</summary>
    public BtfFuncLinkage Linkage { get; } = linkage;
    /// <inheritdoc/>
    public override int Vlen => (int)Linkage;
    /// <inheritdoc/>
    public override IEnumerable<uint> References() => [ProtoType];
}

/// <summary>BTF_KIND_DECL_TAG: <c>btf_decl_tag("…")</c> on a type (ComponentIndex -1), a member or a parameter.</summary>
public sealed class BtfDeclTag(string value, uint type, int componentIndex, bool isAttribute = false) : BtfType(value)
{
    /// <inheritdoc/>
    public override BtfKind Kind => BtfKind.DeclTag;

    /// <summary>kind_flag: the tag is a plain C attribute rather than a btf_decl_tag.</summary>
    public bool IsAttribute { get; } = isAttribute;

    /// <inheritdoc/>
    public override bool KindFlag => IsAttribute;
    /// <summary>The id of the type (or variable or function) the tag annotates.</summary>
    public uint Type { get; } = type;

    /// <summary>-1 for the type itself, else the member (struct/union) or parameter (func) index.</summary>
    public int ComponentIndex { get; } = componentIndex;

    /// <summary>The tag's text (its name), e.g. "user" or "arg:ctx".</summary>
    public string Value => Name;
    internal override int EncodedSize => 16;
    /// <inheritdoc/>
    public override IEnumerable<uint> References() => [Type];
}
