using Ebpf.Abi;

namespace Ebpf.Linux;

/// <summary>What BPF_OBJ_GET_INFO_BY_FD reports about a program.</summary>
public sealed record ProgramInfo
{
    public required ProgramType Type { get; init; }
    public required uint Id { get; init; }
    /// <summary>The 8-byte program tag (a hash of the xlated instructions), as bpftool prints it in hex.</summary>
    public required byte[] Tag { get; init; }
    public required string Name { get; init; }
    public required uint JitedSize { get; init; }
    public required uint XlatedSize { get; init; }
    public required IReadOnlyList<uint> MapIds { get; init; }
    public required uint BtfId { get; init; }
    public required uint FuncInfoCount { get; init; }
    public required uint LineInfoCount { get; init; }
    public required uint VerifiedInstructions { get; init; }
    public required bool GplCompatible { get; init; }
    public required uint CreatedByUid { get; init; }
    /// <summary>Boot-time nanoseconds of the load.</summary>
    public required ulong LoadTime { get; init; }
    public required uint AttachBtfId { get; init; }
    public required uint AttachBtfObjectId { get; init; }
    public required ulong RunTimeNs { get; init; }
    public required ulong RunCount { get; init; }

    public string TagHex => Convert.ToHexStringLower(Tag);
}

/// <summary>What BPF_OBJ_GET_INFO_BY_FD reports about a map.</summary>
public sealed record MapInfo
{
    public required MapType Type { get; init; }
    public required uint Id { get; init; }
    public required uint KeySize { get; init; }
    public required uint ValueSize { get; init; }
    public required uint MaxEntries { get; init; }
    public required MapFlags Flags { get; init; }
    public required string Name { get; init; }
    public required uint BtfId { get; init; }
    public required uint BtfKeyTypeId { get; init; }
    public required uint BtfValueTypeId { get; init; }
    public required ulong MapExtra { get; init; }
}

/// <summary>What BPF_OBJ_GET_INFO_BY_FD reports about a BTF object.</summary>
public sealed record BtfInfo
{
    public required uint Id { get; init; }
    public required uint Size { get; init; }
    public required string Name { get; init; }
    public required bool IsKernelBtf { get; init; }
}

/// <summary>What BPF_OBJ_GET_INFO_BY_FD reports about a link (the common part plus the tracepoint name of raw_tp links).</summary>
public sealed record LinkInfo
{
    public required LinkType Type { get; init; }
    public required uint Id { get; init; }
    public required uint ProgramId { get; init; }
    /// <summary>The tracepoint of a raw_tracepoint link, else null.</summary>
    public string? TracepointName { get; init; }
    /// <summary>The first per-type words of the info union (cgroup_id, ifindex, …) for callers that need them.</summary>
    public required ulong[] TypeSpecific { get; init; }
}
