using Ebpf.Abi;
using Ebpf.Collections;
using Ebpf.Isa;
using Ebpf.Linux.Native;
using Ebpf.Loading;

namespace Ebpf.Linux;

/// <summary>
/// The running kernel as an <see cref="IBpfBackend"/>: every command a bpf(2) call. A live handle's backend object is
/// the fd wrapper (<see cref="KernelMap"/>, <see cref="KernelProgram"/>, <see cref="KernelBtf"/>, <see cref="KernelLink"/>);
/// disposing the handle closes the fd.
/// </summary>
public sealed partial class LinuxBackend : IBpfBackend
{
    private static readonly Lazy<Abi.Profiles.KernelProfile> FeatureProfile = new(() => Probes.LiveKernelProfile.Probe(includeKfuncs: false));

    private LinuxBackend()
    {
    }

    /// <summary>The one instance (the kernel is one).</summary>
    public static LinuxBackend Instance { get; } = new();

    /// <inheritdoc/>
    public string Name => "linux";

    /// <summary>The running kernel's types, helpers and features, probed once (kfuncs are not probed: the loader needs none).</summary>
    public Abi.Profiles.KernelProfile Profile => FeatureProfile.Value;

    /// <inheritdoc/>
    public int PossibleCpus => Linux.PossibleCpus.Count;

    /// <inheritdoc/>
    public int PageSize => Environment.SystemPageSize;

    // ---- wrapping fds into the common live types ----

    private BpfMap Wrap(KernelMap map, MapAccess access = MapAccess.ReadWrite)
    {
        try
        {
            var info = map.GetInfo();
            return new BpfMap(this, map, info.Id, access, map.Type, map.KeySize, map.ValueSize, map.MaxEntries, map.Flags, map.Name);
        }
        catch
        {
            map.Dispose();
            throw;
        }
    }

    private BpfProgram Wrap(KernelProgram program)
    {
        try
        {
            return new BpfProgram(this, program, program.GetInfo().Id, program.Type, program.Name, program.VerifierLog);
        }
        catch
        {
            program.Dispose();
            throw;
        }
    }

    private BtfHandle Wrap(KernelBtf btf)
    {
        try
        {
            return new BtfHandle(this, btf, btf.GetInfo().Id, btf.Log);
        }
        catch
        {
            btf.Dispose();
            throw;
        }
    }

    private BpfLink Wrap(KernelLink link)
    {
        try
        {
            return new BpfLink(this, link, link.GetInfo().Id);
        }
        catch
        {
            link.Dispose();
            throw;
        }
    }

    /// <summary>Wraps a program fd obtained elsewhere (ownership passes to the handle).</summary>
    public BpfProgram Adopt(KernelProgram program) => Wrap(program);

    /// <summary>Wraps a map fd obtained elsewhere (ownership passes to the handle).</summary>
    public BpfMap Adopt(KernelMap map) => Wrap(map);

    /// <summary>Wraps a link fd obtained elsewhere (ownership passes to the handle).</summary>
    public BpfLink Adopt(KernelLink link) => Wrap(link);

    private static KernelMap K(BpfMap map) => map.NativeAs<KernelMap>();
    private static KernelProgram K(BpfProgram program) => program.NativeAs<KernelProgram>();

    private static BpfFd FdOf(BpfHandle handle) => handle.Native switch
    {
        KernelMap m => m.Fd,
        KernelProgram p => p.Fd,
        KernelBtf b => b.Fd,
        KernelLink l => l.Fd,
        _ => throw new BpfException(Errno.EINVAL, $"{handle.GetType().Name} {handle.Id} belongs to another backend ({handle.Backend.Name})"),
    };

    // ---- creation ----

    /// <inheritdoc/>
    public BpfMap CreateMap(MapDefinition definition, BtfHandle? btf = null)
    {
        ArgumentNullException.ThrowIfNull(definition);
        KernelMap? byId = null;
        try
        {
            if (definition.InnerMap is null && definition.InnerMapId != 0)
                byId = KernelMap.FromId(definition.InnerMapId);
            var map = KernelMap.Create(new MapCreateAttributes
            {
                Type = definition.Type, KeySize = definition.KeySize, ValueSize = definition.ValueSize, MaxEntries = definition.MaxEntries,
                Flags = definition.Flags, Name = definition.Name, NumaNode = definition.NumaNode, MapExtra = definition.MapExtra,
                InnerMap = definition.InnerMap is { } inner ? K(inner) : byId,
                Btf = btf?.NativeAs<KernelBtf>().Fd, BtfKeyTypeId = definition.BtfKeyTypeId, BtfValueTypeId = definition.BtfValueTypeId,
                BtfVmlinuxValueTypeId = definition.BtfVmlinuxValueTypeId, Ifindex = definition.Ifindex,
            });
            return Wrap(map);
        }
        finally
        {
            byId?.Dispose();
        }
    }

    /// <inheritdoc/>
    public BtfHandle LoadBtf(ReadOnlyMemory<byte> data, string name = "") => Wrap(KernelBtf.Load(data.Span));

    /// <summary>
    /// BPF_PROG_LOAD. Map-index lddw's become map-fd ones (src 1/2 with the used map's fd). The log level is the
    /// kernel's; by default none, a failed load being retried at level 1 for the log (libbpf's way).
    /// The kernel has no AllowUnverified: EOPNOTSUPP.
    /// </summary>
    public BpfProgram LoadProgram(ProgramDefinition definition, IReadOnlyList<BpfMap>? usedMaps = null, BtfHandle? btf = null, ProgramLoadOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(definition);
        options ??= new ProgramLoadOptions();
        if (options.AllowUnverified)
            throw new BpfException(Errno.EOPNOTSUPP, $"program {definition.Name}: the kernel loads only verified programs (AllowUnverified is the managed runtime's)");
        if (options.FdArray is { Count: > 0 } fdArray && fdArray.Any(h => h is not null))
            throw new BpfException(Errno.EOPNOTSUPP, $"program {definition.Name}: BTF object references by fd_array index are the managed runtime's (module BTF)");
        var insns = definition.Instructions.ToArray();
        var maps = usedMaps ?? [];
        for (int pc = 0; pc < insns.Length; pc++)
        {
            var insn = insns[pc];
            if (!insn.IsLoadImm64)
                continue;
            // Without used maps there is nothing to stand for: the instruction goes to the kernel as it is, which
            // refuses a map index without fd_array ("fd_idx without fd_array is invalid", EPROTO) as the runtime does.
            if (insn.Src is (byte)LoadImm64Source.MapIndex or (byte)LoadImm64Source.MapIndexValue && maps.Count > 0)
            {
                if ((uint)insn.Imm >= (uint)maps.Count)
                    throw new BpfException(Errno.EINVAL, $"program {definition.Name}: insn {pc}: map index {insn.Imm} is not among the {maps.Count} used maps");
                // The fd stays open as long as the caller's handle, so the number stays valid through the load.
                var source = insn.Src == (byte)LoadImm64Source.MapIndex ? LoadImm64Source.MapFd : LoadImm64Source.MapValue;
                insns[pc] = insn.WithSrc((byte)source).WithImm(K(maps[insn.Imm]).Fd.Value);
            }
            pc++;
        }
        var level = (VerifierLogLevel)Math.Max(0, options.LogLevel ?? 0);
        uint attachBtfId = AttachBtfIdOf(options);
        var program = KernelProgram.Load(new ProgramLoadAttributes
        {
            Type = definition.Type,
            Instructions = insns,
            Name = definition.Name,
            License = definition.License,
            KernelVersion = definition.KernelVersion,
            Flags = (ProgramLoadFlags)definition.Flags,
            ExpectedAttachType = definition.ExpectedAttachType,
            LogLevel = level,
            LogSize = options.LogSize,
            MaxLogSize = options.MaxLogSize,
            Btf = btf is not null && !definition.FuncInfo.IsEmpty ? btf.NativeAs<KernelBtf>().Fd : null,
            FuncInfo = btf is null ? default : definition.FuncInfo,
            LineInfo = btf is null || definition.FuncInfo.IsEmpty ? default : definition.LineInfo,
            CoreRelocations = definition.CoreRelocations,
            CoreRelocationRecordSize = definition.CoreRelocationRecordSize,
            AttachBtfId = attachBtfId,
            AttachTarget = options.AttachTarget is { } target ? K(target).Fd : null,
            Ifindex = (uint)options.Ifindex,
        });
        return Wrap(program);
    }

    /// <summary>
    /// attach_btf_id: given, or (with a target program) the named function's FUNC id in the target's BTF, as libbpf's
    /// bpf_program__set_attach_target finds it. Without either it stays 0 and the kernel says what it thinks of that.
    /// </summary>
    private static uint AttachBtfIdOf(ProgramLoadOptions options)
    {
        if (options.AttachBtfId != 0)
            return options.AttachBtfId;
        if (options.AttachTarget is { } target && options.AttachFunction is { } function)
            return BpfProgram.FindFunction(target, function);
        return 0;
    }

    // ---- ids and pins ----

    /// <inheritdoc/>
    public IReadOnlyList<uint> GetIds(ObjectKind kind) => (kind switch
    {
        ObjectKind.Program => KernelObjects.EnumerateProgramIds(),
        ObjectKind.Map => KernelObjects.EnumerateMapIds(),
        ObjectKind.Btf => KernelObjects.EnumerateBtfIds(),
        _ => KernelObjects.EnumerateLinkIds(),
    }).ToArray();

    /// <inheritdoc/>
    public BpfHandle Open(ObjectKind kind, uint id, MapAccess access = MapAccess.ReadWrite) => kind switch
    {
        ObjectKind.Program => Wrap(KernelProgram.FromId(id)),
        ObjectKind.Map => Wrap(KernelMap.FromId(id), access),
        ObjectKind.Btf => Wrap(KernelBtf.FromId(id)),
        _ => Wrap(KernelLink.FromId(id)),
    };

    /// <inheritdoc/>
    public void Pin(BpfHandle handle, string path)
    {
        handle.ThrowIfClosed();
        if (handle is BtfHandle)
            throw new BpfException(Errno.EINVAL, $"pin '{path}': BTF objects cannot be pinned");
        CheckPinTarget(path, directory: false);
        BpfFs.Pin(FdOf(handle), path, handle.ToString() ?? "object");
    }

    /// <inheritdoc/>
    public BpfHandle? GetPinned(string path, MapAccess access = MapAccess.ReadWrite)
    {
        if (!File.Exists(path))
            return null;
        var fd = BpfFs.Get(path, BpfObjectKind.Map, readOnly: access == MapAccess.ReadOnly, writeOnly: access == MapAccess.WriteOnly);
        var info = KernelFdInfo.Read(fd);
        if (info.IsProgram)
            return Wrap(KernelProgram.FromFd(new BpfFd(Detach(fd), BpfObjectKind.Program)));
        if (info.IsMap)
            return Wrap(KernelMap.FromFd(fd), access);
        if (info.IsLink)
            return Wrap(KernelLink.FromFd(new BpfFd(Detach(fd), BpfObjectKind.Link)));
        fd.Dispose();
        throw new BpfException(Errno.EINVAL, $"get '{path}': not a program, map or link");
    }

    /// <summary>Moves the descriptor out of <paramref name="fd"/> (which then owns nothing) so it can be relabelled.</summary>
    private static int Detach(BpfFd fd)
    {
        int value = fd.Value;
        fd.SetHandleAsInvalid();
        return value;
    }

    /// <summary>unlink(2) of a pin: the kernel's errno as given (ENOENT, EISDIR, EPERM …); the last reference of a link detaches it.</summary>
    public void Unpin(string path) => KernelPins.Remove(path, directory: false);

    /// <summary>rmdir(2) in the bpffs, the kernel's errno as given (ENOTEMPTY, ENOTDIR …).</summary>
    public void RemovePinDirectory(string path) => KernelPins.Remove(path, directory: true);

    /// <summary>The entries under a bpffs directory: subdirectories, and each pin opened (BPF_OBJ_GET) to read its kind and id.</summary>
    public IReadOnlyList<PinEntry> ListPinDirectory(string path)
    {
        if (!Directory.Exists(path))
            throw new BpfException(File.Exists(path) ? Errno.ENOTDIR : Errno.ENOENT, $"fs ls {path}: {(File.Exists(path) ? "Not a directory" : "No such file or directory")}");
        var entries = new List<PinEntry>();
        foreach (var entry in Directory.EnumerateFileSystemEntries(path).Order(StringComparer.Ordinal))
        {
            if (Directory.Exists(entry))
            {
                entries.Add(new PinEntry(entry, true, null, 0));
                continue;
            }
            using var handle = GetPinned(entry);
            var kind = handle switch { BpfProgram => ObjectKind.Program, BpfMap => ObjectKind.Map, _ => ObjectKind.Link };
            entries.Add(new PinEntry(entry, false, kind, handle?.Id ?? 0));
        }
        return entries;
    }

    /// <inheritdoc/>
    public void CreatePinDirectory(string path) => KernelPins.CreateDirectory(path);

    /// <summary>As bpftool: under /sys/fs/bpf without a bpffs, one is mounted there; elsewhere off bpffs, EINVAL naming the directory.</summary>
    public void CheckPinTarget(string path, bool directory) => KernelPins.PrepareTarget(path, directory);

    /// <inheritdoc/>
    public IReadOnlyDictionary<(ObjectKind Kind, uint Id), IReadOnlyList<string>> ListPins() => KernelPins.Scan().All;

    // ---- handles ----

    /// <inheritdoc/>
    public void Release(BpfHandle handle) => (handle.Native as IDisposable)?.Dispose();

    /// <summary>A new fd on the same object (by id; a map keeps its access mode).</summary>
    public BpfHandle Duplicate(BpfHandle handle)
    {
        handle.ThrowIfClosed();
        return handle switch
        {
            BpfMap map => Open(ObjectKind.Map, map.Id, map.Access),
            BpfProgram => Open(ObjectKind.Program, handle.Id),
            BtfHandle => Open(ObjectKind.Btf, handle.Id),
            _ => Open(ObjectKind.Link, handle.Id),
        };
    }

    // ---- map commands ----

    /// <inheritdoc/>
    public bool MapLookup(BpfMap map, ReadOnlySpan<byte> key, Span<byte> value, MapUpdateFlags flags, bool delete) =>
        delete ? K(map).TryLookupAndDelete(key, value, flags) : K(map).TryLookup(key, value, flags);

    /// <inheritdoc/>
    public void MapUpdate(BpfMap map, ReadOnlySpan<byte> key, ReadOnlySpan<byte> value, MapUpdateFlags flags) => K(map).Update(key, value, flags);

    /// <inheritdoc/>
    public void MapUpdate(BpfMap map, ReadOnlySpan<byte> key, BpfHandle value, MapUpdateFlags flags) => K(map).UpdateWithFd(key, FdOf(value), flags);

    /// <inheritdoc/>
    public bool MapDelete(BpfMap map, ReadOnlySpan<byte> key) => K(map).Delete(key);

    /// <inheritdoc/>
    public bool MapGetNextKey(BpfMap map, ReadOnlySpan<byte> key, Span<byte> nextKey) => K(map).TryGetNextKey(key, nextKey);

    /// <inheritdoc/>
    public void MapFreeze(BpfMap map) => K(map).Freeze();

    // ---- programs, links, info ----

    /// <inheritdoc/>
    public TestRunResult TestRun(BpfProgram program, TestRunOptions options) => K(program).TestRun(options);

    /// <inheritdoc/>
    public Instruction[] GetTranslatedInstructions(BpfProgram program) => K(program).GetTranslatedInstructions();

    /// <inheritdoc/>
    public void BindMap(BpfProgram program, BpfMap map) => K(program).BindMap(K(map));

    /// <summary>
    /// BPF_LINK_CREATE for a tracing program as libbpf does it: the program's expected attach type (0 for an
    /// extension), target_fd and tracing.target_btf_id when a target is named, tracing.cookie.
    /// </summary>
    public BpfLink AttachTracing(BpfProgram program, BpfProgram? target, uint targetBtfId, ulong cookie)
    {
        ArgumentNullException.ThrowIfNull(program);
        var kernel = K(program);
        // libbpf's bpf_program_attach_fd: the program's expected attach type (0 for an extension). The kernel does not
        // report it for a program opened by id or pin; a tracing program's link_create refuses any attach type but its
        // own with EINVAL before doing anything, so the tracing attach types are tried in turn.
        AttachType[] candidates = kernel.ExpectedAttachType is { } known ? [known]
            : program.Type == ProgramType.Tracing ? [AttachType.TraceFentry, AttachType.TraceFexit, AttachType.ModifyReturn]
            : [default];
        for (int i = 0; ; i++)
        {
            try
            {
                return Wrap(KernelLink.Create(new LinkCreateOptions
                {
                    Program = kernel,
                    TargetFd = target is null ? null : K(target).Fd,
                    AttachType = candidates[i],
                    TargetBtfId = targetBtfId,
                    Cookie = cookie,
                }));
            }
            catch (BpfException e) when (e.Errno == Errno.EINVAL && i + 1 < candidates.Length)
            {
            }
        }
    }

    /// <inheritdoc/>
    public BpfLink AttachIterator(BpfProgram program, BpfMap? map)
    {
        ArgumentNullException.ThrowIfNull(program);
        return Wrap(KernelIterator.Attach(K(program), map is null ? null : K(map)));
    }

    /// <inheritdoc/>
    public BpfIterator CreateIterator(BpfLink link)
    {
        ArgumentNullException.ThrowIfNull(link);
        return KernelIterator.Create(link.NativeAs<KernelLink>());
    }

    /// <inheritdoc/>
    public BpfIterator OpenPinnedIterator(string path) => KernelIterator.OpenPinned(path);

    /// <inheritdoc/>
    public void LinkUpdate(BpfLink link, BpfProgram newProgram, BpfProgram? expected) =>
        link.NativeAs<KernelLink>().Update(K(newProgram), expected is null ? null : K(expected));

    /// <inheritdoc/>
    public void LinkDetach(BpfLink link) => link.NativeAs<KernelLink>().Detach();

    /// <inheritdoc/>
    public ProgramInfo GetInfo(BpfProgram program) => K(program).GetInfo();

    /// <inheritdoc/>
    public MapInfo GetInfo(BpfMap map) => K(map).GetInfo();

    /// <inheritdoc/>
    public LinkInfo GetInfo(BpfLink link) => link.NativeAs<KernelLink>().GetInfo();

    /// <inheritdoc/>
    public BtfInfo GetInfo(BtfHandle btf) => btf.NativeAs<KernelBtf>().GetInfo();

    /// <inheritdoc/>
    public byte[] GetBtfData(BtfHandle btf) => btf.NativeAs<KernelBtf>().ReadBytes();

    /// <summary>The kernel's trace buffer is a file (/sys/kernel/tracing/trace_pipe), not a command: EOPNOTSUPP.</summary>
    public IReadOnlyList<string> DrainTraceLog() =>
        throw new BpfException(Errno.EOPNOTSUPP, "prog tracelog with --backend linux: read /sys/kernel/tracing/trace_pipe (bpftool prog tracelog)");

    // ---- loader questions ----

    /// <summary>LINUX_KERNEL_VERSION and CONFIG_* from the running kernel, as libbpf supplies them.</summary>
    public void FillKconfig(Span<byte> image, ObjectSpec spec) => KernelConfig.ReadRunning().Fill(image, spec.Externs);

    /// <summary>The running kernel's vmlinux BTF.</summary>
    public IKernelSymbols? KernelSymbols => Linux.KernelSymbols.Vmlinux();

    /// <inheritdoc/>
    public CoRe.CoreTargets CoreTargets(string? customPath) =>
        customPath is not null ? CoRe.CoreTargets.FromFile(customPath) : CoRe.CoreTargets.RunningKernel();
}
