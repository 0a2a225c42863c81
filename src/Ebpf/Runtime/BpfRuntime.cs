using Ebpf.Abi;
using Ebpf.Collections;
using Ebpf.Runtime.Helpers;
using Ebpf.Runtime.Objects;
using Ebpf.Runtime.PinFs;

namespace Ebpf.Runtime;

/// <summary>
/// One managed "kernel": its own id namespaces, objects, bpffs, trace buffer, current-task model
/// and helper table. Everything is thread-safe; several runtimes in one process are independent.
/// Handles returned here are the fds of this kernel: dispose them to drop their reference.
/// </summary>
public sealed partial class BpfRuntime
{
    /// <summary>BPF_COMPLEXITY_LIMIT_INSNS: programs longer than this are refused with E2BIG.</summary>
    public const int MaxInstructions = 1_000_000;

    private readonly IdTable[] _tables = [new(), new(), new(), new()];

    /// <summary>An empty runtime: the built-in helpers, an empty bpffs, the loopback device, and the interpreter as
    /// its executor. Objects loaded into it belong to it alone.</summary>
    public BpfRuntime()
    {
        Pins = new PinFileSystem(this);
        Helpers = HelperRegistry.CreateDefault();
        MapStorageFactory = DefaultMapStorage;
        Executor = new InterpreterExecutor();
    }

    /// <summary>
    /// Compile verified programs to native code through IL (the analogue of net.core.bpf_jit_enable); programs
    /// loaded while it is false, and programs the JIT does not take, are interpreted. On by default.
    /// </summary>
    public bool JitEnabled { get; set; } = true;

    /// <summary>
    /// The kernel this runtime behaves as: which program and map types exist, which helpers and kfuncs each program
    /// type may call, which features there are. Mainline 6.18 (<see cref="Abi.Profiles.KernelProfile.Reference"/>)
    /// by default; a host that wants "what would this machine's kernel do" passes a probed or loaded profile.
    /// </summary>
    public Abi.Profiles.KernelProfile Profile { get; init; } = Abi.Profiles.KernelProfile.Reference;

    /// <summary>
    /// The kernel BTF CO-RE relocations resolve against (vmlinux, and module BTFs after it). Null: this machine's
    /// /sys/kernel/btf, read when an object first needs it; a machine without it fails that load with ENOENT saying so.
    /// </summary>
    public CoRe.CoreTargets? KernelBtf { get; init; }

    /// <summary>The bpffs of this kernel (mounted at /sys/fs/bpf).</summary>
    public PinFileSystem Pins { get; }

    /// <summary>Where bpf_trace_printk writes (read by hosts and `ebpf prog tracelog`).</summary>
    public TraceBuffer TraceLog { get; } = new();

    /// <summary>
    /// The clock behind bpf_ktime_get_ns, ktime_get_boot_ns, ktime_get_coarse_ns and jiffies64. The host's
    /// monotonic clock by default; tests substitute a provider whose timestamp they control.
    /// </summary>
    public TimeProvider Clock { get; set; } = TimeProvider.System;

    private readonly Lock _randomLock = new();
    private Random? _seededRandom;
    private int? _randomSeed;

    /// <summary>
    /// When set, bpf_get_prandom_u32 returns one sequence determined by this seed, shared by all programs of the
    /// runtime in call order (deterministic for single-threaded runs). Null (default): per-thread unseeded PRNGs.
    /// </summary>
    public int? RandomSeed
    {
        get => _randomSeed;
        set
        {
            lock (_randomLock)
            {
                _randomSeed = value;
                _seededRandom = value is int seed ? new Random(seed) : null;
            }
        }
    }

    /// <summary>The next value of the seeded sequence, or null when no seed is set.</summary>
    internal ulong? SeededRandomU32()
    {
        if (_seededRandom is null)
            return null;
        lock (_randomLock)
            return _seededRandom is { } random ? (ulong)random.NextInt64(0, 1L << 32) : null;
    }

    /// <summary>The task that helpers see as "current" unless an invocation overrides it.</summary>
    public TaskModel CurrentTask { get; set; } = TaskModel.Default;

    /// <summary>Memory that probe_read* may read (registered by the host).</summary>
    public ReadableMemory ReadableMemory { get; } = new();

    /// <summary>Helper functions callable from programs of this runtime (the defaults plus host additions).</summary>
    public HelperRegistry Helpers { get; }

    /// <summary>Builds a map's storage from its definition (installed by Runtime/Maps); null = lifecycle-only maps.</summary>
    public Func<MapDefinition, IDisposable?>? MapStorageFactory { get; set; }

    /// <summary>Runs a program on a context (interpreter or JIT); the interpreter/JIT executor by default, replaceable by a host.</summary>
    public IProgramExecutor? Executor { get; set; }

    /// <summary>
    /// Map storage from Runtime/Maps (prog arrays too: <see cref="MapObject.ProgramSlots"/> is a typed view of it). A map-in-map
    /// takes its inner template from <see cref="MapDefinition.InnerMapId"/> (the kernel's inner_map_fd;
    /// EBADF when it names no live map) and resolves host updates (a u32 map id) through this runtime.
    /// </summary>
    private IDisposable? DefaultMapStorage(MapDefinition d)
    {
        Maps.BpfMapBase? inner = null;
        if (d.Type is MapType.ArrayOfMaps or MapType.HashOfMaps)
        {
            uint innerId = d.InnerMap?.Id ?? d.InnerMapId;
            inner = (d.InnerMap?.Map ?? FindObject(ObjectKind.Map, innerId) as MapObject)?.Maps
                ?? throw new BpfException(Errno.EBADF, $"map '{d.Name}': inner_map_fd (map id {innerId}) names no live map with storage");
        }
        var storage = Maps.BpfMapFactory.Create(d, inner);
        switch (storage)
        {
            case Maps.MapInMap outer:
                outer.Resolver = id => (FindObject(ObjectKind.Map, id) as MapObject)?.Maps;
                break;
            case Maps.DevMap devmap:
                devmap.DeviceResolver = ifindex => Devices.Find(ifindex);
                devmap.ProgramResolver = ResolveProgramForSlot;
                devmap.ProgramReleased += ProgramArraySlots.ReleaseEntry;
                break;
            case Maps.CpuMap cpumap:
                cpumap.ProgramResolver = ResolveProgramForSlot;
                cpumap.ProgramReleased += ProgramArraySlots.ReleaseEntry;
                break;
            case Maps.XskMap xskmap:
                xskmap.SocketResolver = id => Devices.FindXskSocket(id);
                break;
        }
        return storage;
    }

    /// <summary>A program id in a map value (the runtime's "fd"), with a reference the map then owns; null when none is live.</summary>
    internal Maps.ProgArrayEntry? ResolveProgramForSlot(uint id) =>
        FindObject(ObjectKind.Program, id) is ProgramObject p && p.TryAcquire() ? ProgramArraySlots.Entry(p) : null;

    internal IdTable Table(ObjectKind kind) => _tables[(int)kind];

    // ---- creation ----------------------------------------------------------------------------

    /// <summary>BPF_MAP_CREATE: returns the first (user) handle.</summary>
    public BpfMap CreateMap(MapDefinition definition, BtfHandle? btf = null)
    {
        ArgumentNullException.ThrowIfNull(definition);
        MapDefinitionChecks.Validate(definition);
        string name = ObjectName.Validate(definition.Name, "map");
        definition = definition with { Name = name };
        var btfObject = btf?.Btf;
        if (btfObject is not null && definition.BtfValueTypeId != 0)
        {
            definition = MapSpecialFields.FromBtf(definition, btfObject.Parsed);
            UptrMapRules.Check(definition, btfObject.Parsed, VmlinuxIfAny);
        }
        // Prog arrays always get their storage: tail calls and slot references live there.
        var storage = MapStorageFactory?.Invoke(definition)
            ?? (definition.Type == MapType.ProgArray ? Maps.BpfMapFactory.Create(MapType.ProgArray, definition.KeySize, definition.ValueSize, definition.MaxEntries, definition.Flags, definition.Name) : null);
        if (storage is Maps.BpfMapBase created && created.Flags != definition.Flags)
            definition = definition with { Flags = created.Flags }; // devmaps: the kernel adds BPF_F_RDONLY_PROG
        btfObject?.Acquire();
        var map = new MapObject(this, definition, btfObject, storage);
        map.MarkCreatorIsUser();
        Publish(map);
        if (map.Maps is { } m)
            m.Id = map.Id;
        return new BpfMap(map, MapAccess.ReadWrite);
    }

    /// <summary>
    /// BPF_PROG_LOAD (lifecycle part): takes a reference on each used map and on the BTF; the
    /// program's id is published only when everything succeeded.
    /// </summary>
    /// <remarks>
    /// The verifier runs first (<see cref="ProgramVerification"/> has the policy): a rejected program is
    /// refused with the verifier's errno (EACCES/EINVAL …) and its log in <see cref="BpfException.Log"/>,
    /// unless <see cref="ProgramLoadOptions.AllowUnverified"/>; an accepted, fully modelled program runs
    /// in the unchecked interpreter, anything else in the checked one.
    /// </remarks>
    public BpfProgram LoadProgram(ProgramDefinition definition, IEnumerable<BpfMap>? usedMaps = null, BtfHandle? btf = null, ProgramLoadOptions? options = null)
    {
        options ??= new ProgramLoadOptions();
        ArgumentNullException.ThrowIfNull(definition);
        if (!Enum.IsDefined(definition.Type) || definition.Type == ProgramType.Unspec)
            throw new BpfException(Errno.EINVAL, $"unknown program type {(uint)definition.Type}");
        int count = definition.Instructions.Count;
        if (count == 0 || count > MaxInstructions)
            throw new BpfException(Errno.E2BIG, $"program has {count} instructions (allowed 1..{MaxInstructions})");
        string name = ObjectName.Validate(definition.Name, "program");
        definition = definition with { Name = name };

        var maps = new List<MapObject>();
        var indexed = new List<MapObject>(); // src=5/6 map indexes refer to this order
        var btfObject = btf?.Btf;
        // Module BTF objects named through fd_array are resolved (and held) before verification, like map fds.
        var btfReferences = new ProgramBtfReferences();
        try
        {
            definition = btfReferences.Resolve(this, definition, options.FdArray);
        }
        catch
        {
            btfReferences.Release();
            throw;
        }
        try
        {
            foreach (var handle in usedMaps ?? [])
            {
                var map = handle.Map;
                indexed.Add(map);
                if (maps.Contains(map))
                    continue;
                map.Acquire();
                maps.Add(map);
            }
            btfObject?.Acquire();
        }
        catch
        {
            foreach (var m in maps)
                m.Release();
            btfReferences.Release();
            throw;
        }
        var program = new ProgramObject(this, definition, maps, btfObject) { BtfReferences = btfReferences };
        try
        {
            PrepareLoadTimeAttach(program, options);
            Net.DeviceBinding.Bind(this, program, options.Ifindex);
            var verdict = ProgramVerification.Verify(program, indexed, options);
            program.Verification = verdict;
            if (!verdict.Accepted && !options.AllowUnverified)
            {
                string first = verdict.Error?.Split('\n')[0] ?? "rejected";
                string at = verdict.ErrorInstruction >= 0 ? $" at insn {verdict.ErrorInstruction}" : "";
                throw new BpfException(verdict.Errno == Errno.None ? Errno.EACCES : verdict.Errno,
                    $"program {program.Name}: verifier rejected it{at}: {first}", verdict.Log);
            }
            CheckTailCallOwners(program, maps);
            if (verdict.Accepted && Ebpf.Runtime.Helpers.PacketDynptrs.WhyUnbacked(program, Profile.KernelBtf) is { } unbacked)
                throw new BpfException(Errno.ENOTSUPP, $"program {program.Name}: {unbacked}");
            string? notModelled = ProgramVerification.WhyNotFullyModelled(program.Instructions, this)
                ?? (verdict.Program?.ReadsKernelPointers == true ? "loads through kernel pointers (fault-handled in the kernel)" : null);
            var mode = options.AlwaysChecked || options.Untranslated ? Execution.ExecutionMode.Checked : ProgramVerification.ChooseMode(verdict, notModelled);
            program.ExecutionMode = mode;
            program.ExecutionModeReason = !verdict.Accepted ? "verifier rejected it (AllowUnverified)"
                : options.Untranslated ? "verified, run untranslated and checked (test oracle)"
                : options.AlwaysChecked ? "verified, checked on request (AlwaysChecked)"
                : notModelled is null ? "verified and fully modelled" : "verified, but not fully modelled: " + notModelled;
            bool translated = verdict.Accepted && verdict.Program is not null && !options.Untranslated;
            var xlated = ProgramPreparation.Translated(this, program, translated ? verdict.Program : null, indexed, out var mapPointerLoads);
            xlated = btfReferences.Bind(xlated, program.Name, Profile.KernelBtf);
            xlated = Net.XdpMetadataKfuncs.Bind(program, xlated, Profile.KernelBtf);
            xlated = Ebpf.Runtime.Helpers.IteratorKfuncs.Bind(xlated, Profile.KernelBtf);
            xlated = Ebpf.Runtime.Helpers.DynptrHelpers.BindKfuncs(xlated, Profile.KernelBtf);
            xlated = Ebpf.Runtime.Helpers.CpumaskKfuncs.Bind(xlated, Profile.KernelBtf);
            program.Instructions = xlated;
            DescribeFunctions(program, translated ? verdict.Program : null, options.Functions);
            var helperTable = ProgramPreparation.BuildHelperTable(this);
            btfReferences.RegisterKfuncs(helperTable);
            Net.XdpMetadataKfuncs.Register(helperTable);
            Ebpf.Runtime.Helpers.IteratorKfuncs.Register(helperTable);
            Ebpf.Runtime.Helpers.DynptrHelpers.RegisterKfuncs(helperTable);
            Ebpf.Runtime.Helpers.CpumaskKfuncs.Register(helperTable);
            string interpreterName = string.IsNullOrEmpty(program.Name) ? "prog" : program.Name;
            Execution.Interpreter Build(Execution.ExecutionMode m) => Execution.Interpreter.Load(xlated, new Execution.InterpreterOptions
            {
                Name = interpreterName,
                Mode = m,
                Helpers = helperTable,
                Jit = JitEnabled,
                ContextFields = translated ? null : ProgramPreparation.UntranslatedContextFields(program),
                MapPointerLoads = mapPointerLoads,
                ProbeLoads = translated ? verdict.Program!.ProbeLoads : null,
                InstructionBudget = options.CheckedInstructionBudget,
                FunctionSlots = program.FunctionSlots,
            });
            program.Executable = new PreparedProgram(Build(mode), () => Build(Execution.ExecutionMode.Checked), StaticRegions(program), translated);
            ProgramLoaded?.Invoke(program);
            CreateLoadTimeTrampoline(program);
        }
        catch
        {
            program.Release(); // never published: frees and drops the map/BTF references
            throw;
        }
        Publish(program);
        return new BpfProgram(program);
    }

    /// <summary>
    /// bpf_check_tail_call: a program that uses a map holding programs (prog array, devmap, cpumap)
    /// must match the map's owner (type, frags; for prog arrays also the expected attach type); the first
    /// such program becomes the owner. EINVAL otherwise.
    /// </summary>
    private static void CheckTailCallOwners(ProgramObject program, List<MapObject> maps)
    {
        var traits = ProgramArraySlots.Traits(program);
        foreach (var map in maps)
        {
            if (map.Maps is Maps.IProgramHoldingMap holder && holder.ProgramOwner.Check(traits) != Errno.None)
                throw new BpfException(Errno.EINVAL,
                    $"program {program.Name}: {map.Type} {map.Id} ('{map.Name}') is owned by {holder.ProgramOwner.Current} programs, this one is {traits}");
        }
    }

    /// <summary>Array maps' values are addressable by the program (global data, direct value loads).</summary>
    private static unsafe Execution.MemoryRegion[] StaticRegions(ProgramObject program)
    {
        var regions = new List<Execution.MemoryRegion>();
        foreach (var map in program.UsedMaps)
        {
            if (map.Maps is Maps.ArrayMap array && map.Type == MapType.Array)
            {
                uint key = 0;
                var p = array.ProgramLookup((byte*)&key, 0);
                if (p == null)
                    continue;
                ulong size = (ulong)Memory.NativeBlock.RoundUp8((int)map.Definition.ValueSize) * map.Definition.MaxEntries;
                var access = (map.Definition.Flags & MapFlags.RdonlyProg) != 0 || map.IsFrozen && map.Name.Contains(".rodata", StringComparison.Ordinal)
                    ? Execution.MemoryAccess.Read : Execution.MemoryAccess.ReadWrite;
                regions.Add(new Execution.MemoryRegion((nuint)p, (nuint)size, access, map.Name));
            }
        }
        foreach (var (address, size, name) in program.BtfReferences?.Variables ?? [])
            regions.Add(new Execution.MemoryRegion((nuint)address, (nuint)size, Execution.MemoryAccess.Read, name));
        return regions.ToArray();
    }

    /// <summary>Hook run after a program object exists and before its id is published (ctx rewriting, executor set-up).</summary>
    internal event Action<ProgramObject>? ProgramLoaded;

    /// <summary>BPF_BTF_LOAD.</summary>
    public BtfHandle LoadBtf(ReadOnlyMemory<byte> data, string name = "", bool isKernel = false) => LoadBtf(data, name, isKernel, parsed: null);

    /// <summary>BPF_BTF_LOAD of a blob written from <paramref name="parsed"/> (the object loader's case): no second parse.</summary>
    internal BtfHandle LoadBtf(ReadOnlyMemory<byte> data, string name, bool isKernel, Ebpf.Btf.BtfSpec? parsed)
    {
        if (data.Length == 0)
            throw new BpfException(Errno.EINVAL, "empty BTF blob");
        if (!isKernel)
            BtfKindSupport.Check(data, parsed, Profile);
        var btf = new BtfObject(this, data.ToArray(), name, isKernel, parsed);
        Publish(btf);
        return new BtfHandle(btf);
    }

    /// <summary>
    /// BPF_LINK_CREATE in the kernel's three phases: prime (reserve an id, not visible),
    /// attach (<paramref name="attach"/>; on failure the id is freed and the caller keeps its program
    /// reference), settle (publish the id and hand out the handle). The link takes its own
    /// reference on the program.
    /// </summary>
    public BpfLink CreateLink(BpfProgram program, LinkType type, AttachType attachType, Func<LinkObject, ILinkAttachment> attach, ulong cookie = 0) =>
        CreateLink(program.Program, type, attachType, attach, cookie);

    internal BpfLink CreateLink(ProgramObject prog, LinkType type, AttachType attachType, Func<LinkObject, ILinkAttachment> attach, ulong cookie = 0)
    {
        prog.Acquire();
        var link = new LinkObject(this, type, attachType, prog, cookie);
        var table = Table(ObjectKind.Link);
        uint id = table.Reserve();
        link.ReservedId = id;
        ILinkAttachment attachment;
        try
        {
            attachment = attach(link);
        }
        catch
        {
            table.Unreserve(id);
            link.AbandonProgram();
            prog.Release();
            link.Release(); // dealloc; the id was never visible
            throw;
        }
        link.Attach(attachment);
        link.Id = id;
        table.Publish(id, link);
        return new BpfLink(link);
    }

    private void Publish(KernelObject obj)
    {
        var table = Table(obj.Kind);
        uint id = table.Reserve();
        obj.Id = id;
        table.Publish(id, obj);
    }

    /// <summary>Called once when an object's last reference goes: its id disappears before anything is freed.</summary>
    internal void Unpublish(KernelObject obj)
    {
        var table = Table(obj.Kind);
        uint id = obj is LinkObject link && obj.Id == 0 ? link.ReservedId : obj.Id;
        if (id != 0)
            table.Remove(id, obj);
    }

    // ---- ids ---------------------------------------------------------------------------------

    /// <summary>*_GET_NEXT_ID: the smallest live id greater than <paramref name="startId"/> (ENOENT when none).</summary>
    public uint GetNextId(ObjectKind kind, uint startId)
    {
        if (startId >= IdTable.MaxId)
            throw new BpfException(Errno.EINVAL, $"start_id {startId} must be below INT_MAX");
        uint next = Table(kind).NextAfter(startId);
        if (next == 0)
            throw new BpfException(Errno.ENOENT, $"no {kind.ToString().ToLowerInvariant()} id after {startId}");
        return next;
    }

    /// <summary>All live ids of a kind, ascending (what a GET_NEXT_ID loop yields).</summary>
    public IReadOnlyList<uint> GetIds(ObjectKind kind) => Table(kind).Ids();

    private T Lookup<T>(ObjectKind kind, uint id) where T : KernelObject
    {
        var table = Table(kind);
        var obj = table.Find(id);
        if (obj is null)
        {
            if (kind == ObjectKind.Link && table.IsReserved(id))
                throw new BpfException(Errno.EAGAIN, $"link {id} is not yet settled");
            throw new BpfException(Errno.ENOENT, $"no {kind.ToString().ToLowerInvariant()} with id {id}");
        }
        return (T)obj;
    }

    /// <summary>BPF_PROG_GET_FD_BY_ID.</summary>
    public BpfProgram OpenProgramById(uint id)
    {
        var prog = Lookup<ProgramObject>(ObjectKind.Program, id);
        if (!prog.TryAcquire())
            throw new BpfException(Errno.ENOENT, $"program {id} is being freed");
        return new BpfProgram(prog);
    }

    /// <summary>BPF_MAP_GET_FD_BY_ID: takes a user reference; open_flags RDONLY/WRONLY (not both).</summary>
    public BpfMap OpenMapById(uint id, MapAccess access = MapAccess.ReadWrite)
    {
        var map = Lookup<MapObject>(ObjectKind.Map, id);
        if (!map.TryAcquireUser())
            throw new BpfException(Errno.ENOENT, $"map {id} is being freed");
        return new BpfMap(map, access);
    }

    /// <summary>BPF_BTF_GET_FD_BY_ID.</summary>
    public BtfHandle OpenBtfById(uint id)
    {
        var btf = Lookup<BtfObject>(ObjectKind.Btf, id);
        if (!btf.TryAcquire())
            throw new BpfException(Errno.ENOENT, $"btf {id} is being freed");
        return new BtfHandle(btf);
    }

    /// <summary>BPF_LINK_GET_FD_BY_ID (EAGAIN while the link is primed but not settled).</summary>
    public BpfLink OpenLinkById(uint id)
    {
        var link = Lookup<LinkObject>(ObjectKind.Link, id);
        if (!link.TryAcquire())
            throw new BpfException(Errno.ENOENT, $"link {id} is being freed");
        return new BpfLink(link);
    }

    /// <summary>Converts BPF_F_RDONLY/BPF_F_WRONLY open flags (EINVAL for both or anything else).</summary>
    public static MapAccess AccessFromFlags(uint openFlags)
    {
        const uint Rdonly = (uint)MapFlags.Rdonly, Wronly = (uint)MapFlags.Wronly;
        if ((openFlags & ~(Rdonly | Wronly)) != 0 || openFlags == (Rdonly | Wronly))
            throw new BpfException(Errno.EINVAL, $"invalid open_flags 0x{openFlags:x}");
        return openFlags == Rdonly ? MapAccess.ReadOnly : openFlags == Wronly ? MapAccess.WriteOnly : MapAccess.ReadWrite;
    }

    /// <summary>Live object by id without taking a reference (for info dumps); null when gone.</summary>
    public KernelObject? FindObject(ObjectKind kind, uint id) => Table(kind).Find(id);

    /// <summary>Finds live maps by name (bpftool's `name NAME`).</summary>
    public IReadOnlyList<MapObject> FindMapsByName(string name) =>
        GetIds(ObjectKind.Map).Select(id => FindObject(ObjectKind.Map, id)).OfType<MapObject>().Where(m => m.Name == name).ToArray();
}

/// <summary>How the runtime runs a program: the interpreter, a JIT, or a test double.</summary>
public interface IProgramExecutor
{
    /// <summary>Runs <paramref name="program"/> with R1 = <paramref name="context"/>; returns R0.</summary>
    ulong Run(ProgramObject program, nint context);
}
