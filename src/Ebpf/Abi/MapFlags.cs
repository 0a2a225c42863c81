namespace Ebpf.Abi;

/// <summary>map_flags of BPF_MAP_CREATE.</summary>
[Flags]
public enum MapFlags : uint
{
    /// <summary>No flags: a preallocated, read-write map.</summary>
    None = 0,
    /// <summary><c>BPF_F_NO_PREALLOC</c>: allocate hash elements on update instead of at creation.</summary>
    NoPrealloc = 1 << 0,
    /// <summary><c>BPF_F_NO_COMMON_LRU</c>: per-CPU LRU lists instead of one shared list.</summary>
    NoCommonLru = 1 << 1,
    /// <summary><c>BPF_F_NUMA_NODE</c>: <c>numa_node</c> of the create attributes is valid.</summary>
    NumaNode = 1 << 2,
    /// <summary><c>BPF_F_RDONLY</c>: user space may only read through this map fd.</summary>
    Rdonly = 1 << 3,
    /// <summary><c>BPF_F_WRONLY</c>: user space may only write through this map fd.</summary>
    Wronly = 1 << 4,
    /// <summary><c>BPF_F_STACK_BUILD_ID</c>: stack-trace maps store build id + offset instead of addresses.</summary>
    StackBuildId = 1 << 5,
    /// <summary><c>BPF_F_ZERO_SEED</c>: hash with a zero seed (reproducible layouts, for testing).</summary>
    ZeroSeed = 1 << 6,
    /// <summary><c>BPF_F_RDONLY_PROG</c>: programs may only read the map.</summary>
    RdonlyProg = 1 << 7,
    /// <summary><c>BPF_F_WRONLY_PROG</c>: programs may only write the map.</summary>
    WronlyProg = 1 << 8,
    /// <summary><c>BPF_F_CLONE</c>: socket-local storage is cloned to child sockets.</summary>
    Clone = 1 << 9,
    /// <summary><c>BPF_F_MMAPABLE</c>: the array's values can be mmap()ed.</summary>
    Mmapable = 1 << 10,
    /// <summary><c>BPF_F_PRESERVE_ELEMS</c>: perf event array entries survive the closing of the map fd.</summary>
    PreserveElems = 1 << 11,
    /// <summary><c>BPF_F_INNER_MAP</c>: an inner-map template whose max_entries may differ per inner map.</summary>
    InnerMap = 1 << 12,
    /// <summary><c>BPF_F_LINK</c>: struct_ops map attached through a link.</summary>
    Link = 1 << 13,
    /// <summary><c>BPF_F_PATH_FD</c>: the pin path is relative to <c>path_fd</c> (obj pin/get).</summary>
    PathFd = 1 << 14,
    /// <summary>
    /// <c>BPF_F_VTYPE_BTF_OBJ_FD</c>: the value type id refers to the module BTF in <c>value_type_btf_obj_fd</c>.
    /// </summary>
    VtypeBtfObjFd = 1 << 15,
    /// <summary><c>BPF_F_TOKEN_FD</c>: the create call carries a BPF token fd.</summary>
    TokenFd = 1 << 16,
    /// <summary>
    /// <c>BPF_F_SEGV_ON_FAULT</c>: arena faults from user space raise SIGSEGV instead of mapping a zero page.
    /// </summary>
    SegvOnFault = 1 << 17,
    /// <summary><c>BPF_F_NO_USER_CONV</c>: arena pointers are not converted to user addresses.</summary>
    NoUserConv = 1 << 18,
}

/// <summary>flags of BPF_MAP_UPDATE_ELEM / map_update_elem and the lookup F_LOCK flag.</summary>
[Flags]
public enum MapUpdateFlags : ulong
{
    /// <summary><c>BPF_ANY</c>: create the element or update an existing one.</summary>
    Any = 0,
    /// <summary><c>BPF_NOEXIST</c>: create only; EEXIST when the key is present.</summary>
    NoExist = 1,
    /// <summary><c>BPF_EXIST</c>: update only; ENOENT when the key is absent.</summary>
    Exist = 2,
    /// <summary><c>BPF_F_LOCK</c>: copy the value under its <c>bpf_spin_lock</c>.</summary>
    Lock = 4,
}

/// <summary>Pinning mode of a BTF-defined map (libbpf's LIBBPF_PIN_*).</summary>
public enum MapPinning : uint
{
    /// <summary><c>LIBBPF_PIN_NONE</c>: the map is not pinned.</summary>
    None = 0,
    /// <summary>
    /// <c>LIBBPF_PIN_BY_NAME</c>: the map is pinned (and reused) at <c>&lt;pin root&gt;/&lt;map name&gt;</c>.
    /// </summary>
    ByName = 1,
}
