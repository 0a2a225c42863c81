using System.Runtime.InteropServices;

namespace Ebpf.Linux.Native;

// The members of union bpf_attr this backend fills, one explicit-layout struct per command.
// Offsets are the uapi ones (checked against <linux/bpf.h> with offsetof). Each struct is created
// zeroed (`new T()` / `default`), so the unused tail the kernel checks with CHECK_ATTR is zero, and the
// size passed to bpf(2) is the struct's own size: the kernel treats missing trailing fields as zero.

/// <summary>BPF_MAP_CREATE.</summary>
[StructLayout(LayoutKind.Explicit, Size = 72)]
internal unsafe struct MapCreateAttr
{
    [FieldOffset(0)] public uint MapType;
    [FieldOffset(4)] public uint KeySize;
    [FieldOffset(8)] public uint ValueSize;
    [FieldOffset(12)] public uint MaxEntries;
    [FieldOffset(16)] public uint MapFlags;
    [FieldOffset(20)] public uint InnerMapFd;
    [FieldOffset(24)] public uint NumaNode;
    [FieldOffset(28)] public fixed byte MapName[16];
    [FieldOffset(44)] public uint MapIfindex;
    [FieldOffset(48)] public uint BtfFd;
    [FieldOffset(52)] public uint BtfKeyTypeId;
    [FieldOffset(56)] public uint BtfValueTypeId;
    [FieldOffset(60)] public uint BtfVmlinuxValueTypeId;
    [FieldOffset(64)] public ulong MapExtra;
}

/// <summary>BPF_MAP_*_ELEM, BPF_MAP_GET_NEXT_KEY, BPF_MAP_FREEZE (value and next_key share offset 16).</summary>
[StructLayout(LayoutKind.Explicit, Size = 32)]
internal struct MapElemAttr
{
    [FieldOffset(0)] public uint MapFd;
    [FieldOffset(8)] public ulong Key;
    [FieldOffset(16)] public ulong ValueOrNextKey;
    [FieldOffset(24)] public ulong Flags;
}

/// <summary>BPF_MAP_*_BATCH.</summary>
[StructLayout(LayoutKind.Explicit, Size = 56)]
internal struct MapBatchAttr
{
    [FieldOffset(0)] public ulong InBatch;
    [FieldOffset(8)] public ulong OutBatch;
    [FieldOffset(16)] public ulong Keys;
    [FieldOffset(24)] public ulong Values;
    [FieldOffset(32)] public uint Count;
    [FieldOffset(36)] public uint MapFd;
    [FieldOffset(40)] public ulong ElemFlags;
    [FieldOffset(48)] public ulong Flags;
}

/// <summary>BPF_PROG_LOAD, up to and including log_true_size (6.4+; older kernels only see zeroes there).</summary>
[StructLayout(LayoutKind.Explicit, Size = 144)]
internal unsafe struct ProgLoadAttr
{
    [FieldOffset(0)] public uint ProgType;
    [FieldOffset(4)] public uint InsnCnt;
    [FieldOffset(8)] public ulong Insns;
    [FieldOffset(16)] public ulong License;
    [FieldOffset(24)] public uint LogLevel;
    [FieldOffset(28)] public uint LogSize;
    [FieldOffset(32)] public ulong LogBuf;
    [FieldOffset(40)] public uint KernVersion;
    [FieldOffset(44)] public uint ProgFlags;
    [FieldOffset(48)] public fixed byte ProgName[16];
    [FieldOffset(64)] public uint ProgIfindex;
    [FieldOffset(68)] public uint ExpectedAttachType;
    [FieldOffset(72)] public uint ProgBtfFd;
    [FieldOffset(76)] public uint FuncInfoRecSize;
    [FieldOffset(80)] public ulong FuncInfo;
    [FieldOffset(88)] public uint FuncInfoCnt;
    [FieldOffset(92)] public uint LineInfoRecSize;
    [FieldOffset(96)] public ulong LineInfo;
    [FieldOffset(104)] public uint LineInfoCnt;
    [FieldOffset(108)] public uint AttachBtfId;
    [FieldOffset(112)] public uint AttachProgFd;
    [FieldOffset(116)] public uint CoreReloCnt;
    [FieldOffset(120)] public ulong FdArray;
    [FieldOffset(128)] public ulong CoreRelos;
    [FieldOffset(136)] public uint CoreReloRecSize;
    [FieldOffset(140)] public uint LogTrueSize;
}

/// <summary>BPF_OBJ_PIN / BPF_OBJ_GET (path_fd is not used: absolute paths only).</summary>
[StructLayout(LayoutKind.Explicit, Size = 16)]
internal struct ObjPinAttr
{
    [FieldOffset(0)] public ulong Pathname;
    [FieldOffset(8)] public uint BpfFd;
    [FieldOffset(12)] public uint FileFlags;
}

/// <summary>BPF_PROG_TEST_RUN (layout in program-types.md §3.0).</summary>
[StructLayout(LayoutKind.Explicit, Size = 76)]
internal struct TestRunAttr
{
    [FieldOffset(0)] public uint ProgFd;
    [FieldOffset(4)] public uint Retval;
    [FieldOffset(8)] public uint DataSizeIn;
    [FieldOffset(12)] public uint DataSizeOut;
    [FieldOffset(16)] public ulong DataIn;
    [FieldOffset(24)] public ulong DataOut;
    [FieldOffset(32)] public uint Repeat;
    [FieldOffset(36)] public uint Duration;
    [FieldOffset(40)] public uint CtxSizeIn;
    [FieldOffset(44)] public uint CtxSizeOut;
    [FieldOffset(48)] public ulong CtxIn;
    [FieldOffset(56)] public ulong CtxOut;
    [FieldOffset(64)] public uint Flags;
    [FieldOffset(68)] public uint Cpu;
    [FieldOffset(72)] public uint BatchSize;
}

/// <summary>BPF_*_GET_NEXT_ID and BPF_*_GET_FD_BY_ID (start_id/prog_id/map_id/btf_id/link_id share offset 0).</summary>
[StructLayout(LayoutKind.Explicit, Size = 12)]
internal struct GetIdAttr
{
    [FieldOffset(0)] public uint Id;
    [FieldOffset(4)] public uint NextId;
    [FieldOffset(8)] public uint OpenFlags;
}

/// <summary>BPF_OBJ_GET_INFO_BY_FD.</summary>
[StructLayout(LayoutKind.Explicit, Size = 16)]
internal struct InfoAttr
{
    [FieldOffset(0)] public uint BpfFd;
    [FieldOffset(4)] public uint InfoLen;
    [FieldOffset(8)] public ulong Info;
}

/// <summary>BPF_BTF_LOAD, up to and including btf_log_true_size.</summary>
[StructLayout(LayoutKind.Explicit, Size = 32)]
internal struct BtfLoadAttr
{
    [FieldOffset(0)] public ulong Btf;
    [FieldOffset(8)] public ulong BtfLogBuf;
    [FieldOffset(16)] public uint BtfSize;
    [FieldOffset(20)] public uint BtfLogSize;
    [FieldOffset(24)] public uint BtfLogLevel;
    [FieldOffset(28)] public uint BtfLogTrueSize;
}

/// <summary>BPF_LINK_CREATE: the generic head plus the first words of the per-type union.</summary>
[StructLayout(LayoutKind.Explicit, Size = 48)]
internal struct LinkCreateAttr
{
    [FieldOffset(0)] public uint ProgFd;
    [FieldOffset(4)] public uint TargetFdOrIfindex;
    [FieldOffset(8)] public uint AttachType;
    [FieldOffset(12)] public uint Flags;
    /// <summary>target_btf_id, or iter_info (u64) / perf_event.bpf_cookie, depending on the link type.</summary>
    [FieldOffset(16)] public ulong Union0;
    /// <summary>iter_info_len / tracing.cookie (offset 24), depending on the link type.</summary>
    [FieldOffset(24)] public ulong Union1;
    [FieldOffset(32)] public ulong Union2;
    [FieldOffset(40)] public ulong Union3;
}

/// <summary>BPF_ITER_CREATE.</summary>
[StructLayout(LayoutKind.Explicit, Size = 8)]
internal struct IterCreateAttr
{
    [FieldOffset(0)] public uint LinkFd;
    [FieldOffset(4)] public uint Flags;
}

/// <summary>BPF_LINK_UPDATE.</summary>
[StructLayout(LayoutKind.Explicit, Size = 16)]
internal struct LinkUpdateAttr
{
    [FieldOffset(0)] public uint LinkFd;
    [FieldOffset(4)] public uint NewProgFd;
    [FieldOffset(8)] public uint Flags;
    [FieldOffset(12)] public uint OldProgFd;
}

/// <summary>BPF_LINK_DETACH.</summary>
[StructLayout(LayoutKind.Explicit, Size = 4)]
internal struct LinkDetachAttr
{
    [FieldOffset(0)] public uint LinkFd;
}

/// <summary>BPF_PROG_BIND_MAP.</summary>
[StructLayout(LayoutKind.Explicit, Size = 12)]
internal struct ProgBindMapAttr
{
    [FieldOffset(0)] public uint ProgFd;
    [FieldOffset(4)] public uint MapFd;
    [FieldOffset(8)] public uint Flags;
}

/// <summary>BPF_RAW_TRACEPOINT_OPEN (cookie, 6.10+, left zero).</summary>
[StructLayout(LayoutKind.Explicit, Size = 16)]
internal struct RawTracepointOpenAttr
{
    [FieldOffset(0)] public ulong Name;
    [FieldOffset(8)] public uint ProgFd;
}
