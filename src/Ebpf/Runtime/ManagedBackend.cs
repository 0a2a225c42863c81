using Ebpf.Abi;
using Ebpf.Collections;
using Ebpf.Isa;
using Ebpf.Loading;
using Ebpf.Runtime.Objects;

namespace Ebpf.Runtime;

/// <summary>
/// The managed runtime as an <see cref="IBpfBackend"/>: every bpf(2) command answered by <see cref="BpfRuntime"/>'s
/// object registry, maps, bpffs and executor. One per runtime (<see cref="BpfRuntime.Backend"/>).
/// </summary>
internal sealed class ManagedBackend(BpfRuntime runtime) : IBpfBackend, IProgramOwnedLinks
{
    public string Name => "managed";
    public BpfRuntime Runtime => runtime;
    public Abi.Profiles.KernelProfile Profile => runtime.Profile;
    public int PossibleCpus => Maps.BpfCpu.PossibleCount;
    public int PageSize => Environment.SystemPageSize;

    public BpfMap CreateMap(MapDefinition definition, BtfHandle? btf = null) => runtime.CreateMap(definition, btf);

    public BtfHandle LoadBtf(ReadOnlyMemory<byte> data, string name = "") => runtime.LoadBtf(data, name);

    public BpfProgram LoadProgram(ProgramDefinition definition, IReadOnlyList<BpfMap>? usedMaps = null, BtfHandle? btf = null, ProgramLoadOptions? options = null) =>
        runtime.LoadProgram(definition, usedMaps, btf, options);

    public IReadOnlyList<uint> GetIds(ObjectKind kind) => runtime.GetIds(kind);

    public BpfHandle Open(ObjectKind kind, uint id, MapAccess access = MapAccess.ReadWrite) => kind switch
    {
        ObjectKind.Program => runtime.OpenProgramById(id),
        ObjectKind.Map => runtime.OpenMapById(id, access),
        ObjectKind.Btf => runtime.OpenBtfById(id),
        _ => runtime.OpenLinkById(id),
    };

    public void Pin(BpfHandle handle, string path) => runtime.Pins.Pin(handle, path);

    public BpfHandle? GetPinned(string path, MapAccess access = MapAccess.ReadWrite) =>
        runtime.Pins.Peek(path) is null ? null : runtime.Pins.Get(path, access);

    public void Unpin(string path) => runtime.Pins.Unpin(path);

    public void CreatePinDirectory(string path) => runtime.Pins.CreateDirectories(path);

    public void RemovePinDirectory(string path) => runtime.Pins.RemoveDirectory(path);

    public IReadOnlyList<PinEntry> ListPinDirectory(string path) =>
        runtime.Pins.List(path).Select(e => new PinEntry(e.Path, e.IsDirectory, e.Kind, e.Id)).ToArray();

    public void CheckPinTarget(string path, bool directory)
    {
        // The runtime's bpffs is mounted at its root: every absolute path under it can hold pins.
        if (!path.StartsWith(PinFs.PinFileSystem.MountPoint, StringComparison.Ordinal))
            throw new BpfException(Errno.EINVAL, $"cannot pin at {path}: not on the runtime's BPF file system ({PinFs.PinFileSystem.MountPoint})");
    }

    public IReadOnlyDictionary<(ObjectKind Kind, uint Id), IReadOnlyList<string>> ListPins() =>
        runtime.Pins.List(recursive: true).Where(e => e.Kind is not null)
            .GroupBy(e => (e.Kind!.Value, e.Id))
            .ToDictionary(g => g.Key, g => (IReadOnlyList<string>)g.Select(e => e.Path).Order(StringComparer.Ordinal).ToArray());

    public void Release(BpfHandle handle)
    {
        switch (handle.Native)
        {
            case MapObject map: map.ReleaseUser(); break;
            case KernelObject obj: obj.Release(); break;
        }
    }

    public BpfHandle Duplicate(BpfHandle handle)
    {
        handle.ThrowIfClosed();
        switch (handle.Native)
        {
            case MapObject map:
                map.AcquireUser();
                return new BpfMap(map, ((BpfMap)handle).Access);
            case ProgramObject program:
                program.Acquire();
                return new BpfProgram(program);
            case LinkObject link:
                link.Acquire();
                return new BpfLink(link);
            case BtfObject btf:
                btf.Acquire();
                return new BtfHandle(btf);
            default:
                throw new BpfException(Errno.EINVAL, $"{handle.GetType().Name} {handle.Id} is not a managed runtime object");
        }
    }

    // ---- map commands: prog arrays through the runtime's slot table (values are program ids), others through storage ----

    private static Maps.BpfMapBase Storage(MapObject map) =>
        map.Maps ?? throw new BpfException(Errno.EOPNOTSUPP, $"map {map.Id} ({map.Type}) has no element storage");

    private static void Check(Errno errno, string what, MapObject map)
    {
        if (errno != Errno.None)
            throw new BpfException(errno, $"{what} map {map.Id} ('{map.Name}'): {errno}");
    }

    public bool MapLookup(BpfMap handle, ReadOnlySpan<byte> key, Span<byte> value, MapUpdateFlags flags, bool delete)
    {
        var map = handle.Map;
        if (map.ProgramSlots is { } slots && !delete)
        {
            CheckKey(map, key);
            if (value.Length != 4)
                throw new BpfException(Errno.EINVAL, $"lookup map {map.Id}: value buffer is {value.Length} bytes, prog arrays hold 4-byte ids");
            var prog = slots.Get(BitConverter.ToUInt32(key));
            if (prog is null)
                return false;
            BitConverter.TryWriteBytes(value, prog.Id);
            return true;
        }
        var storage = Storage(map);
        var err = delete ? storage.LookupAndDeleteElem(key, value, flags) : storage.LookupElem(key, value, flags);
        if (err == Errno.ENOENT)
            return false;
        Check(err, delete ? "lookup and delete in" : "lookup in", map);
        return true;
    }

    private static void CheckKey(MapObject map, ReadOnlySpan<byte> key)
    {
        if (key.Length != map.Definition.KeySize)
            throw new BpfException(Errno.EINVAL, $"map {map.Id}: key is {key.Length} bytes, key_size is {map.Definition.KeySize}");
    }

    public void MapUpdate(BpfMap handle, ReadOnlySpan<byte> key, ReadOnlySpan<byte> value, MapUpdateFlags flags)
    {
        var map = handle.Map;
        if (map.ProgramSlots is not null)
        {
            // A prog array's value is a program "fd": the runtime's program id.
            if (value.Length != 4)
                throw new BpfException(Errno.EINVAL, $"update map {map.Id}: prog array values are 4-byte program ids");
            using var program = runtime.OpenProgramById(BitConverter.ToUInt32(value));
            MapUpdate(handle, key, program, flags);
            return;
        }
        Check(Storage(map).UpdateElem(key, value, flags), "update in", map);
    }

    public void MapUpdate(BpfMap handle, ReadOnlySpan<byte> key, BpfHandle value, MapUpdateFlags flags)
    {
        var map = handle.Map;
        switch (value)
        {
            case BpfProgram program when map.ProgramSlots is { } slots:
                CheckKey(map, key);
                if (flags != MapUpdateFlags.Any)
                    throw new BpfException(Errno.EINVAL, $"update map {map.Id}: prog arrays only accept BPF_ANY");
                slots.Set(BitConverter.ToUInt32(key), program.Program);
                return;
            case BpfMap inner when map.Maps is Maps.MapInMap outer:
                outer.SetInner(key, inner.Map.Maps ?? throw new BpfException(Errno.EINVAL, $"map {inner.Id} has no storage to hold"), flags);
                return;
            default:
                // devmap/cpumap program slots and everything else take the object's id, the runtime's fd.
                Check(Storage(map).UpdateElem(key, BitConverter.GetBytes(value.Id), flags), "update in", map);
                return;
        }
    }

    public bool MapDelete(BpfMap handle, ReadOnlySpan<byte> key)
    {
        var map = handle.Map;
        if (map.ProgramSlots is { } slots)
        {
            CheckKey(map, key);
            uint index = BitConverter.ToUInt32(key);
            if (index >= map.Definition.MaxEntries)
                throw new BpfException(Errno.E2BIG, $"delete in map {map.Id}: index {index} is past max_entries");
            if (slots.Get(index) is null)
                return false;
            slots.Delete(index);
            return true;
        }
        var err = Storage(map).DeleteElem(key);
        if (err == Errno.ENOENT)
            return false;
        Check(err, "delete in", map);
        return true;
    }

    public bool MapGetNextKey(BpfMap handle, ReadOnlySpan<byte> key, Span<byte> nextKey)
    {
        var map = handle.Map;
        if (map.ProgramSlots is not null)
        {
            // Arrays walk every index, empty or not (array_map_get_next_key).
            uint max = map.Definition.MaxEntries;
            uint next = key.IsEmpty || BitConverter.ToUInt32(key) >= max ? 0 : BitConverter.ToUInt32(key) + 1;
            if (next >= max)
                return false;
            BitConverter.TryWriteBytes(nextKey, next);
            return true;
        }
        var err = Storage(map).GetNextKeyElem(key, nextKey);
        if (err == Errno.ENOENT)
            return false;
        Check(err, "get next key of", map);
        return true;
    }

    public void MapFreeze(BpfMap handle) => handle.Map.Freeze();

    // ---- programs, links, info ----

    public TestRunResult TestRun(BpfProgram program, TestRunOptions options) => runtime.TestRun(program, options);

    public Instruction[] GetTranslatedInstructions(BpfProgram program) => XlatedProgramDump.PrepareDump(program.Program);

    public void BindMap(BpfProgram program, BpfMap map) => program.Program.BindMap(map.Map);

    public BpfLink AttachTracing(BpfProgram program, BpfProgram? target, uint targetBtfId, ulong cookie) =>
        runtime.AttachTracing(program.Program, target?.Program, targetBtfId, cookie);

    /// <inheritdoc/>
    public BpfLink AttachIterator(BpfProgram program, BpfMap? map) => runtime.AttachIterator(program.Program, map?.Map);

    /// <inheritdoc/>
    public BpfIterator CreateIterator(BpfLink link) => runtime.CreateIterator(link.Link);

    /// <inheritdoc/>
    public BpfIterator OpenPinnedIterator(string path) => runtime.OpenPinnedIterator(path);

    public void LinkUpdate(BpfLink link, BpfProgram newProgram, BpfProgram? expected) => link.Link.Update(newProgram.Program, expected?.Program);

    public void LinkDetach(BpfLink link) => link.Link.Detach();

    public ProgramInfo GetInfo(BpfProgram program) => program.Program.GetInfo();

    public MapInfo GetInfo(BpfMap map) => map.Map.GetInfo();

    public LinkInfo GetInfo(BpfLink link) => link.Link.GetInfo();

    public BtfInfo GetInfo(BtfHandle btf) => btf.Btf.GetInfo();

    public byte[] GetBtfData(BtfHandle btf) => btf.Btf.Data.ToArray();

    public IReadOnlyList<string> DrainTraceLog() => runtime.TraceLog.Drain();

    // ---- network devices and XDP: the runtime's virtual devices ----

    public int GetDeviceIndex(string name) => runtime.Network.GetDeviceIndex(name);

    public IReadOnlyList<NetDeviceInfo> ListDevices() => runtime.Network.ListDevices();

    public IReadOnlyList<NetDeviceInfo> CreateDevice(string name, string kind, string? peerName = null) =>
        runtime.Network.CreateDevice(name, kind, peerName);

    public void DeleteDevice(int ifindex) => runtime.Network.DeleteDevice(ifindex);

    public void XdpAttach(int ifindex, BpfProgram? program, XdpFlags flags, BpfProgram? expected = null) =>
        runtime.Network.XdpAttach(ifindex, program?.Program, flags, expected?.Program);

    public XdpDeviceState XdpQuery(int ifindex) => runtime.Network.XdpQuery(ifindex);

    public BpfLink AttachXdp(BpfProgram program, int ifindex, XdpFlags flags) => runtime.Network.AttachXdp(program.Program, ifindex, flags);

    // ---- program-owned extension links (beyond the kernel) ----

    public void GiveLinkToTarget(BpfLink link)
    {
        ArgumentNullException.ThrowIfNull(link);
        if (link.Native is not LinkObject lo || lo.Attachment is not Links.TracingLinkAttachment { Target: { } target } tracing)
            throw new BpfException(Errno.EINVAL, $"link {link.Id} is not a tracing link on a BPF program");
        if (!tracing.MarkOwnedByTarget())
            throw new BpfException(Errno.EINVAL, $"link {link.Id} is already held by its target");
        lo.Acquire();
        target.OwnLink(lo);
        // The link's own reference on the target goes last: the target may be freed right here, taking the link.
        target.Release();
    }

    // ---- loader questions ----

    /// <summary>The runtime models no kernel config: weak externs read 0 from the zeroed image, strong ones are refused.</summary>
    public void FillKconfig(Span<byte> image, ObjectSpec spec) =>
        LoaderRefusals.ThrowIfUnsuppliedKconfig(spec, _ => false, "the managed runtime");

    /// <summary>Kernel symbols as the runtime has them: vmlinux's BTF ids (which it cannot run: refused at load) and its
    /// modules' variables and host-implemented kfuncs.</summary>
    public IKernelSymbols? KernelSymbols => new RuntimeKernelSymbols(runtime);

    public CoRe.CoreTargets CoreTargets(string? customPath) =>
        runtime.CoreTargetsFor(customPath);
}
