using Ebpf.Abi;

namespace Ebpf.Collections;

/// <summary>bpf_prog_info: what BPF_OBJ_GET_INFO_BY_FD reports about a program (the fields bpftool shows), on every backend.</summary>
public sealed record ProgramInfo
{
    /// <summary>The program id.</summary>
    public required uint Id { get; init; }
    /// <summary>The program type.</summary>
    public required ProgramType Type { get; init; }
    /// <summary>The stored name.</summary>
    public required string Name { get; init; }
    /// <summary>The 8-byte program tag (a hash of the instructions with map references zeroed).</summary>
    public required byte[] Tag { get; init; }
    /// <summary>Ids of the maps the program uses.</summary>
    public required IReadOnlyList<uint> MapIds { get; init; }
    /// <summary>The program's BTF object id, or 0.</summary>
    public uint BtfId { get; init; }
    /// <summary>When it was loaded (wall clock).</summary>
    public DateTimeOffset LoadTime { get; init; }
    /// <summary>Bytes of the translated program.</summary>
    public uint XlatedSize { get; init; }
    /// <summary>Bytes of the JIT's output (the managed runtime: bytes of IL emitted).</summary>
    public uint JitedSize { get; init; }
    /// <summary>Whether the license is GPL-compatible.</summary>
    public bool GplCompatible { get; init; }
    /// <summary>Instructions the verifier processed.</summary>
    public uint VerifiedInstructions { get; init; }
    /// <summary>func_info records.</summary>
    public uint FuncInfoCount { get; init; }
    /// <summary>line_info records.</summary>
    public uint LineInfoCount { get; init; }
    /// <summary>attach_btf_id.</summary>
    public uint AttachBtfId { get; init; }
    /// <summary>attach_btf_obj_id.</summary>
    public uint AttachBtfObjectId { get; init; }
    /// <summary>run_time_ns (with kernel.bpf_stats_enabled).</summary>
    public ulong RunTimeNs { get; init; }
    /// <summary>run_cnt (with kernel.bpf_stats_enabled).</summary>
    public ulong RunCount { get; init; }
    /// <summary>Memory the object accounts (fdinfo memlock), when the backend knows it.</summary>
    public long? Memlock { get; init; }
    /// <summary>The tag as bpftool prints it.</summary>
    public string TagHex => Convert.ToHexStringLower(Tag);
}

/// <summary>bpf_map_info: what BPF_OBJ_GET_INFO_BY_FD reports about a map, on every backend.</summary>
public sealed record MapInfo
{
    /// <summary>The map id.</summary>
    public required uint Id { get; init; }
    /// <summary>The map type.</summary>
    public required MapType Type { get; init; }
    /// <summary>The stored name.</summary>
    public required string Name { get; init; }
    /// <summary>key_size.</summary>
    public uint KeySize { get; init; }
    /// <summary>value_size.</summary>
    public uint ValueSize { get; init; }
    /// <summary>max_entries.</summary>
    public uint MaxEntries { get; init; }
    /// <summary>map_flags without the per-fd BPF_F_RDONLY/WRONLY.</summary>
    public MapFlags Flags { get; init; }
    /// <summary>map_extra.</summary>
    public ulong MapExtra { get; init; }
    /// <summary>The map's BTF object id, or 0.</summary>
    public uint BtfId { get; init; }
    /// <summary>btf_key_type_id.</summary>
    public uint BtfKeyTypeId { get; init; }
    /// <summary>btf_value_type_id.</summary>
    public uint BtfValueTypeId { get; init; }
    /// <summary>BPF_MAP_FREEZE done.</summary>
    public bool Frozen { get; init; }
    /// <summary>Memory the object accounts (fdinfo memlock), when the backend knows it.</summary>
    public long? Memlock { get; init; }
}

/// <summary>bpf_btf_info.</summary>
public sealed record BtfInfo
{
    /// <summary>The BTF object id.</summary>
    public required uint Id { get; init; }
    /// <summary>Bytes of raw BTF.</summary>
    public uint Size { get; init; }
    /// <summary>vmlinux or a module's name; empty for a program's BTF.</summary>
    public string Name { get; init; } = "";
    /// <summary>vmlinux or module BTF, as opposed to a program's own.</summary>
    public bool IsKernel { get; init; }
}

/// <summary>bpf_link_info (the common part).</summary>
public sealed record LinkInfo
{
    /// <summary>The link id.</summary>
    public required uint Id { get; init; }
    /// <summary>The link type.</summary>
    public required LinkType Type { get; init; }
    /// <summary>The attached program's id (0 once detached, as the kernel reports).</summary>
    public uint ProgramId { get; init; }
    /// <summary>The attach type, where the backend reports it.</summary>
    public AttachType AttachType { get; init; }
    /// <summary>Whether the link has been detached.</summary>
    public bool Detached { get; init; }
    /// <summary>The tracepoint of a raw_tracepoint link, else null.</summary>
    public string? TracepointName { get; init; }
    /// <summary>The first per-type words of the info union (cgroup_id, ifindex, …).</summary>
    public IReadOnlyList<ulong> TypeSpecific { get; init; } = [];
    /// <summary>Tracing links: the target program's id (bpf_link_info.tracing.target_obj_id), 0 for a kernel function.</summary>
    public uint TargetObjectId { get; init; }
    /// <summary>Iterator links: bpf_link_info.iter.target_name (bpf_map_elem, bpf_map, …).</summary>
    public string? IterTargetName { get; init; }
    /// <summary>Iterator links over a map (bpf_map_elem): bpf_link_info.iter.map.map_id.</summary>
    public uint IterMapId { get; init; }
    /// <summary>Tracing links: the target function's BTF id (bpf_link_info.tracing.target_btf_id).</summary>
    public uint TargetBtfId { get; init; }
    /// <summary>Tracing links: the attach cookie (bpf_link_info.tracing.cookie, 6.x).</summary>
    public ulong Cookie { get; init; }
    /// <summary>XDP links: the device (bpf_link_info.xdp.ifindex), 0 once the link is defunct (detached, or its device gone).</summary>
    public int Ifindex { get; init; }
}
