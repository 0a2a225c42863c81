namespace Ebpf.Btf;

/// <summary>
/// Synthesises BTF in code: each Add* call appends a type and returns its id, so later types can refer
/// to it. With a base BTF the result is split BTF whose ids continue after the base's (hosts describe
/// their context structs this way on top of vmlinux or on their own).
/// </summary>
internal sealed class BtfBuilder
{
    private readonly List<BtfType> _types = [];
    private uint _arraySizeType;

    public BtfBuilder(BtfSpec? baseBtf = null)
    {
        Base = baseBtf;
        FirstTypeId = baseBtf is null ? 1 : baseBtf.MaxTypeId + 1;
    }

    public BtfSpec? Base { get; }
    public uint FirstTypeId { get; }
    public IReadOnlyList<BtfType> Types => _types;

    /// <summary>The id the next added type will get.</summary>
    public uint NextTypeId => FirstTypeId + (uint)_types.Count;

    /// <summary>Appends any type (for example one copied from another BTF whose ids match) and returns its id.</summary>
    public uint Add(BtfType type)
    {
        if ((uint)_types.Count >= BtfSpec.MaxTypes)
            throw new BpfException(Errno.E2BIG, $"more than {BtfSpec.MaxTypes} types");
        uint id = NextTypeId;
        type.Id = id;
        _types.Add(type);
        return id;
    }

    public uint AddInt(string name, uint size, BtfIntEncoding encoding = BtfIntEncoding.None) =>
        Add(new BtfInt(name, size, encoding, 0, checked((byte)(size * 8 > 128 ? 128 : size * 8))));

    public uint AddInt(string name, uint size, BtfIntEncoding encoding, byte bitOffset, byte bits) =>
        Add(new BtfInt(name, size, encoding, bitOffset, bits));

    public uint AddFloat(string name, uint size) => Add(new BtfFloat(name, size));
    public uint AddPtr(uint type) => Add(new BtfPtr(type));
    public uint AddConst(uint type) => Add(new BtfConst(type));
    public uint AddVolatile(uint type) => Add(new BtfVolatile(type));
    public uint AddRestrict(uint type) => Add(new BtfRestrict(type));
    public uint AddTypedef(string name, uint type) => Add(new BtfTypedef(name, type));
    public uint AddTypeTag(string value, uint type) => Add(new BtfTypeTag(value, type));
    public uint AddFwd(string name, bool isUnion = false) => Add(new BtfFwd(name, isUnion));

    /// <summary>An array of <paramref name="count"/> elements; the index type defaults to a shared 4-byte "__ARRAY_SIZE_TYPE__" int, as clang does.</summary>
    public uint AddArray(uint elementType, uint count, uint? indexType = null)
    {
        if (indexType is null && _arraySizeType == 0)
            _arraySizeType = AddInt("__ARRAY_SIZE_TYPE__", 4);
        return Add(new BtfArray(elementType, indexType ?? _arraySizeType, count));
    }

    public uint AddStruct(string name, uint size, params BtfMember[] members) => Add(new BtfStruct(name, size, members));
    public uint AddUnion(string name, uint size, params BtfMember[] members) => Add(new BtfUnion(name, size, members));

    /// <summary>
    /// A struct laid out like C on BPF (each field at its natural alignment, size rounded up to the largest
    /// alignment): the easy way for hosts to describe a context type.
    /// </summary>
    public uint AddStructLayout(string name, params (string Name, uint Type)[] fields) => AddLayout(name, fields, union: false);

    /// <summary>A union of the given fields, all at offset 0, sized to the largest.</summary>
    public uint AddUnionLayout(string name, params (string Name, uint Type)[] fields) => AddLayout(name, fields, union: true);

    private uint AddLayout(string name, (string Name, uint Type)[] fields, bool union)
    {
        var view = View();
        var members = new BtfMember[fields.Length];
        ulong offset = 0, size = 0;
        uint maxAlign = 1;
        for (int i = 0; i < fields.Length; i++)
        {
            uint align = view.AlignOf(fields[i].Type);
            uint fieldSize = view.SizeOf(fields[i].Type);
            maxAlign = Math.Max(maxAlign, align);
            if (!union)
                offset = (offset + align - 1) / align * align;
            members[i] = new BtfMember(fields[i].Name, fields[i].Type, checked((uint)(union ? 0 : offset * 8)));
            size = union ? Math.Max(size, fieldSize) : offset + fieldSize;
            if (!union)
                offset += fieldSize;
        }
        size = (size + maxAlign - 1) / maxAlign * maxAlign;
        uint total = checked((uint)size);
        return union ? AddUnion(name, total, members) : AddStruct(name, total, members);
    }

    public uint AddEnum(string name, uint size, IReadOnlyList<BtfEnumValue> values, bool isSigned = false) =>
        Add(new BtfEnum(name, size, values, isSigned));

    public uint AddEnum64(string name, IReadOnlyList<BtfEnumValue> values, bool isSigned = false) =>
        Add(new BtfEnum64(name, 8, values, isSigned));

    public uint AddFuncProto(uint returnType, IReadOnlyList<BtfParam> parameters, bool variadic = false) =>
        Add(new BtfFuncProto(returnType, variadic ? [.. parameters, new BtfParam("", 0)] : parameters));

    public uint AddFunc(string name, uint protoType, BtfFuncLinkage linkage = BtfFuncLinkage.Global) =>
        Add(new BtfFunc(name, protoType, linkage));

    public uint AddVar(string name, uint type, BtfVarLinkage linkage = BtfVarLinkage.GlobalAllocated) =>
        Add(new BtfVar(name, type, linkage));

    public uint AddDatasec(string name, uint size, params BtfVarSecinfo[] variables) => Add(new BtfDatasec(name, size, variables));

    /// <summary>A decl tag on a type (componentIndex -1), a member or a parameter (e.g. "arg:ctx" on param 0).</summary>
    public uint AddDeclTag(string value, uint type, int componentIndex = -1) => Add(new BtfDeclTag(value, type, componentIndex));

    /// <summary>Raw BTF bytes (split BTF when the builder has a base).</summary>
    public byte[] ToBytes() => BtfWriter.Write(_types, Base);

    /// <summary>The built BTF, encoded and parsed back so it is exactly what a consumer of the bytes sees.</summary>
    public BtfSpec Build() => BtfSpec.Parse(ToBytes(), Base);

    /// <summary>A read-only view over the types added so far, for size/alignment queries while building.</summary>
    private BtfSpec View() => new(default, Base, [.. _types], [0]);
}
