using System.Runtime.InteropServices;

namespace Ebpf.Linux.Native;

// The info structs BPF_OBJ_GET_INFO_BY_FD fills. The kernel copies min(info_len, its size) bytes,
// so these may be shorter or longer than the running kernel's version.

/// <summary>struct bpf_prog_info (232 bytes in 6.x uapi).</summary>
[StructLayout(LayoutKind.Explicit, Size = 232)]
internal unsafe struct ProgInfoNative
{
    [FieldOffset(0)] public uint Type;
    [FieldOffset(4)] public uint Id;
    [FieldOffset(8)] public fixed byte Tag[8];
    [FieldOffset(16)] public uint JitedProgLen;
    [FieldOffset(20)] public uint XlatedProgLen;
    [FieldOffset(24)] public ulong JitedProgInsns;
    [FieldOffset(32)] public ulong XlatedProgInsns;
    [FieldOffset(40)] public ulong LoadTime;
    [FieldOffset(48)] public uint CreatedByUid;
    [FieldOffset(52)] public uint NrMapIds;
    [FieldOffset(56)] public ulong MapIds;
    [FieldOffset(64)] public fixed byte Name[16];
    [FieldOffset(80)] public uint Ifindex;
    [FieldOffset(84)] public uint GplCompatible;
    [FieldOffset(88)] public ulong NetnsDev;
    [FieldOffset(96)] public ulong NetnsIno;
    [FieldOffset(104)] public uint NrJitedKsyms;
    [FieldOffset(108)] public uint NrJitedFuncLens;
    [FieldOffset(112)] public ulong JitedKsyms;
    [FieldOffset(120)] public ulong JitedFuncLens;
    [FieldOffset(128)] public uint BtfId;
    [FieldOffset(132)] public uint FuncInfoRecSize;
    [FieldOffset(136)] public ulong FuncInfo;
    [FieldOffset(144)] public uint NrFuncInfo;
    [FieldOffset(148)] public uint NrLineInfo;
    [FieldOffset(152)] public ulong LineInfo;
    [FieldOffset(160)] public ulong JitedLineInfo;
    [FieldOffset(168)] public uint NrJitedLineInfo;
    [FieldOffset(172)] public uint LineInfoRecSize;
    [FieldOffset(176)] public uint JitedLineInfoRecSize;
    [FieldOffset(180)] public uint NrProgTags;
    [FieldOffset(184)] public ulong ProgTags;
    [FieldOffset(192)] public ulong RunTimeNs;
    [FieldOffset(200)] public ulong RunCnt;
    [FieldOffset(208)] public ulong RecursionMisses;
    [FieldOffset(216)] public uint VerifiedInsns;
    [FieldOffset(220)] public uint AttachBtfObjId;
    [FieldOffset(224)] public uint AttachBtfId;
}

/// <summary>struct bpf_map_info (88 bytes).</summary>
[StructLayout(LayoutKind.Explicit, Size = 88)]
internal unsafe struct MapInfoNative
{
    [FieldOffset(0)] public uint Type;
    [FieldOffset(4)] public uint Id;
    [FieldOffset(8)] public uint KeySize;
    [FieldOffset(12)] public uint ValueSize;
    [FieldOffset(16)] public uint MaxEntries;
    [FieldOffset(20)] public uint MapFlags;
    [FieldOffset(24)] public fixed byte Name[16];
    [FieldOffset(40)] public uint Ifindex;
    [FieldOffset(44)] public uint BtfVmlinuxValueTypeId;
    [FieldOffset(48)] public ulong NetnsDev;
    [FieldOffset(56)] public ulong NetnsIno;
    [FieldOffset(64)] public uint BtfId;
    [FieldOffset(68)] public uint BtfKeyTypeId;
    [FieldOffset(72)] public uint BtfValueTypeId;
    [FieldOffset(76)] public uint BtfVmlinuxId;
    [FieldOffset(80)] public ulong MapExtra;
}

/// <summary>struct bpf_btf_info (32 bytes).</summary>
[StructLayout(LayoutKind.Explicit, Size = 32)]
internal struct BtfInfoNative
{
    [FieldOffset(0)] public ulong Btf;
    [FieldOffset(8)] public uint BtfSize;
    [FieldOffset(12)] public uint Id;
    [FieldOffset(16)] public ulong Name;
    [FieldOffset(24)] public uint NameLen;
    [FieldOffset(28)] public uint KernelBtf;
}

/// <summary>struct bpf_link_info: the common head and the first bytes of the per-type union.</summary>
[StructLayout(LayoutKind.Explicit, Size = 72)]
internal struct LinkInfoNative
{
    [FieldOffset(0)] public uint Type;
    [FieldOffset(4)] public uint Id;
    [FieldOffset(8)] public uint ProgId;
    /// <summary>raw_tracepoint.tp_name (u64 pointer) / xdp.ifindex (u32) / tracing.attach_type …</summary>
    [FieldOffset(16)] public ulong Union0;
    [FieldOffset(24)] public ulong Union1;
    [FieldOffset(32)] public ulong Union2;
    [FieldOffset(40)] public ulong Union3;
}
