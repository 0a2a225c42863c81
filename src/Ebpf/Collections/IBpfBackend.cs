using Ebpf.Abi;
using Ebpf.Isa;
using Ebpf.Loading;

namespace Ebpf.Collections;

/// <summary>
/// The platform layer beneath the live object model: what bpf(2) offers, implemented by the managed runtime
/// (<c>Ebpf.Runtime.BpfRuntime.Backend</c>) and by the Linux kernel (<c>Ebpf.Linux.LinuxBackend</c>). The live
/// types (<see cref="BpfMap"/>, <see cref="BpfProgram"/>, <see cref="BpfLink"/>, <see cref="BtfHandle"/>) and the
/// collection loader (<see cref="BpfCollection.Load"/>) are written once over it.
/// </summary>
public interface IBpfBackend
{
    /// <summary>"managed" or "linux".</summary>
    string Name { get; }

    /// <summary>The kernel this backend behaves as (features drive the loader's fall-backs).</summary>
    Abi.Profiles.KernelProfile Profile { get; }

    /// <summary>Possible CPUs: per-CPU value slots, the default size of perf event arrays.</summary>
    int PossibleCpus { get; }

    /// <summary>The page size ring buffer sizes are rounded to.</summary>
    int PageSize { get; }

    // ---- creation ----

    /// <summary>BPF_MAP_CREATE: the first (user) handle.</summary>
    BpfMap CreateMap(MapDefinition definition, BtfHandle? btf = null);

    /// <summary>BPF_BTF_LOAD of raw BTF bytes (a refused blob's log is in the exception).</summary>
    BtfHandle LoadBtf(ReadOnlyMemory<byte> data, string name = "");

    /// <summary>BPF_PROG_LOAD; <paramref name="usedMaps"/> are what the definition's map-index lddw's name.</summary>
    BpfProgram LoadProgram(ProgramDefinition definition, IReadOnlyList<BpfMap>? usedMaps = null, BtfHandle? btf = null, ProgramLoadOptions? options = null);

    // ---- ids and pins ----

    /// <summary>*_GET_NEXT_ID from 0: every live id of a kind, ascending.</summary>
    IReadOnlyList<uint> GetIds(ObjectKind kind);

    /// <summary>*_GET_FD_BY_ID (ENOENT when the id is gone).</summary>
    BpfHandle Open(ObjectKind kind, uint id, MapAccess access = MapAccess.ReadWrite);

    /// <summary>BPF_OBJ_PIN.</summary>
    void Pin(BpfHandle handle, string path);

    /// <summary>BPF_OBJ_GET: a new handle on the pinned object; null when nothing is pinned there (ENOENT).</summary>
    BpfHandle? GetPinned(string path, MapAccess access = MapAccess.ReadWrite);

    /// <summary>unlink(2) of a pin.</summary>
    void Unpin(string path);

    /// <summary>mkdir -p in the bpffs.</summary>
    void CreatePinDirectory(string path);

    /// <summary>rmdir(2) in the bpffs (ENOTEMPTY while it holds anything, ENOTDIR on a pin).</summary>
    void RemovePinDirectory(string path);

    /// <summary>The entries directly under a bpffs directory, by name: subdirectories and pins with their object.</summary>
    IReadOnlyList<PinEntry> ListPinDirectory(string path);

    /// <summary>Refuses (EINVAL, naming why) a pin path that can never hold a pin, before anything is created.</summary>
    void CheckPinTarget(string path, bool directory);

    /// <summary>Every pinned program, map and link with its paths (bpftool's -f table).</summary>
    IReadOnlyDictionary<(ObjectKind Kind, uint Id), IReadOnlyList<string>> ListPins();

    // ---- handles ----

    /// <summary>Drops the handle's reference (close(2)).</summary>
    void Release(BpfHandle handle);

    /// <summary>dup(2).</summary>
    BpfHandle Duplicate(BpfHandle handle);

    // ---- map commands ----

    /// <summary>BPF_MAP_LOOKUP_ELEM or LOOKUP_AND_DELETE_ELEM; false on ENOENT.</summary>
    bool MapLookup(BpfMap map, ReadOnlySpan<byte> key, Span<byte> value, MapUpdateFlags flags, bool delete);

    /// <summary>BPF_MAP_UPDATE_ELEM.</summary>
    void MapUpdate(BpfMap map, ReadOnlySpan<byte> key, ReadOnlySpan<byte> value, MapUpdateFlags flags);

    /// <summary>BPF_MAP_UPDATE_ELEM with a program or map (its fd) as the value.</summary>
    void MapUpdate(BpfMap map, ReadOnlySpan<byte> key, BpfHandle value, MapUpdateFlags flags);

    /// <summary>BPF_MAP_DELETE_ELEM; false on ENOENT.</summary>
    bool MapDelete(BpfMap map, ReadOnlySpan<byte> key);

    /// <summary>BPF_MAP_GET_NEXT_KEY; false at the end.</summary>
    bool MapGetNextKey(BpfMap map, ReadOnlySpan<byte> key, Span<byte> nextKey);

    /// <summary>BPF_MAP_FREEZE.</summary>
    void MapFreeze(BpfMap map);

    // ---- programs, links, info ----

    /// <summary>BPF_PROG_TEST_RUN.</summary>
    TestRunResult TestRun(BpfProgram program, TestRunOptions options);

    /// <summary>The translated ("xlated") instructions.</summary>
    Instruction[] GetTranslatedInstructions(BpfProgram program);

    /// <summary>BPF_PROG_BIND_MAP.</summary>
    void BindMap(BpfProgram program, BpfMap map);

    /// <summary>
    /// BPF_LINK_CREATE of a tracing link (fentry/fexit/freplace on a BPF program): without a target, the function the
    /// program was loaded against; an extension may name another (<paramref name="target"/> and its FUNC's
    /// <paramref name="targetBtfId"/>, both or neither).
    /// </summary>
    BpfLink AttachTracing(BpfProgram program, BpfProgram? target, uint targetBtfId, ulong cookie);

    /// <summary>
    /// BPF_LINK_CREATE of an iterator link (BPF_TRACE_ITER) for an iterator program; <paramref name="map"/> is
    /// iter_info's map_fd (bpf_map_elem iterators need it: EBADF without).
    /// </summary>
    BpfLink AttachIterator(BpfProgram program, BpfMap? map);

    /// <summary>BPF_ITER_CREATE: a new iterator (a new session) over an iterator link.</summary>
    BpfIterator CreateIterator(BpfLink link);

    /// <summary>open(2) of a pinned iterator link: a new iterator, as <c>cat</c> on a bpftool-pinned iterator.</summary>
    BpfIterator OpenPinnedIterator(string path);

    /// <summary>BPF_LINK_UPDATE.</summary>
    void LinkUpdate(BpfLink link, BpfProgram newProgram, BpfProgram? expected);

    /// <summary>BPF_LINK_DETACH.</summary>
    void LinkDetach(BpfLink link);

    /// <summary>BPF_OBJ_GET_INFO_BY_FD of a program.</summary>
    ProgramInfo GetInfo(BpfProgram program);

    /// <summary>BPF_OBJ_GET_INFO_BY_FD of a map.</summary>
    MapInfo GetInfo(BpfMap map);

    /// <summary>BPF_OBJ_GET_INFO_BY_FD of a link.</summary>
    LinkInfo GetInfo(BpfLink link);

    /// <summary>BPF_OBJ_GET_INFO_BY_FD of a BTF object.</summary>
    BtfInfo GetInfo(BtfHandle btf);

    /// <summary>The raw BTF of a BTF object.</summary>
    byte[] GetBtfData(BtfHandle btf);

    /// <summary>bpf_trace_printk output since the last call (EOPNOTSUPP where it is a system file).</summary>
    IReadOnlyList<string> DrainTraceLog();

    // ---- network devices and XDP ----

    /// <summary>if_nametoindex: the device's ifindex (ENODEV when there is none).</summary>
    int GetDeviceIndex(string name);

    /// <summary>Every network device (RTM_GETLINK dump), by ifindex.</summary>
    IReadOnlyList<NetDeviceInfo> ListDevices();

    /// <summary>
    /// Creates a device (RTM_NEWLINK): <paramref name="kind"/> "veth" with <paramref name="peerName"/> makes a pair (the
    /// first returned), "dummy" a single device. EEXIST when a name is taken.
    /// </summary>
    IReadOnlyList<NetDeviceInfo> CreateDevice(string name, string kind, string? peerName = null);

    /// <summary>
    /// Removes a device (RTM_DELLINK; a veth takes its peer with it). Its XDP programs are detached and its XDP links
    /// become defunct (ifindex 0). Removing lo is refused (EOPNOTSUPP as the kernel refuses to delete it).
    /// </summary>
    void DeleteDevice(int ifindex);

    /// <summary>
    /// Netlink IFLA_XDP (dev_change_xdp_fd): attaches <paramref name="program"/> (null detaches) in the mode of
    /// <paramref name="flags"/>. <see cref="XdpFlags.UpdateIfNoExist"/>: EBUSY if a program is attached;
    /// <see cref="XdpFlags.Replace"/>: only if <paramref name="expected"/> (null: nothing) is the attached one, else EEXIST
    /// "Active program does not match expected". EBUSY "Can't replace active BPF XDP link" when a link holds the slot.
    /// Errors carry the kernel's extack message.
    /// </summary>
    void XdpAttach(int ifindex, BpfProgram? program, XdpFlags flags, BpfProgram? expected = null);

    /// <summary>The device's XDP state (RTM_GETLINK IFLA_XDP, and the links holding its modes).</summary>
    XdpDeviceState XdpQuery(int ifindex);

    /// <summary>
    /// BPF_LINK_CREATE with attach_type BPF_XDP, target_ifindex and mode-only <paramref name="flags"/>
    /// (bpf_xdp_link_attach): the link owns the device's slot until released or detached.
    /// </summary>
    BpfLink AttachXdp(BpfProgram program, int ifindex, XdpFlags flags);

    // ---- what the collection loader asks the platform ----

    /// <summary>Writes the .kconfig externs' values into the .kconfig map image (EOPNOTSUPP for a strong extern it cannot supply).</summary>
    void FillKconfig(Span<byte> image, ObjectSpec spec);

    /// <summary>The kernel BTF ids of __ksym variables and kfuncs; null when the backend cannot resolve kernel symbols.</summary>
    IKernelSymbols? KernelSymbols { get; }

    /// <summary>The CO-RE target: the backend's kernel BTF (or <paramref name="customPath"/>, libbpf's btf_custom_path).</summary>
    CoRe.CoreTargets CoreTargets(string? customPath);
}

/// <summary>One entry of a bpffs directory: a subdirectory, or a pin of the object <paramref name="Kind"/> <paramref name="Id"/>.</summary>
public sealed record PinEntry(string Path, bool IsDirectory, ObjectKind? Kind, uint Id);

/// <summary>Kernel BTF ids by name (a backend's vmlinux), for __ksym externs.</summary>
public interface IKernelSymbols
{
    /// <summary>The BTF id of a kernel VAR, or null.</summary>
    uint? FindVariable(string name);

    /// <summary>The BTF id of a kernel FUNC, or null.</summary>
    uint? FindFunction(string name);

    /// <summary>
    /// libbpf's find_ksym_btf_id: the VAR (or FUNC when <paramref name="function"/>) named <paramref name="name"/> in
    /// vmlinux, else in each module's BTF; null when none has it. The default searches vmlinux only.
    /// </summary>
    KernelSymbol? Resolve(string name, bool function) =>
        (function ? FindFunction(name) : FindVariable(name)) is uint id ? new KernelSymbol(id, null) : null;

    /// <summary>A new handle on the kernel BTF object of module <paramref name="module"/> (the caller disposes it), or
    /// null when the backend cannot name module BTF objects in instructions. The default: null.</summary>
    BtfHandle? OpenModuleBtf(string module) => null;
}

/// <summary>Where a kernel symbol lives: its BTF id, in vmlinux (<paramref name="Module"/> null) or in a module's split BTF.</summary>
/// <param name="BtfId">The VAR's or FUNC's id (module ids continue after vmlinux's).</param>
/// <param name="Module">The module whose BTF holds it, or null for vmlinux.</param>
public sealed record KernelSymbol(uint BtfId, string? Module);
