namespace Ebpf.Btf;

/// <summary>One struct/union member. <see cref="BitfieldSize"/> is 0 unless the member is a bitfield.</summary>
public readonly record struct BtfMember(string Name, uint Type, uint BitOffset, uint BitfieldSize = 0)
{
    /// <summary>Whether the member is a bitfield.</summary>
    public bool IsBitfield => BitfieldSize != 0;
    /// <summary>The byte offset of the member's first byte (the bit offset rounded down).</summary>
    public uint ByteOffset => BitOffset / 8;
}

/// <summary>BTF_KIND_STRUCT or BTF_KIND_UNION.</summary>
public abstract class BtfComposite : BtfType
{
    private readonly BtfMember[] _members;
    private readonly bool _kindFlag;

    private protected BtfComposite(string name, uint size, IReadOnlyList<BtfMember> members, bool? kindFlag)
        : base(name)
    {
        Size = size;
        _members = [.. members];
        // kind_flag = 1 means member offsets carry a bitfield size in their top 8 bits; needed as soon as
        // any member is a bitfield, otherwise keep what the producer chose.
        _kindFlag = kindFlag ?? _members.Any(m => m.BitfieldSize != 0);
    }

    /// <summary>For the reader: takes <paramref name="members"/> as is (a fresh array nobody else holds), no copy.</summary>
    private protected BtfComposite(string name, uint size, BtfMember[] members, bool kindFlag, ArrayOwnership _)
        : base(name)
    {
        Size = size;
        _members = members;
        _kindFlag = kindFlag;
    }

    /// <summary>sizeof the struct or union in bytes.</summary>
    public uint Size { get; }
    /// <summary>The members in declaration order.</summary>
    public IReadOnlyList<BtfMember> Members => _members;
    /// <summary>Whether this is a union (members overlap at offset 0).</summary>
    public bool IsUnion => Kind == BtfKind.Union;
    /// <inheritdoc/>
    public override bool KindFlag => _kindFlag;
    /// <inheritdoc/>
    public override int Vlen => _members.Length;
    internal override int EncodedSize => 12 + 12 * _members.Length;
    /// <inheritdoc/>
    public override IEnumerable<uint> References() => _members.Select(m => m.Type);

    /// <summary>The raw <c>btf_member.offset</c> word as encoded under this type's kind_flag.</summary>
    internal uint EncodeOffset(in BtfMember m) => _kindFlag ? (m.BitfieldSize << 24) | (m.BitOffset & 0xffffff) : m.BitOffset;
}

/// <summary>BTF_KIND_STRUCT: a C struct.</summary>
public sealed class BtfStruct : BtfComposite
{
    /// <summary>
    /// A struct of <paramref name="size"/> bytes; <paramref name="kindFlag"/> (bitfield offsets encoded with sizes)
    /// is derived from the members when null.
    /// </summary>
    public BtfStruct(string name, uint size, IReadOnlyList<BtfMember> members, bool? kindFlag = null)
        : base(name, size, members, kindFlag) { }

    internal BtfStruct(string name, uint size, BtfMember[] members, bool kindFlag, ArrayOwnership take)
        : base(name, size, members, kindFlag, take) { }

    /// <inheritdoc/>
    public override BtfKind Kind => BtfKind.Struct;
}

/// <summary>BTF_KIND_UNION: a C union.</summary>
public sealed class BtfUnion : BtfComposite
{
    /// <summary>
    /// A union of <paramref name="size"/> bytes; <paramref name="kindFlag"/> (bitfield offsets encoded with sizes)
    /// is derived from the members when null.
    /// </summary>
    public BtfUnion(string name, uint size, IReadOnlyList<BtfMember> members, bool? kindFlag = null)
        : base(name, size, members, kindFlag) { }

    internal BtfUnion(string name, uint size, BtfMember[] members, bool kindFlag, ArrayOwnership take)
        : base(name, size, members, kindFlag, take) { }

    /// <inheritdoc/>
    public override BtfKind Kind => BtfKind.Union;
}
