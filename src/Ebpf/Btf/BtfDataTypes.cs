namespace Ebpf.Btf;

/// <summary>BTF_KIND_VAR: a global or static variable.</summary>
public sealed class BtfVar(string name, uint type, BtfVarLinkage linkage) : BtfType(name)
{
    /// <inheritdoc/>
    public override BtfKind Kind => BtfKind.Var;
    /// <summary>The id of the variable's type.</summary>
    public uint Type { get; } = type;
    /// <summary>Static, global or extern.</summary>
    public BtfVarLinkage Linkage { get; } = linkage;
    internal override int EncodedSize => 16;
    /// <inheritdoc/>
    public override IEnumerable<uint> References() => [Type];
}

/// <summary>One <c>btf_var_secinfo</c>: a VAR (or FUNC for extern ksyms) placed at Offset in the section.</summary>
public readonly record struct BtfVarSecinfo(uint Type, uint Offset, uint Size);

/// <summary>BTF_KIND_DATASEC: an ELF data section (.data, .bss, .rodata, .maps, .kconfig, …) and its variables.</summary>
public sealed class BtfDatasec : BtfType
{
    private readonly BtfVarSecinfo[] _vars;

    /// <summary>A section of <paramref name="size"/> bytes holding <paramref name="variables"/>.</summary>
    public BtfDatasec(string name, uint size, IReadOnlyList<BtfVarSecinfo> variables) : base(name)
    {
        Size = size;
        _vars = [.. variables];
    }

    /// <summary>For the reader: takes <paramref name="variables"/> as is, no copy.</summary>
    internal BtfDatasec(string name, uint size, BtfVarSecinfo[] variables, ArrayOwnership _) : base(name)
    {
        Size = size;
        _vars = variables;
    }

    /// <inheritdoc/>
    public override BtfKind Kind => BtfKind.Datasec;

    /// <summary>Section size (clang writes 0 and libbpf fills it from the ELF section before loading).</summary>
    public uint Size { get; }

    /// <summary>The variables (and extern functions) in the section, with their offsets and sizes.</summary>
    public IReadOnlyList<BtfVarSecinfo> Variables => _vars;
    /// <inheritdoc/>
    public override int Vlen => _vars.Length;
    internal override int EncodedSize => 12 + 12 * _vars.Length;
    /// <inheritdoc/>
    public override IEnumerable<uint> References() => _vars.Select(v => v.Type);
}
