namespace Ebpf.Btf;

/// <summary>One enumerator. <see cref="Value"/> holds the value already sign- or zero-extended per the enum's signedness.</summary>
public readonly record struct BtfEnumValue(string Name, long Value);

/// <summary>BTF_KIND_ENUM (32-bit values) or BTF_KIND_ENUM64.</summary>
public abstract class BtfEnumType : BtfType
{
    private readonly BtfEnumValue[] _values;

    private protected BtfEnumType(string name, uint size, IReadOnlyList<BtfEnumValue> values, bool isSigned) : base(name)
    {
        Size = size;
        _values = [.. values];
        IsSigned = isSigned;
    }

    /// <summary>For the reader: takes <paramref name="values"/> as is, no copy.</summary>
    private protected BtfEnumType(string name, uint size, BtfEnumValue[] values, bool isSigned, ArrayOwnership _) : base(name)
    {
        Size = size;
        _values = values;
        IsSigned = isSigned;
    }

    /// <summary>sizeof the enum in bytes.</summary>
    public uint Size { get; }
    /// <summary>The enumerators in declaration order.</summary>
    public IReadOnlyList<BtfEnumValue> Values => _values;

    /// <summary>kind_flag: the enumerators are signed.</summary>
    public bool IsSigned { get; }

    /// <inheritdoc/>
    public override bool KindFlag => IsSigned;
    /// <inheritdoc/>
    public override int Vlen => _values.Length;
}

/// <summary>BTF_KIND_ENUM: an enum with 32-bit values.</summary>
public sealed class BtfEnum : BtfEnumType
{
    /// <summary>
    /// An enum of <paramref name="size"/> bytes; <paramref name="isSigned"/> is the kind_flag (values are signed).
    /// </summary>
    public BtfEnum(string name, uint size, IReadOnlyList<BtfEnumValue> values, bool isSigned = false)
        : base(name, size, values, isSigned) { }

    internal BtfEnum(string name, uint size, BtfEnumValue[] values, bool isSigned, ArrayOwnership take)
        : base(name, size, values, isSigned, take) { }

    /// <inheritdoc/>
    public override BtfKind Kind => BtfKind.Enum;
    internal override int EncodedSize => 12 + 8 * Vlen;
}

/// <summary>BTF_KIND_ENUM64: an enum with 64-bit values.</summary>
public sealed class BtfEnum64 : BtfEnumType
{
    /// <summary>
    /// An enum of <paramref name="size"/> bytes; <paramref name="isSigned"/> is the kind_flag (values are signed).
    /// </summary>
    public BtfEnum64(string name, uint size, IReadOnlyList<BtfEnumValue> values, bool isSigned = false)
        : base(name, size, values, isSigned) { }

    internal BtfEnum64(string name, uint size, BtfEnumValue[] values, bool isSigned, ArrayOwnership take)
        : base(name, size, values, isSigned, take) { }

    /// <inheritdoc/>
    public override BtfKind Kind => BtfKind.Enum64;
    internal override int EncodedSize => 12 + 12 * Vlen;
}
