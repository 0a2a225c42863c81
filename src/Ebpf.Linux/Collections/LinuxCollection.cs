using System.Buffers.Binary;
using Ebpf.Abi;
using Ebpf.Btf;
using Ebpf.Elf;
using Ebpf.Isa;
using Ebpf.Loading;

namespace Ebpf.Linux.Collections;

/// <summary>How <see cref="LinuxCollection.Load"/> loads an object.</summary>
public sealed class LinuxCollectionOptions
{
    /// <summary>The object's ELF, for the BTF DATASEC fix-ups (set by <see cref="LinuxCollection.LoadFile"/>).</summary>
    public ElfFile? Elf { get; init; }
    /// <summary>A bpffs directory for maps with pinning ByName: an existing pin is reused, a new map is pinned there.</summary>
    public string? PinPath { get; init; }
    /// <summary>Which programs to load; default: those with Autoload (not SEC("?...")).</summary>
    public Func<ProgramSpec, bool>? ProgramFilter { get; init; }
    public VerifierLogLevel LogLevel { get; init; }
    /// <summary>Load the object's BTF (and pass func_info/line_info); when the kernel refuses it, load without, as libbpf does.</summary>
    public bool LoadBtf { get; init; } = true;
    /// <summary>libbpf's btf_custom_path: CO-RE relocations resolve against this BTF file instead of the running kernel's.</summary>
    public string? BtfCustomPath { get; init; }
}

/// <summary>
/// An ObjectSpec loaded into the running kernel: maps created (inner maps from their templates, global data
/// initialised and .rodata/.kconfig frozen), BTF loaded, programs relocated and loaded with func/line info,
/// prog-array and map-in-map initial slots filled. Dispose closes every fd it holds.
/// </summary>
public sealed class LinuxCollection : IDisposable
{
    private readonly Dictionary<string, KernelMap> _maps = new(StringComparer.Ordinal);
    private readonly Dictionary<string, KernelProgram> _programs = new(StringComparer.Ordinal);

    private LinuxCollection()
    {
    }

    public IReadOnlyDictionary<string, KernelMap> Maps => _maps;
    public IReadOnlyDictionary<string, KernelProgram> Programs => _programs;
    public KernelBtf? Btf { get; private set; }
    /// <summary>What was downgraded on the way (BTF refused, map created without BTF, …).</summary>
    public List<string> Warnings { get; } = [];

    public static LinuxCollection LoadFile(string path, LinuxCollectionOptions? options = null)
    {
        var elf = ElfFile.Open(path);
        var spec = ObjectSpec.Parse(elf.Image, path);
        spec.Name = ObjectSpec.ObjectNameFromPath(path);
        var o = options ?? new LinuxCollectionOptions();
        return Load(spec, new LinuxCollectionOptions
        {
            Elf = o.Elf ?? elf, PinPath = o.PinPath, ProgramFilter = o.ProgramFilter, LogLevel = o.LogLevel, LoadBtf = o.LoadBtf,
        });
    }

    public static LinuxCollection Load(ObjectSpec spec, LinuxCollectionOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(spec);
        options ??= new LinuxCollectionOptions();
        var collection = new LinuxCollection();
        try
        {
            var btf = collection.LoadObjectBtf(spec, options);
            collection.CreateMaps(spec, options, btf);
            collection.LoadPrograms(spec, options, btf);
            collection.FillInitialSlots(spec);
            return collection;
        }
        catch
        {
            collection.Dispose();
            throw;
        }
    }

    // ---- BTF ----

    private Btf.BtfSpec? LoadObjectBtf(ObjectSpec spec, LinuxCollectionOptions options)
    {
        if (!options.LoadBtf || spec.Btf is null)
            return null;
        var (sanitized, raw, problem) = KernelBtfSanitizer.Sanitize(spec, options.Elf);
        if (sanitized is null || raw is null)
        {
            Warnings.Add($"{spec.Name}: loading without BTF: {problem}");
            return null;
        }
        try
        {
            Btf = KernelBtf.Load(raw);
            return sanitized;
        }
        catch (BpfException e)
        {
            Warnings.Add($"{spec.Name}: kernel refused the BTF, loading without it: {e.Message}{(e.Log is null ? "" : " | " + LastLine(e.Log))}");
            return null;
        }
    }

    private static string LastLine(string log) => log.Split('\n', StringSplitOptions.RemoveEmptyEntries).LastOrDefault() ?? "";

    // ---- maps ----

    private void CreateMaps(ObjectSpec spec, LinuxCollectionOptions options, Btf.BtfSpec? btf)
    {
        KernelConfig? kconfig = null;
        // As libbpf ("specified path … is not on BPF FS"): checked before any map exists, since the kernel's
        // own refusal of the pin (EPERM) would come after the map was made and would not say why.
        if (options.PinPath is { } pinRoot && spec.Maps.Any(m => m.Pinning == MapPinning.ByName)
            && Directory.Exists(pinRoot) && !BpfFs.IsBpfFs(pinRoot))
            throw new BpfException(Errno.EINVAL, $"{spec.Name}: pin path {pinRoot} is not on a BPF file system (maps pinned by name go there)");
        foreach (var ms in spec.Maps.Where(m => m.Origin != MapOrigin.InnerTemplate))
        {
            if (_maps.ContainsKey(ms.Name))
                throw new BpfException(Errno.EEXIST, $"{spec.Name}: two maps named '{ms.Name}'");
            string? pinFile = ms.Pinning == MapPinning.ByName && options.PinPath is not null ? Path.Combine(options.PinPath, ms.Name) : null;
            if (pinFile is not null && File.Exists(pinFile))
            {
                var want = MapShape.For(ms, PossibleCpus.Count, Environment.SystemPageSize);
                var pinned = KernelMap.LoadPinned(pinFile);
                _maps[ms.Name] = pinned;
                if (pinned.Type != ms.Type || pinned.KeySize != want.KeySize || pinned.ValueSize != want.ValueSize || pinned.MaxEntries != want.MaxEntries)
                    throw new BpfException(Errno.EINVAL, $"map '{ms.Name}': pinned map at {pinFile} is incompatible ({pinned.Type} {pinned.KeySize}/{pinned.ValueSize}/{pinned.MaxEntries})");
                continue;
            }

            var map = CreateMap(ms, btf, spec.Name);
            _maps[ms.Name] = map;
            if (ms.InitialValue is { } initial)
            {
                var image = (byte[])initial.Clone();
                if (ms.Origin == MapOrigin.Kconfig)
                    (kconfig ??= KernelConfig.ReadRunning()).Fill(image, spec.Externs);
                if (image.Length != map.ValueBufferSize)
                    throw new BpfException(Errno.EINVAL, $"map '{ms.Name}': initial value is {image.Length} bytes, value size is {map.ValueBufferSize}");
                map.Update(new byte[4], image);
            }
            if (ms.Freeze)
                map.Freeze();
            if (pinFile is not null)
                map.Pin(pinFile);
        }
    }

    private KernelMap CreateMap(MapSpec ms, Btf.BtfSpec? btf, string objectName)
    {
        // Sizes as the loaders adjust them, read now so edits made to the spec before loading count.
        MapShape shape;
        try
        {
            shape = MapShape.For(ms, PossibleCpus.Count, Environment.SystemPageSize);
        }
        catch (BpfException e)
        {
            throw e.Wrap(objectName); // the message already names the map
        }
        KernelMap? inner = null;
        try
        {
            if (ms.InnerMap is { } innerSpec)
                inner = CreateMap(innerSpec, btf, objectName);
            // Global data carries its DATASEC as the value type; .maps maps their key/value types.
            uint keyType = ms.IsGlobalData ? 0 : ms.KeyTypeId;
            uint valueType = ms.IsGlobalData ? ms.BtfTypeId : ms.ValueTypeId;
            bool withBtf = btf is not null && Btf is not null && valueType != 0 && MapShape.TakesBtfKeyValue(ms.Type);
            var options = new MapCreateOptions
            {
                Type = ms.Type, KeySize = shape.KeySize, ValueSize = shape.ValueSize, MaxEntries = shape.MaxEntries,
                Flags = ms.Flags, Name = ms.Name, NumaNode = ms.NumaNode, MapExtra = ms.MapExtra, InnerMap = inner,
                Btf = withBtf ? Btf!.Fd : null, BtfKeyTypeId = withBtf ? keyType : 0, BtfValueTypeId = withBtf ? valueType : 0,
            };
            try
            {
                return KernelMap.Create(options);
            }
            catch (BpfException e) when (withBtf)
            {
                Warnings.Add($"map '{ms.Name}': created without BTF: {e.Message}");
                return KernelMap.Create(new MapCreateOptions
                {
                    Type = ms.Type, KeySize = shape.KeySize, ValueSize = shape.ValueSize, MaxEntries = shape.MaxEntries,
                    Flags = ms.Flags, Name = ms.Name, NumaNode = ms.NumaNode, MapExtra = ms.MapExtra, InnerMap = inner,
                });
            }
        }
        catch (BpfException e)
        {
            throw e.Wrap($"{objectName}: map '{ms.Name}'");
        }
        finally
        {
            inner?.Dispose(); // the template only shapes the outer map
        }
    }

    // ---- programs ----

    private void LoadPrograms(ObjectSpec spec, LinuxCollectionOptions options, Btf.BtfSpec? btf)
    {
        var filter = options.ProgramFilter ?? (p => p.Autoload);
        KernelSymbols? symbols = null;
        // One relocator per object load: libbpf's candidate cache spans the object's programs.
        var relocator = CoRe.CoreProgramRelocation.RelocatorFor(spec,
            () => options.BtfCustomPath is { } custom ? CoRe.CoreTargets.FromFile(custom) : CoRe.CoreTargets.RunningKernel());
        foreach (var ps in spec.Programs.Where(filter))
        {
            ps.EnsureResolved();
            LoaderRefusals.ThrowIfUntyped(ps, ps.Type);
            Instruction[] insns;
            try
            {
                insns = CoRe.CoreProgramRelocation.Apply(relocator, spec, ps);
            }
            catch (BpfException e)
            {
                throw e.Wrap($"{spec.Name}: program '{ps.Name}'");
            }
            foreach (var relo in ps.Relocations)
                ApplyRelocation(spec, ps, insns, relo, ref symbols);
            for (int i = 0; i < insns.Length; i++)
            {
                if (insns[i].IsLoadImm64 && insns[i].Src is (byte)LoadImm64Source.MapIndex or (byte)LoadImm64Source.MapIndexValue)
                    throw new BpfException(Errno.EINVAL, $"program {ps.Name}: insn {i} still refers to map index {insns[i].Imm} (no relocation for it)");
            }

            byte[] funcInfo = [];
            byte[] lineInfo = [];
            if (btf is not null && Btf is not null)
            {
                funcInfo = new byte[ps.FuncInfos.Count * 8];
                for (int i = 0; i < ps.FuncInfos.Count; i++)
                {
                    BinaryPrimitives.WriteUInt32LittleEndian(funcInfo.AsSpan(i * 8), (uint)ps.FuncInfos[i].InstructionIndex);
                    BinaryPrimitives.WriteUInt32LittleEndian(funcInfo.AsSpan(i * 8 + 4), ps.FuncInfos[i].TypeId);
                }
                lineInfo = EncodeLineInfo(ps, btf);
            }
            string license = ps.License.Length > 0 ? ps.License : spec.License;
            try
            {
                var program = KernelProgram.Load(new ProgramLoadOptions
                {
                    Type = ps.Type,
                    Instructions = insns,
                    Name = ps.Name,
                    License = license,
                    KernelVersion = ps.KernelVersion != 0 ? ps.KernelVersion : spec.KernelVersion,
                    Flags = (ProgramLoadFlags)(uint)ps.Flags,
                    ExpectedAttachType = ps.ExpectedAttachType ?? 0,
                    LogLevel = options.LogLevel,
                    Btf = funcInfo.Length > 0 ? Btf!.Fd : null,
                    FuncInfo = funcInfo,
                    LineInfo = lineInfo,
                });
                _programs[ps.Name] = program;
            }
            catch (BpfException e)
            {
                throw e.Wrap($"{spec.Name}: program {ps.Name} ({ps.SectionName})");
            }
        }
    }

    /// <summary>bpf_line_info records {insn_off, file_name_off, line_off, line &lt;&lt; 10 | col} against the sanitised BTF's strings.</summary>
    private byte[] EncodeLineInfo(ProgramSpec ps, Btf.BtfSpec btf)
    {
        var bytes = new byte[ps.LineInfos.Count * 16];
        for (int i = 0; i < ps.LineInfos.Count; i++)
        {
            var li = ps.LineInfos[i];
            if (!btf.TryFindString(li.FileName, out uint file) || !btf.TryFindString(li.LineText, out uint line))
            {
                Warnings.Add($"program {ps.Name}: line_info strings not in the BTF; loading without line info");
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

    private void ApplyRelocation(ObjectSpec spec, ProgramSpec ps, Instruction[] insns, ProgramRelocation relo, ref KernelSymbols? symbols)
    {
        int at = relo.InstructionIndex;
        if ((uint)at >= (uint)insns.Length)
            throw new BpfException(Errno.EINVAL, $"program {ps.Name}: relocation '{relo.Symbol}' at insn {at} is outside the program ({insns.Length} insns)");
        bool isLddw = insns[at].IsLoadImm64 && at + 1 < insns.Length;
        switch (relo.Kind)
        {
            case ProgramRelocationKind.MapReference:
            case ProgramRelocationKind.MapValue:
            case ProgramRelocationKind.KconfigExtern:
            {
                string mapName = relo.MapName ?? throw new BpfException(Errno.EINVAL, $"program {ps.Name}: relocation '{relo.Symbol}' at insn {at} names no map");
                if (!isLddw)
                    throw new BpfException(Errno.EINVAL, $"program {ps.Name}: relocation '{relo.Symbol}' at insn {at} is not on an lddw");
                if (!_maps.TryGetValue(mapName, out var map))
                    throw new BpfException(Errno.ENOENT, $"program {ps.Name}: insn {at} refers to map '{mapName}', which was not created");
                using var fd = map.Fd.Lease();
                var source = relo.Kind == ProgramRelocationKind.MapReference ? LoadImm64Source.MapFd : LoadImm64Source.MapValue;
                // The map's fd stays open as long as the collection, so the number stays valid through the load.
                insns[at] = insns[at].WithSrc((byte)source).WithImm((int)fd.Value);
                if (relo.Kind != ProgramRelocationKind.MapReference)
                    insns[at + 1] = insns[at + 1].WithImm((int)relo.Offset);
                break;
            }
            case ProgramRelocationKind.KsymVariable:
            {
                if (!isLddw)
                    throw new BpfException(Errno.EINVAL, $"program {ps.Name}: ksym '{relo.Symbol}' at insn {at} is not on an lddw");
                symbols ??= KernelSymbols.Vmlinux();
                var ext = spec.Externs.FirstOrDefault(e => e.Name == relo.Symbol);
                if (symbols.FindVariable(relo.Symbol) is uint id)
                {
                    insns[at] = insns[at].WithSrc((byte)LoadImm64Source.BtfId).WithImm((int)id);
                    insns[at + 1] = insns[at + 1].WithImm(0); // btf_obj_fd 0: vmlinux
                }
                else if (ext?.IsWeak == true)
                {
                    insns[at] = insns[at].WithSrc(0).WithImm(0);
                    insns[at + 1] = insns[at + 1].WithImm(0);
                }
                else
                {
                    throw new BpfException(Errno.ENOENT, $"program {ps.Name}: extern (var ksym) '{relo.Symbol}' not found in kernel BTF");
                }
                break;
            }
            case ProgramRelocationKind.KfuncCall:
            {
                symbols ??= KernelSymbols.Vmlinux();
                uint id = symbols.FindFunction(relo.Symbol)
                    ?? throw new BpfException(Errno.ENOENT, $"program {ps.Name}: extern (func ksym) '{relo.Symbol}' not found in kernel BTF");
                insns[at] = new Instruction(insns[at].Opcode, 0, (byte)CallSource.Kfunc, 0, (int)id);
                break;
            }
            case ProgramRelocationKind.Unresolved:
                ps.EnsureResolved();
                break;
        }
    }

    // ---- initial slots ----

    private void FillInitialSlots(ObjectSpec spec)
    {
        foreach (var ms in spec.Maps.Where(m => m.InitialSlots.Count > 0 && _maps.ContainsKey(m.Name)))
        {
            var map = _maps[ms.Name];
            foreach (var slot in ms.InitialSlots)
            {
                // libbpf passes &(int)index: the kernel reads key_size bytes of it (little-endian low bytes).
                var key = new byte[Math.Max(map.KeySize, 4)];
                BinaryPrimitives.WriteUInt32LittleEndian(key, (uint)slot.Index);
                key = key[..(int)map.KeySize];
                if (ms.Type == MapType.ProgArray)
                {
                    // A program that was not loaded (filtered out) leaves its slot empty, as in libbpf.
                    if (_programs.TryGetValue(slot.Name, out var program))
                        map.UpdateWithProgram(key, program);
                }
                else if (_maps.TryGetValue(slot.Name, out var inner))
                {
                    map.UpdateWithMap(key, inner);
                }
                else
                {
                    throw new BpfException(Errno.ENOENT, $"map '{ms.Name}' slot {slot.Index}: inner map '{slot.Name}' was not created");
                }
            }
        }
    }

    public void Dispose()
    {
        foreach (var p in _programs.Values)
            p.Dispose();
        foreach (var m in _maps.Values)
            m.Dispose();
        Btf?.Dispose();
        _programs.Clear();
        _maps.Clear();
    }
}
