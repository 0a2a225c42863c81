namespace Ebpf.Btf;

/// <summary><c>struct btf_ext_header</c>; offsets are relative to the end of the header.</summary>
internal readonly record struct BtfExtHeader(
    ushort Magic, byte Version, byte Flags, uint HeaderLength,
    uint FuncInfoOffset, uint FuncInfoLength, uint LineInfoOffset, uint LineInfoLength,
    uint CoreReloOffset, uint CoreReloLength);

/// <summary><c>bpf_func_info</c>: the function starting at <see cref="InsnOffset"/> (bytes, section-relative in the ELF) has FUNC <see cref="TypeId"/>.</summary>
internal readonly record struct BtfFuncInfo(uint InsnOffset, uint TypeId);

/// <summary>
/// <c>bpf_line_info</c> with its strings resolved. <see cref="InsnOffset"/> is in bytes, section-relative, as in the
/// ELF file; the loader rebases it per program and converts it to instructions.
/// </summary>
internal readonly record struct BtfLineInfo(uint InsnOffset, uint FileNameOffset, uint LineOffset, uint LineCol,
    string FileName, string SourceLine)
{
    /// <summary>BPF_LINE_INFO_LINE_NUM: the upper 22 bits of line_col.</summary>
    public uint Line => LineCol >> 10;

    /// <summary>BPF_LINE_INFO_LINE_COL: the lower 10 bits of line_col.</summary>
    public uint Column => LineCol & 0x3ff;
}

/// <summary>enum bpf_core_relo_kind.</summary>
public enum BtfCoreReloKind : uint
{
    FieldByteOffset = 0,
    FieldByteSize = 1,
    FieldExists = 2,
    FieldSigned = 3,
    FieldLShiftU64 = 4,
    FieldRShiftU64 = 5,
    TypeIdLocal = 6,
    TypeIdTarget = 7,
    TypeExists = 8,
    TypeSize = 9,
    EnumValueExists = 10,
    EnumValueValue = 11,
    TypeMatches = 12,
}

/// <summary><c>bpf_core_relo</c> with its access string ("0:1:2") resolved.</summary>
internal readonly record struct BtfCoreRelo(uint InsnOffset, uint TypeId, uint AccessStringOffset, BtfCoreReloKind Kind,
    string AccessString);

/// <summary>The records of one ELF code section inside a .BTF.ext subsection.</summary>
internal sealed record BtfExtSection<T>(string SectionName, uint SectionNameOffset, IReadOnlyList<T> Records);
