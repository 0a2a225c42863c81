using System.Buffers.Binary;
using Ebpf.Abi;
using Ebpf.Isa;
using Ebpf.Loading;

namespace Ebpf.Collections;

/// <summary>
/// libbpf's bpf_object__load, once for every backend: BTF sanitised and loaded (or dropped when refused), maps
/// created in the object's order (inner maps from their templates, pin-by-name reuse after a compatibility check,
/// creation retried without BTF), global data written and .rodata/.kconfig frozen, programs relocated (CO-RE, map
/// references, kernel symbols) and loaded, initial slots filled. The backend only answers bpf(2) commands.
/// </summary>
internal sealed class CollectionLoader
{
    private readonly IBpfBackend _backend;
    private readonly ObjectSpec _spec;
    private readonly ObjectLoadOptions _options;
    private readonly Dictionary<string, BpfMap> _maps = new(StringComparer.Ordinal);
    private readonly Dictionary<string, BpfProgram> _programs = new(StringComparer.Ordinal);
    private readonly List<string> _newPins = [];
    private readonly List<string> _warnings = [];
    /// <summary>libbpf's CO-RE warning lines (pr_warn) of the current load, for the warnings or the failure's log.</summary>
    private readonly List<string> _coreWarnings = [];
    private BtfHandle? _btf;
    private Btf.BtfSpec? _loadedBtf;
    private readonly Dictionary<string, BtfHandle?> _moduleBtfs = new(StringComparer.Ordinal); // opened once per object load
    /// <summary>The object's BTF as the loader sends it: with libbpf's arg:ctx clones appended when the kernel needs them.</summary>
    private Btf.BtfSpec? _objectBtf;
    /// <summary>Per program, the FUNC ids its func_info records name (clones where the arg:ctx fallback rewrote one).</summary>
    private readonly Dictionary<string, uint[]> _funcInfoTypeIds = new(StringComparer.Ordinal);

    private CollectionLoader(IBpfBackend backend, ObjectSpec spec, ObjectLoadOptions options)
    {
        _backend = backend;
        _spec = spec;
        _options = options;
    }

    public static BpfCollection Load(IBpfBackend backend, ObjectSpec spec, ObjectLoadOptions options)
    {
        ArgumentNullException.ThrowIfNull(backend);
        ArgumentNullException.ThrowIfNull(spec);
        var loader = new CollectionLoader(backend, spec, options);
        try
        {
            loader.FixupFuncInfo();
            loader.LoadObjectBtf();
            loader.CreateMaps();
            loader.LoadPrograms();
            loader.FillInitialSlots();
            loader.RememberStructOps();
            return new BpfCollection(backend, loader._maps, loader._programs, loader._btf, loader._warnings);
        }
        catch
        {
            loader.Rollback();
            throw;
        }
        finally
        {
            // Loaded programs hold their own references on the module BTFs they name (libbpf closes its fds likewise).
            foreach (var h in loader._moduleBtfs.Values)
                h?.Dispose();
        }
    }

    private void Rollback()
    {
        foreach (var p in _programs.Values)
            p.Dispose();
        foreach (var path in _newPins)
        {
            try { _backend.Unpin(path); } catch (BpfException) { }
        }
        foreach (var m in _maps.Values)
            m.Dispose();
        _btf?.Dispose();
    }

    // ---- BTF ----

    /// <summary>The kernel the loader's fall-backs are for (arg:ctx, BTF sanitization).</summary>
    private Abi.Profiles.KernelProfile FeatureProfile => _options.FeatureProfile ?? _backend.Profile;

    /// <summary>
    /// libbpf's bpf_program_fixup_func_info, for every program to load in the object's order, when the kernel lacks
    /// native arg:ctx support: clones appended to the object's BTF, func_info records pointed at them.
    /// </summary>
    private void FixupFuncInfo()
    {
        _objectBtf = _spec.Btf;
        if (!_options.LoadBtf || _spec.Btf is null || FeatureProfile.HasFeature(Abi.Profiles.KernelFeature.ArgCtxTag))
            return;
        var fallback = new ArgCtxFallback(_spec.Btf);
        var filter = _options.ProgramFilter ?? (p => p.Autoload);
        foreach (var ps in _spec.Programs.Where(filter))
        {
            if (ps.FuncInfos.Count == 0)
                continue;
            _funcInfoTypeIds[ps.Name] = fallback.FixupProgram(ps.Name, _options.ProgramType ?? ps.Type,
                ps.FuncInfos.Select(f => f.TypeId).ToList(), _warnings.Add);
        }
        _objectBtf = fallback.Build();
    }

    private uint[] FuncInfoTypeIds(ProgramSpec ps) =>
        _funcInfoTypeIds.TryGetValue(ps.Name, out var ids) ? ids : ps.FuncInfos.Select(f => f.TypeId).ToArray();

    private void LoadObjectBtf()
    {
        if (!_options.LoadBtf || _spec.Btf is null)
            return;
        var (sanitized, raw, problem) = BtfSanitizer.Sanitize(_spec, _options.Elf, FeatureProfile, _objectBtf);
        if (sanitized is null || raw is null)
        {
            // Without the ELF a multi-variable DATASEC cannot be laid out: offer the BTF as the object wrote it.
            _warnings.Add($"{_spec.Name}: BTF not sanitised: {problem}");
            sanitized = _objectBtf ?? _spec.Btf;
            raw = sanitized.ToBytes();
        }
        try
        {
            _btf = _backend.LoadBtf(raw, _spec.Name);
            _loadedBtf = sanitized;
        }
        catch (BpfException e)
        {
            // libbpf: "Error loading .BTF into kernel … BTF is optional, ignoring."
            _warnings.Add($"{_spec.Name}: BTF refused, loading without BTF: {e.Message}{(e.Log is null ? "" : " | " + LastLine(e.Log))}");
        }
    }

    private static string LastLine(string log) => log.Split('\n', StringSplitOptions.RemoveEmptyEntries).LastOrDefault() ?? "";

    // ---- maps ----

    private void CreateMaps()
    {
        if (_spec.Maps.Any(m => m.Pinning == MapPinning.ByName))
            _backend.CheckPinTarget(_options.PinRoot, directory: true);
        foreach (var ms in _spec.Maps.Where(m => m.Origin != MapOrigin.InnerTemplate))
        {
            if (_maps.ContainsKey(ms.Name))
                throw new BpfException(Errno.EEXIST, $"{_spec.Name}: two maps named '{ms.Name}'");
            string? pinFile = ms.Pinning == MapPinning.ByName ? _options.PinRoot.TrimEnd('/') + "/" + ms.Name : null;
            if (pinFile is not null && ReusePinned(ms, pinFile) is { } reused)
            {
                _maps[ms.Name] = reused;
                continue;
            }
            var map = CreateMap(ms);
            _maps[ms.Name] = map;
            try
            {
                Populate(ms, map);
            }
            catch (BpfException e)
            {
                throw e.Wrap($"{_spec.Name}: map '{ms.Name}'");
            }
            if (pinFile is not null)
            {
                map.Pin(pinFile);
                _newPins.Add(pinFile);
            }
        }
    }

    /// <summary>
    /// libbpf's bpf_object__reuse_map: a pinned map of the same name is used instead of a new one when it is
    /// compatible (map_is_reuse_compat: type, key and value size, max_entries, map_flags and map_extra all equal);
    /// otherwise the load fails with EINVAL.
    /// </summary>
    private BpfMap? ReusePinned(MapSpec ms, string pinFile)
    {
        var pinned = _backend.GetPinned(pinFile);
        if (pinned is null)
            return null;
        if (pinned is not BpfMap map)
        {
            pinned.Dispose();
            throw new BpfException(Errno.EINVAL, $"map '{ms.Name}': {pinFile} pins a {pinned.GetType().Name}, not a map");
        }
        var want = MapShape.For(ms, _backend.PossibleCpus, _backend.PageSize);
        var info = map.GetInfo();
        // BPF_F_RDONLY/WRONLY belong to fds, not to the map (the kernel does not report them).
        var flags = ms.Flags & ~(MapFlags.Rdonly | MapFlags.Wronly);
        if (info.Type != ms.Type || info.KeySize != want.KeySize || info.ValueSize != want.ValueSize || info.MaxEntries != want.MaxEntries
            || info.Flags != flags || info.MapExtra != ms.MapExtra)
        {
            map.Dispose();
            throw new BpfException(Errno.EINVAL,
                $"map '{ms.Name}': pinned map at {pinFile} is incompatible: {info.Type} {info.KeySize}/{info.ValueSize}/{info.MaxEntries} flags 0x{(uint)info.Flags:x} map_extra {info.MapExtra}"
                + $" vs the object's {ms.Type} {want.KeySize}/{want.ValueSize}/{want.MaxEntries} flags 0x{(uint)flags:x} map_extra {ms.MapExtra}");
        }
        return map;
    }

    private BpfMap CreateMap(MapSpec ms)
    {
        if (ms.StructOps is not null)
            return StructOpsMaps.Create(_backend, ms, BindingOf(ms), _btf);
        MapShape shape;
        try
        {
            shape = MapShape.For(ms, _backend.PossibleCpus, _backend.PageSize);
        }
        catch (BpfException e)
        {
            throw e.Wrap(_spec.Name); // the message already names the map
        }
        BpfMap? inner = null;
        try
        {
            // As libbpf: create the inner template, pass it as inner_map_fd, close it again (the outer keeps what it needs).
            if (ms.Type is MapType.ArrayOfMaps or MapType.HashOfMaps)
            {
                var innerSpec = ms.InnerMap ?? throw new BpfException(Errno.EINVAL, $"{ms.Type} without an inner map definition (__array(values, …))");
                inner = CreateMap(innerSpec);
            }
            // btf_key/value_type_id as libbpf sends them: the BTF-defined key/value, or for global data no key and the
            // section's DATASEC as the value (map_fill_btf_type_info); none for the types the kernel takes no BTF for.
            uint keyType = ms.IsGlobalData ? 0 : ms.KeyTypeId;
            uint valueType = ms.IsGlobalData ? ms.BtfTypeId : ms.ValueTypeId;
            bool withBtf = _btf is not null && valueType != 0 && MapShape.TakesBtfKeyValue(ms.Type);
            var definition = new MapDefinition(ms.Type, shape.KeySize, shape.ValueSize, shape.MaxEntries, ms.Flags, ObjectNames.Sanitize(ms.Name),
                MapExtra: ms.MapExtra)
            {
                InnerMap = inner, NumaNode = ms.NumaNode,
            };
            if (!withBtf)
                return _backend.CreateMap(definition);
            try
            {
                return _backend.CreateMap(definition with { BtfKeyTypeId = keyType, BtfValueTypeId = valueType }, _btf);
            }
            catch (BpfException e)
            {
                // libbpf: "Error in bpf_create_map_xattr(%s): … Retrying without BTF."
                _warnings.Add($"map '{ms.Name}': created without BTF: {e.Message}");
                return _backend.CreateMap(definition);
            }
        }
        catch (BpfException e)
        {
            throw e.Wrap($"{_spec.Name}: map '{ms.Name}'");
        }
        finally
        {
            inner?.Dispose(); // the template only shapes the outer map
        }
    }

    /// <summary>Global data: the section image (.kconfig filled in by the backend) at key 0, then the freeze of .rodata/.kconfig.</summary>
    private void Populate(MapSpec ms, BpfMap map)
    {
        if (ms.StructOps is not null)
            return; // its value is written when it is attached (StructOpsMaps)
        if (ms.InitialValue is { Length: > 0 } initial)
        {
            if (initial.Length > map.ValueBufferSize)
                throw new BpfException(Errno.EINVAL, $"initial value of {initial.Length} bytes does not fit value_size {map.ValueBufferSize}");
            var image = new byte[map.ValueBufferSize];
            initial.CopyTo(image, 0);
            if (ms.Origin == MapOrigin.Kconfig)
                _backend.FillKconfig(image, _spec);
            map.Update(new byte[map.KeySize], image);
        }
        else if (ms.Origin == MapOrigin.Kconfig)
        {
            _backend.FillKconfig(new byte[map.ValueBufferSize], _spec); // still refuses a strong extern it cannot supply
        }
        if (ms.Freeze)
            map.Freeze();
    }

    // ---- programs ----

    private void LoadPrograms()
    {
        var filter = _options.ProgramFilter ?? (p => p.Autoload);
        // One relocator per object load: libbpf's candidate cache spans the object's programs.
        var coreLog = new CoRe.CoreLog { Debug = _options.CoreDebugLog, Warn = _coreWarnings.Add };
        var relocator = _options.KernelSideCoRe ? null
            : CoRe.CoreProgramRelocation.RelocatorFor(_spec, () => _backend.CoreTargets(_options.BtfCustomPath), coreLog);
        foreach (var ps in _spec.Programs.Where(filter))
            _programs[ps.Name] = LoadProgram(ps, relocator);
    }

    private BpfProgram LoadProgram(ProgramSpec ps, CoRe.CoreRelocator? relocator)
    {
        ps.EnsureResolved();
        var type = _options.ProgramType ?? ps.Type;
        LoaderRefusals.ThrowIfUntyped(ps, type);
        Instruction[] insns;
        IReadOnlyList<(int Instruction, CoRe.CoreRelocationResult Result)> coreResults;
        try
        {
            if (_options.KernelSideCoRe)
            {
                // Kernel-side CO-RE: the records travel with BPF_PROG_LOAD and the verifier applies them.
                insns = ps.Instructions.ToArray();
                coreResults = [];
            }
            else
                insns = CoRe.CoreProgramRelocation.Apply(relocator, _spec, ps, out coreResults);
        }
        catch (BpfException e)
        {
            // libbpf printed its warnings on the way: they are the failure's log.
            throw new BpfException(e.Errno, $"{_spec.Name}: program '{ps.Name}': {e.Message}", e)
            {
                Log = _coreWarnings.Count > 0 ? string.Join('\n', _coreWarnings) + "\n" : e.Log,
            };
        }
        _warnings.AddRange(_coreWarnings);
        _coreWarnings.Clear();
        var fdArray = new List<BtfHandle?> { null }; // slot 0: vmlinux
        MarkModuleTypeIds(insns, coreResults, fdArray);
        var used = RelocateMaps(ps, insns);
        ResolveKernelSymbols(ps, insns, fdArray);
        var structOps = type == ProgramType.StructOps ? StructOpsProgram(ps) : default;
        var definition = new ProgramDefinition(type, insns, ObjectNames.Sanitize(ps.Name), ps.License.Length > 0 ? ps.License : _spec.License,
            type == ProgramType.StructOps ? (AttachType)structOps.MemberIndex : ps.ExpectedAttachType ?? default, (uint)ps.Flags)
        {
            KernelVersion = ps.KernelVersion != 0 ? ps.KernelVersion : _spec.KernelVersion,
            FuncInfo = _loadedBtf is null ? default : EncodeFuncInfo(ps, FuncInfoTypeIds(ps)),
            LineInfo = _loadedBtf is null ? default : EncodeLineInfo(ps, _loadedBtf),
            CoreRelocations = _options.KernelSideCoRe ? EncodeCoreRelocations(ps) : default,
        };
        try
        {
            return _backend.LoadProgram(definition, used, _loadedBtf is null ? null : _btf, new ProgramLoadOptions
            {
                AllowUnverified = _options.AllowUnverified,
                AlwaysChecked = _options.AlwaysChecked,
                Untranslated = _options.Untranslated,
                VerifierInstructionLimit = _options.VerifierInstructionLimit,
                LogLevel = _options.LogLevel,
                AttachTarget = type is ProgramType.Tracing or ProgramType.Ext ? _options.AttachTarget : null,
                AttachBtfId = type == ProgramType.StructOps ? structOps.AttachBtfId : KernelAttachBtfId(ps, type),
                // Without a target, a tracing program's function is a kernel function (libbpf looks it up in vmlinux).
                AttachFunction = type is ProgramType.Tracing or ProgramType.Ext && _options.AttachTarget is not null
                    ? _options.AttachFunction ?? ps.AttachTarget : type is ProgramType.Tracing ? ps.AttachTarget : null,
                // func_info: global functions are verified on their own, with their BTF argument types.
                // The kernel's reading of func_info: its own profile decides whether arg tags mean anything.
                Functions = Verification.ProgramSpecInput.PrepareFunctions(_loadedBtf ?? _spec.Btf, ps, FuncInfoTypeIds(ps), ps.Type,
                    ps.ExpectedAttachType ?? default, _backend.Profile),
                FdArray = fdArray.Count > 1 ? fdArray : null,
                Ifindex = ps.Ifindex,
            });
        }
        catch (BpfException e)
        {
            // The verifier log travels with the error (bpftool prints it after a refused load).
            throw new BpfException(e.Errno, $"{_spec.Name}: load program {ps.Name} ({ps.SectionName}): {e.Message}", e) { Log = e.Log };
        }
    }

    // ---- struct_ops (libbpf's bpf_object__init_kern_struct_ops_maps) ----

    private (IReadOnlyList<StructOpsBinding> Maps, IReadOnlyDictionary<string, (uint AttachBtfId, int MemberIndex)> Programs)? _structOps;

    private (IReadOnlyList<StructOpsBinding> Maps, IReadOnlyDictionary<string, (uint AttachBtfId, int MemberIndex)> Programs) StructOpsBindings()
    {
        if (_structOps is { } done)
            return done;
        var kernel = _backend.Profile.KernelBtf
            ?? throw new BpfException(Errno.EOPNOTSUPP, $"{_spec.Name}: struct_ops init_kern: no kernel BTF to find the struct_ops types in");
        try
        {
            var bound = StructOpsBinding.BindAll(_spec, kernel);
            foreach (var b in bound.Maps)
                _warnings.AddRange(b.Warnings);
            _structOps = bound;
            return bound;
        }
        catch (BpfException e)
        {
            throw e.Wrap(_spec.Name);
        }
    }

    private StructOpsBinding BindingOf(MapSpec ms) => StructOpsBindings().Maps.Single(b => b.MapName == ms.Name);

    /// <summary>attach_btf_id and member index of a struct_ops program; libbpf refuses one no struct_ops map references.</summary>
    private (uint AttachBtfId, int MemberIndex) StructOpsProgram(ProgramSpec ps) =>
        StructOpsBindings().Programs.TryGetValue(ps.Name, out var bound) ? bound
            : throw new BpfException(Errno.EINVAL,
                $"{_spec.Name}: prog '{ps.Name}': SEC(\"struct_ops\") program isn't referenced anywhere, did you forget to use it?");

    private void RememberStructOps()
    {
        foreach (var ms in _spec.Maps.Where(m => m.StructOps is not null && _maps.ContainsKey(m.Name)))
            StructOpsMaps.Remember(_maps[ms.Name], ms, BindingOf(ms), _programs);
    }

    /// <summary>
    /// libbpf's find_kernel_btf_id for a tracing or LSM program without a target program: attach_btf_id is the vmlinux
    /// type the section names — TYPEDEF <c>btf_trace_NAME</c> for tp_btf, FUNC <c>bpf_iter_NAME</c> for iter/iter.s,
    /// FUNC <c>bpf_lsm_NAME</c> for lsm, the FUNC NAME itself for fentry/fexit/fmod_ret — looked up in the backend's
    /// kernel BTF; a name vmlinux lacks is libbpf's ESRCH ("failed to find kernel BTF type ID of '%s'"). 0 for every
    /// other program (and for a section without a name: the kernel then says what it thinks of that).
    /// </summary>
    private uint KernelAttachBtfId(ProgramSpec ps, ProgramType type)
    {
        if (_options.AttachTarget is not null || string.IsNullOrEmpty(ps.AttachTarget))
            return 0;
        (string prefix, Btf.BtfKind kind)? rule = (type, ps.ExpectedAttachType) switch
        {
            (ProgramType.Tracing, AttachType.TraceRawTp) => ("btf_trace_", Btf.BtfKind.Typedef),
            (ProgramType.Tracing, AttachType.TraceIter) => ("bpf_iter_", Btf.BtfKind.Func),
            (ProgramType.Tracing, AttachType.TraceFentry or AttachType.TraceFexit or AttachType.ModifyReturn) => ("", Btf.BtfKind.Func),
            (ProgramType.Lsm, _) => ("bpf_lsm_", Btf.BtfKind.Func),
            _ => null,
        };
        if (rule is not { } r)
            return 0;
        string target = ps.AttachTarget;
        var vmlinux = _backend.Profile.KernelBtf
            ?? throw new BpfException(Errno.ESRCH, $"program '{ps.Name}': failed to find kernel BTF type ID of '{target}': no kernel BTF");
        uint id = vmlinux.FindAllByName(r.prefix + target, r.kind).FirstOrDefault();
        return id != 0 ? id
            : throw new BpfException(Errno.ESRCH, $"program '{ps.Name}': failed to find kernel BTF type ID of '{target}': -3");
    }

    /// <summary>
    /// Map references: the linker leaves src 5/6 lddw's with imm = the map's index in the spec; they become indexes
    /// into the list of maps this program uses (what the backend resolves to fds or its own map pointers).
    /// </summary>
    private List<BpfMap> RelocateMaps(ProgramSpec ps, Instruction[] insns)
    {
        var used = new List<BpfMap>();
        var remap = new Dictionary<int, int>();
        for (int pc = 0; pc < insns.Length; pc++)
        {
            var insn = insns[pc];
            if (!insn.IsLoadImm64)
                continue;
            if (insn.Src is (byte)LoadImm64Source.MapIndex or (byte)LoadImm64Source.MapIndexValue)
            {
                int index = insn.Imm;
                if ((uint)index >= (uint)_spec.Maps.Count || !_maps.TryGetValue(_spec.Maps[index].Name, out var map))
                    throw new BpfException(Errno.EINVAL, $"program '{ps.Name}': insn {pc}: references map #{index}, which was not created");
                if (!remap.TryGetValue(index, out int compact))
                {
                    compact = used.Count;
                    used.Add(map);
                    remap[index] = compact;
                }
                insns[pc] = insn.WithImm(compact);
            }
            pc++;
        }
        return used;
    }

    /// <summary>A module's BTF object for this load (one handle per object), or null when the backend names none.</summary>
    private BtfHandle? ModuleBtf(string module)
    {
        if (!_moduleBtfs.TryGetValue(module, out var handle))
            _moduleBtfs[module] = handle = _backend.KernelSymbols?.OpenModuleBtf(module);
        return handle;
    }

    /// <summary>The fd_array slot of <paramref name="handle"/> (added on first use; slot 0 is vmlinux).</summary>
    private static int Slot(List<BtfHandle?> fdArray, BtfHandle handle)
    {
        int at = fdArray.IndexOf(handle);
        if (at > 0)
            return at;
        fdArray.Add(handle);
        return fdArray.Count - 1;
    }

    /// <summary>
    /// The btf_ptr extension (<see cref="BtfObjectReference"/>): a TYPE_ID_TARGET relocation that resolved into a
    /// module's BTF carries that BTF object, where the backend can name it (the managed runtime); elsewhere the
    /// instruction keeps libbpf's encoding, the 32-bit id with upper half 0.
    /// </summary>
    private void MarkModuleTypeIds(Instruction[] insns, IReadOnlyList<(int Instruction, CoRe.CoreRelocationResult Result)> results, List<BtfHandle?> fdArray)
    {
        foreach (var (at, r) in results)
        {
            if (r.Local.Kind != Btf.BtfCoreReloKind.TypeIdTarget || r.Poison || r.New == 0 || r.TargetBtfName is not { } name
                || (uint)at + 1 >= (uint)insns.Length || !insns[at].IsLoadImm64 || insns[at].Src != 0)
                continue;
            if (ModuleBtf(name) is not { } handle)
                continue;
            insns[at] = insns[at].WithSrc(BtfObjectReference.PseudoBtfObject);
            insns[at + 1] = insns[at + 1].WithImm(Slot(fdArray, handle));
        }
    }

    /// <summary>
    /// __ksym variables and kfunc calls resolved against the backend's kernel BTF, vmlinux first and then module BTF
    /// (weak ones may be absent). A module symbol names its BTF object: a kfunc call's off and a ksym lddw's second imm
    /// are its fd_array slot (§4.9). As libbpf (≥ 1.2) does, an absent weak kfunc's call is poisoned
    /// (<see cref="KfuncPoison"/>) and an lddw of it (bpf_ksym_exists) loads 0; an lddw of a present kfunc is a
    /// BPF_PSEUDO_BTF_ID naming its FUNC.
    /// </summary>
    private void ResolveKernelSymbols(ProgramSpec ps, Instruction[] insns, List<BtfHandle?> fdArray)
    {
        for (int r = 0; r < ps.Relocations.Count; r++)
        {
            var relo = ps.Relocations[r];
            if (relo.Kind is not (ProgramRelocationKind.KfuncCall or ProgramRelocationKind.KsymVariable))
                continue;
            int at = relo.InstructionIndex;
            if ((uint)at >= (uint)insns.Length)
                throw new BpfException(Errno.EINVAL, $"program {ps.Name}: relocation '{relo.Symbol}' at insn {at} is outside the program ({insns.Length} insns)");
            var symbols = _backend.KernelSymbols
                ?? throw new BpfException(Errno.ENOTSUPP, $"program '{ps.Name}': insn {at}: kernel symbol '{relo.Symbol}' cannot be resolved in the {_backend.Name} backend");
            var ext = _spec.Externs.FirstOrDefault(e => e.Name == relo.Symbol);
            bool function = relo.Kind == ProgramRelocationKind.KfuncCall || ext?.Kind == ExternKind.KsymFunction;
            var found = symbols.Resolve(relo.Symbol, function);
            if (found is not null && ext is { Kind: ExternKind.KsymFunction } && !KfuncProtoCompatible(ext, found))
            {
                // libbpf: an incompatible weak kfunc counts as unresolved; a strong one fails the load.
                if (!ext.IsWeak)
                    throw new BpfException(Errno.EINVAL, $"program {ps.Name}: extern (func ksym) '{relo.Symbol}': func_proto [{LocalProto(ext)}] incompatible with {found.Module ?? "vmlinux"} [{KernelProto(found)}]");
                found = null;
            }
            if (relo.Kind == ProgramRelocationKind.KfuncCall)
            {
                if (found is null && ext?.IsWeak == true)
                {
                    insns[at] = KfuncPoison.Call(KfuncPoison.ExternIndex(_spec.Externs, ext));
                    _options.CoreDebugLog?.Invoke($"prog '{ps.Name}': relo #{r}: poisoning insn #{at} that calls kfunc '{relo.Symbol}'\n");
                    continue;
                }
                var fn = found ?? throw new BpfException(Errno.ENOENT, $"program {ps.Name}: extern (func ksym) '{relo.Symbol}' not found in kernel BTF");
                short slot = (short)ModuleSlot(ps, relo.Symbol, fn, fdArray);
                insns[at] = new Instruction(insns[at].Opcode, 0, (byte)CallSource.Kfunc, slot, (int)fn.BtfId);
                continue;
            }
            if (!insns[at].IsLoadImm64 || at + 1 >= insns.Length)
                throw new BpfException(Errno.EINVAL, $"program {ps.Name}: ksym '{relo.Symbol}' at insn {at} is not on an lddw");
            if (found is { } sym)
            {
                insns[at] = insns[at].WithSrc((byte)LoadImm64Source.BtfId).WithImm((int)sym.BtfId);
                insns[at + 1] = insns[at + 1].WithImm(ModuleSlot(ps, relo.Symbol, sym, fdArray)); // btf_obj_fd; 0: vmlinux
            }
            else if (ext?.IsWeak == true)
            {
                insns[at] = insns[at].WithSrc(0).WithImm(0);
                insns[at + 1] = insns[at + 1].WithImm(0);
            }
            else
                throw new BpfException(Errno.ENOENT, $"program {ps.Name}: extern ({(function ? "func" : "var")} ksym) '{relo.Symbol}' not found in kernel BTF");
        }
    }

    /// <summary>
    /// bpf_object__resolve_ksym_func_btf_id's check: the extern's FUNC_PROTO must be compatible (bpf_core_types_are_compat)
    /// with the kernel FUNC's. Without the kernel's BTF at hand (a backend that names no CO-RE targets) it is assumed.
    /// </summary>
    private bool KfuncProtoCompatible(ExternSpec ext, KernelSymbol found)
    {
        if (_kfuncCompat.TryGetValue(ext.Name, out bool known))
            return known;
        bool ok = true;
        if (_spec.Btf is { } local && KernelBtfOf(found) is { } kernel
            && kernel.TryGetType(found.BtfId, out var kt) && kt is Btf.BtfFunc kf)
            ok = CoRe.CoreTypeRelations.TypesAreCompatible(local, LocalProto(ext), kernel, kf.ProtoType) > 0;
        _kfuncCompat[ext.Name] = ok;
        return ok;
    }

    private uint LocalProto(ExternSpec ext) =>
        _spec.Btf is { } local && local.TryGetType(ext.BtfTypeId, out var t) && t is Btf.BtfFunc f ? f.ProtoType : 0;

    private uint KernelProto(KernelSymbol found) =>
        KernelBtfOf(found) is { } kernel && kernel.TryGetType(found.BtfId, out var t) && t is Btf.BtfFunc f ? f.ProtoType : 0;

    /// <summary>The kernel BTF holding <paramref name="found"/>: vmlinux or its module's split BTF (never a custom target).</summary>
    private Btf.BtfSpec? KernelBtfOf(KernelSymbol found)
    {
        try
        {
            _kernelTargets ??= _backend.CoreTargets(null);
            return found.Module is null ? _kernelTargets.Main.Btf : _kernelTargets.Modules.FirstOrDefault(m => m.Name == found.Module)?.Btf;
        }
        catch (BpfException)
        {
            return null;
        }
    }

    private readonly Dictionary<string, bool> _kfuncCompat = new(StringComparer.Ordinal);
    private CoRe.CoreTargets? _kernelTargets;

    /// <summary>0 for a vmlinux symbol; a module symbol's BTF object slot (ENOENT when the module went meanwhile).</summary>
    private int ModuleSlot(ProgramSpec ps, string symbol, KernelSymbol found, List<BtfHandle?> fdArray)
    {
        if (found.Module is not { } module)
            return 0;
        var handle = ModuleBtf(module)
            ?? throw new BpfException(Errno.ENOENT, $"program {ps.Name}: ksym '{symbol}' is in module '{module}', whose BTF object is gone");
        return Slot(fdArray, handle);
    }

    private static byte[] EncodeFuncInfo(ProgramSpec ps, uint[] typeIds)
    {
        var bytes = new byte[ps.FuncInfos.Count * 8];
        for (int i = 0; i < ps.FuncInfos.Count; i++)
        {
            BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(i * 8), (uint)ps.FuncInfos[i].InstructionIndex);
            BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(i * 8 + 4), typeIds[i]);
        }
        return bytes;
    }

    /// <summary>
    /// struct bpf_core_relo records {insn_off (bytes), type_id, access_str_off, kind} against the loaded BTF's strings,
    /// as libbpf's gen_loader emits them for kernel-side CO-RE.
    /// </summary>
    private byte[] EncodeCoreRelocations(ProgramSpec ps)
    {
        if (ps.CoreRelocations.Count == 0)
            return [];
        if (_loadedBtf is null)
            throw new BpfException(Errno.EINVAL, $"program '{ps.Name}': kernel-side CO-RE needs the object's BTF loaded ({ps.CoreRelocations.Count} relocations)");
        var bytes = new byte[ps.CoreRelocations.Count * 16];
        for (int i = 0; i < ps.CoreRelocations.Count; i++)
        {
            var r = ps.CoreRelocations[i];
            if (!_loadedBtf.TryFindString(r.AccessString, out uint accessOff))
                throw new BpfException(Errno.EINVAL, $"program '{ps.Name}': CO-RE access string \"{r.AccessString}\" is not in the loaded BTF");
            var s = bytes.AsSpan(i * 16);
            BinaryPrimitives.WriteUInt32LittleEndian(s, (uint)r.InstructionIndex * 8);
            BinaryPrimitives.WriteUInt32LittleEndian(s[4..], r.TypeId);
            BinaryPrimitives.WriteUInt32LittleEndian(s[8..], accessOff);
            BinaryPrimitives.WriteUInt32LittleEndian(s[12..], (uint)r.Kind);
        }
        return bytes;
    }

    /// <summary>bpf_line_info records {insn_off, file_name_off, line_off, line &lt;&lt; 10 | col} against the loaded BTF's strings.</summary>
    private byte[] EncodeLineInfo(ProgramSpec ps, Btf.BtfSpec btf)
    {
        var bytes = new byte[ps.LineInfos.Count * 16];
        for (int i = 0; i < ps.LineInfos.Count; i++)
        {
            var li = ps.LineInfos[i];
            if (!btf.TryFindString(li.FileName, out uint file) || !btf.TryFindString(li.LineText, out uint line))
            {
                _warnings.Add($"program {ps.Name}: line_info strings not in the BTF; loading without line info");
                return [];
            }
            var s = bytes.AsSpan(i * 16);
            BinaryPrimitives.WriteUInt32LittleEndian(s, (uint)li.InstructionIndex);
            BinaryPrimitives.WriteUInt32LittleEndian(s[4..], file);
            BinaryPrimitives.WriteUInt32LittleEndian(s[8..], line);
            BinaryPrimitives.WriteUInt32LittleEndian(s[12..], (li.Line << 10) | (li.Column & 0x3ff));
        }
        return bytes;
    }

    // ---- initial slots ----

    /// <summary>
    /// Prog-array and map-in-map slots the object initialises (`.values = { [1] = &amp;prog }`). libbpf passes
    /// &amp;(int)index as the key, so a narrower key (cilium's u16 maglev hash-of-maps) is its low-order bytes. A program
    /// that was not loaded (filtered out) leaves its slot empty.
    /// </summary>
    private void FillInitialSlots()
    {
        foreach (var ms in _spec.Maps.Where(m => m.InitialSlots.Count > 0 && _maps.ContainsKey(m.Name)))
        {
            var map = _maps[ms.Name];
            if (map.KeySize is 0 or > 4)
                throw new BpfException(Errno.EINVAL, $"map '{ms.Name}': initial slots need a key of 1 to 4 bytes (key_size {map.KeySize})");
            foreach (var slot in ms.InitialSlots)
            {
                var key = BitConverter.GetBytes(slot.Index).AsSpan(0, (int)map.KeySize).ToArray();
                try
                {
                    if (ms.Type is MapType.ArrayOfMaps or MapType.HashOfMaps)
                    {
                        var inner = _maps.GetValueOrDefault(slot.Name)
                            ?? throw new BpfException(Errno.ENOENT, $"slot {slot.Index} names map '{slot.Name}', which was not created");
                        map.Update(key, inner);
                    }
                    else if (ms.Type == MapType.ProgArray)
                    {
                        if (_programs.TryGetValue(slot.Name, out var program))
                            map.Update(key, program);
                    }
                    else
                        throw new BpfException(Errno.EINVAL, $"{ms.Type} has no initial slots");
                }
                catch (BpfException e)
                {
                    throw e.Wrap($"map '{ms.Name}': slot {slot.Index} ('{slot.Name}')");
                }
            }
        }
    }
}

/// <summary>The names loaders give the kernel (bpf_obj_name_cpy accepts at most 15 characters of [A-Za-z0-9_.]).</summary>
public static class ObjectNames
{
    /// <summary>BPF_OBJ_NAME_LEN - 1.</summary>
    public const int MaxLength = 15;

    /// <summary>Characters the kernel refuses become '_', and the name is cut to 15 characters, as libbpf does.</summary>
    public static string Sanitize(string? name)
    {
        if (string.IsNullOrEmpty(name))
            return "";
        Span<char> buffer = stackalloc char[Math.Min(name.Length, MaxLength)];
        for (int i = 0; i < buffer.Length; i++)
            buffer[i] = char.IsAsciiLetterOrDigit(name[i]) || name[i] is '_' or '.' ? name[i] : '_';
        return new string(buffer);
    }
}
