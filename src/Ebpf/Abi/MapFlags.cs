namespace Ebpf.Abi;

/// <summary>map_flags of BPF_MAP_CREATE.</summary>
[Flags]
public enum MapFlags : uint
{
    None = 0,
    NoPrealloc = 1 << 0,
    NoCommonLru = 1 << 1,
    NumaNode = 1 << 2,
    Rdonly = 1 << 3,
    Wronly = 1 << 4,
    StackBuildId = 1 << 5,
    ZeroSeed = 1 << 6,
    RdonlyProg = 1 << 7,
    WronlyProg = 1 << 8,
    Clone = 1 << 9,
    Mmapable = 1 << 10,
    PreserveElems = 1 << 11,
    InnerMap = 1 << 12,
    Link = 1 << 13,
    PathFd = 1 << 14,
    VtypeBtfObjFd = 1 << 15,
    TokenFd = 1 << 16,
    SegvOnFault = 1 << 17,
    NoUserConv = 1 << 18,
}

/// <summary>flags of BPF_MAP_UPDATE_ELEM / map_update_elem and the lookup F_LOCK flag.</summary>
[Flags]
public enum MapUpdateFlags : ulong
{
    Any = 0,
    NoExist = 1,
    Exist = 2,
    Lock = 4,
}

/// <summary>Pinning mode of a BTF-defined map (libbpf's LIBBPF_PIN_*).</summary>
public enum MapPinning : uint
{
    None = 0,
    ByName = 1,
}
