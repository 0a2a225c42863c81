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
    /// <summary><c>BPF_CORE_FIELD_BYTE_OFFSET</c>: the field's byte offset.</summary>
    FieldByteOffset = 0,
    /// <summary><c>BPF_CORE_FIELD_BYTE_SIZE</c>: the field's size in bytes.</summary>
    FieldByteSize = 1,
    /// <summary><c>BPF_CORE_FIELD_EXISTS</c>: 1 when the field exists in the target.</summary>
    FieldExists = 2,
    /// <summary><c>BPF_CORE_FIELD_SIGNED</c>: 1 when the field is signed.</summary>
    FieldSigned = 3,
    /// <summary><c>BPF_CORE_FIELD_LSHIFT_U64</c>: left shift that isolates a bitfield in a u64.</summary>
    FieldLShiftU64 = 4,
    /// <summary><c>BPF_CORE_FIELD_RSHIFT_U64</c>: right shift that isolates a bitfield in a u64.</summary>
    FieldRShiftU64 = 5,
    /// <summary><c>BPF_CORE_TYPE_ID_LOCAL</c>: the type's id in the object's BTF.</summary>
    TypeIdLocal = 6,
    /// <summary><c>BPF_CORE_TYPE_ID_TARGET</c>: the type's id in the target BTF.</summary>
    TypeIdTarget = 7,
    /// <summary><c>BPF_CORE_TYPE_EXISTS</c>: 1 when a compatible type exists in the target.</summary>
    TypeExists = 8,
    /// <summary><c>BPF_CORE_TYPE_SIZE</c>: the type's size in the target.</summary>
    TypeSize = 9,
    /// <summary><c>BPF_CORE_ENUMVAL_EXISTS</c>: 1 when the enumerator exists in the target.</summary>
    EnumValueExists = 10,
    /// <summary><c>BPF_CORE_ENUMVAL_VALUE</c>: the enumerator's value in the target.</summary>
    EnumValueValue = 11,
    /// <summary><c>BPF_CORE_TYPE_MATCHES</c>: 1 when the target type matches by bpf_core_type_matches rules.</summary>
    TypeMatches = 12,
}

/// <summary><c>bpf_core_relo</c> with its access string ("0:1:2") resolved.</summary>
internal readonly record struct BtfCoreRelo(uint InsnOffset, uint TypeId, uint AccessStringOffset, BtfCoreReloKind Kind,
    string AccessString);

/// <summary>The records of one ELF code section inside a .BTF.ext subsection.</summary>
internal sealed record BtfExtSection<T>(string SectionName, uint SectionNameOffset, IReadOnlyList<T> Records);
