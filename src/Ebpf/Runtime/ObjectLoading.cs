using Ebpf.Abi;
using Ebpf.Isa;
using Ebpf.Loading;
using Ebpf.Runtime.Objects;

namespace Ebpf.Runtime;

/// <summary>Options of <see cref="BpfRuntime.Load(ObjectSpec, ObjectLoadOptions?)"/>.</summary>
public sealed record ObjectLoadOptions
{
    /// <summary>Where maps with pinning = by-name are looked up and pinned (libbpf's default pin root).</summary>
    public string PinRoot { get; init; } = PinFs.PinFileSystem.MountPoint;
    /// <summary>Overrides the program type of every program (bpftool `prog load … type TYPE`).</summary>
    public ProgramType? ProgramType { get; init; }
    /// <summary>Load programs the verifier rejects and run them checked (see <see cref="ProgramLoadOptions.AllowUnverified"/>).</summary>
    public bool AllowUnverified { get; init; }
    /// <summary>Verifier log level kept on each program (1 = failing path).</summary>
    public int LogLevel { get; init; } = 1;
    /// <summary>Run every program checked, verified or not (see <see cref="ProgramLoadOptions.AlwaysChecked"/>).</summary>
    public bool AlwaysChecked { get; init; }
    /// <summary>The verifier's processed-instruction budget per program (see <see cref="ProgramLoadOptions.VerifierInstructionLimit"/>).</summary>
    public int VerifierInstructionLimit { get; init; } = 1_000_000;
    /// <summary>See <see cref="ProgramLoadOptions.Untranslated"/>.</summary>
    internal bool Untranslated { get; init; }
    /// <summary>
    /// libbpf's btf_custom_path: CO-RE relocations resolve against this BTF file (raw BTF or an ELF object's .BTF)
    /// only, instead of the runtime's kernel BTF (<see cref="BpfRuntime.KernelBtf"/>).
    /// </summary>
    public string? BtfCustomPath { get; init; }
}

/// <summary>The live objects of one loaded object file: dispose to drop the collection's handles.</summary>
public sealed class BpfCollection : IDisposable
{
    internal BpfCollection(Dictionary<string, BpfMap> maps, Dictionary<string, BpfProgram> programs, BtfHandle? btf)
    {
        Maps = maps;
        Programs = programs;
        Btf = btf;
    }

    /// <summary>The object's BTF as loaded into the runtime (held by its programs and BTF-defined maps), if it had one.</summary>
    public BtfHandle? Btf { get; }

    public IReadOnlyDictionary<string, BpfMap> Maps { get; }
    public IReadOnlyDictionary<string, BpfProgram> Programs { get; }

    public void Dispose()
    {
        foreach (var p in Programs.Values) p.Dispose();
        foreach (var m in Maps.Values) m.Dispose();
        Btf?.Dispose();
    }
}

public sealed partial class BpfRuntime
{
    /// <summary>
    /// Loads an object like libbpf's bpf_object__load: creates (or, for pinning = by-name, reuses) its
    /// maps, writes global data and freezes .rodata, resolves map references and loads every autoload
    /// program (verified; see BpfRuntime.LoadProgram for the execution mode), then fills prog-array initial slots. On any failure
    /// everything created so far is released: no ids and no pins remain.
    /// </summary>
    public BpfCollection Load(ObjectSpec spec, ObjectLoadOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(spec);
        options ??= new ObjectLoadOptions();
        // The runtime models no kernel config: weak externs read 0 from the zeroed .kconfig image, strong ones are refused.
        LoaderRefusals.ThrowIfUnsuppliedKconfig(spec, _ => false, "the managed runtime");
        var maps = new Dictionary<string, BpfMap>();
        var programs = new Dictionary<string, BpfProgram>();
        var newPins = new List<string>();
        BtfHandle? btf = null;
        try
        {
            if (spec.Btf is { } objectBtf)
                btf = LoadBtf(objectBtf.ToBytes(), spec.Name, isKernel: false, parsed: objectBtf);
            var byIndex = new BpfMap?[spec.Maps.Count];
            for (int i = 0; i < spec.Maps.Count; i++)
            {
                var ms = spec.Maps[i];
                if (ms.Origin == MapOrigin.InnerTemplate)
                    continue;
                var map = CreateOrReuseMap(ms, options, newPins, ms.Origin == MapOrigin.Btf || ms.IsGlobalData ? btf : null);
                maps[ms.Name] = map;
                byIndex[i] = map;
            }
            // One relocator per object load: libbpf's candidate cache spans the object's programs.
            var relocator = CoRe.CoreProgramRelocation.RelocatorFor(spec,
                () => options.BtfCustomPath is { } custom ? CoRe.CoreTargets.FromFile(custom) : KernelBtf ?? CoRe.CoreTargets.RunningKernel());
            foreach (var ps in spec.Programs)
            {
                if (!ps.Autoload)
                    continue;
                programs[ps.Name] = LoadProgramSpec(spec, ps, byIndex, options, btf, relocator);
            }
            // Prog-array / map-in-map initial slots name programs (or maps) of this object.
            foreach (var ms in spec.Maps)
            {
                if (ms.InitialSlots.Count == 0 || !maps.TryGetValue(ms.Name, out var map))
                    continue;
                foreach (var slot in ms.InitialSlots)
                {
                    if (map.Map.ProgramSlots is { } slots)
                    {
                        var prog = programs.GetValueOrDefault(slot.Name)
                            ?? throw new BpfException(Errno.EINVAL, $"map '{ms.Name}': slot {slot.Index} names program '{slot.Name}', which is not loaded");
                        slots.Set(slot.Index, prog.Program);
                    }
                    else if (map.Map.Maps is Maps.MapInMap outer)
                    {
                        var inner = maps.GetValueOrDefault(slot.Name)?.Map.Maps
                            ?? throw new BpfException(Errno.EINVAL, $"map '{ms.Name}': slot {slot.Index} names map '{slot.Name}', which is not created");
                        // iproute2 passes a pointer to its u32 inner_idx as the key: a narrower key (cilium's u16
                        // maglev hash-of-maps) is its low-order bytes on this little-endian host.
                        if (ms.KeySize is 0 or > 4)
                            throw new BpfException(Errno.EINVAL, $"map '{ms.Name}': initial slots need a key of 1 to 4 bytes (key_size {ms.KeySize})");
                        try
                        {
                            outer.SetInner(BitConverter.GetBytes(slot.Index).AsSpan(0, (int)ms.KeySize).ToArray(), inner);
                        }
                        catch (BpfException e)
                        {
                            throw new BpfException(e.Errno, $"map '{ms.Name}': slot {slot.Index} ('{slot.Name}'): {e.Message}", e);
                        }
                    }
                    else
                        throw new BpfException(Errno.EINVAL, $"map '{ms.Name}': {ms.Type} has no initial slots");
                }
            }
            return new BpfCollection(maps, programs, btf);
        }
        catch
        {
            foreach (var p in programs.Values) p.Dispose();
            foreach (var path in newPins)
            {
                try { Pins.Unpin(path); } catch (BpfException) { }
            }
            foreach (var m in maps.Values) m.Dispose();
            btf?.Dispose();
            throw;
        }
    }

    private BpfMap CreateOrReuseMap(MapSpec ms, ObjectLoadOptions options, List<string> newPins, BtfHandle? btf)
    {
        string pinPath = options.PinRoot.TrimEnd('/') + "/" + ms.Name;
        if (ms.Pinning == MapPinning.ByName && Pins.Peek(pinPath) is MapObject)
        {
            var existing = (BpfMap)Pins.Get(pinPath);
            var d = existing.Map.Definition;
            if (d.Type != ms.Type || d.KeySize != ms.KeySize || d.ValueSize != ms.ValueSize || d.MaxEntries != ms.MaxEntries
                || (d.Flags & ~MapFlags.Rdonly) != (ms.Flags & ~MapFlags.Rdonly))
            {
                existing.Dispose();
                throw new BpfException(Errno.EINVAL, $"map '{ms.Name}': pinned map at {pinPath} does not match the object's definition ({d.Type} {d.KeySize}/{d.ValueSize}/{d.MaxEntries} vs {ms.Type} {ms.KeySize}/{ms.ValueSize}/{ms.MaxEntries})");
            }
            return existing;
        }
        var name = ObjectName.Truncate(SanitiseName(ms.Name));
        BpfMap map;
        try
        {
            if (ms.Type is MapType.ArrayOfMaps or MapType.HashOfMaps)
            {
                // As libbpf: create the inner template map, pass it as inner_map_fd, close it again
                // (the outer map keeps what it needs of the template).
                var innerSpec = ms.InnerMap ?? throw new BpfException(Errno.EINVAL, $"{ms.Type} without an inner map definition (__array(values, …))");
                using var template = CreateMap(new MapDefinition(innerSpec.Type, innerSpec.KeySize, innerSpec.ValueSize, innerSpec.MaxEntries,
                    innerSpec.Flags & ~MapFlags.Rdonly, ObjectName.Truncate(SanitiseName(ms.Name + ".inner"))));
                map = CreateMap(new MapDefinition(ms.Type, ms.KeySize, ms.ValueSize, ms.MaxEntries, ms.Flags & ~MapFlags.Rdonly, name, template.Map.Id,
                    MapExtra: ms.MapExtra), btf);
            }
            else
            {
                // btf_key/value_type_id as libbpf sends them: the BTF-defined key/value, or for global data
                // no key and the section's DATASEC as the value (map_fill_btf_type_info).
                uint keyType = btf is null || ms.IsGlobalData ? 0 : ms.KeyTypeId;
                uint valueType = btf is null ? 0 : ms.IsGlobalData ? ms.BtfTypeId : ms.ValueTypeId;
                map = CreateMap(new MapDefinition(ms.Type, ms.KeySize, ms.ValueSize, ms.MaxEntries, ms.Flags & ~MapFlags.Rdonly, name,
                    BtfKeyTypeId: keyType, BtfValueTypeId: valueType, MapExtra: ms.MapExtra), btf);
            }
        }
        catch (BpfException e)
        {
            throw new BpfException(e.Errno, $"map '{ms.Name}': {e.Message}", e);
        }
        try
        {
            if (ms.InitialValue is { Length: > 0 } initial)
            {
                var storage = map.Map.Maps ?? throw new BpfException(Errno.EINVAL, $"map '{ms.Name}': initial value for a map without storage");
                if (initial.Length > ms.ValueSize)
                    throw new BpfException(Errno.EINVAL, $"map '{ms.Name}': initial value of {initial.Length} bytes does not fit value_size {ms.ValueSize}");
                var value = new byte[ms.ValueSize];
                initial.CopyTo(value, 0);
                storage.Update(new byte[4], value);
            }
            if (ms.Freeze || (ms.Flags & MapFlags.Rdonly) != 0 && ms.IsGlobalData)
                map.Map.Freeze();
            if (ms.Pinning == MapPinning.ByName)
            {
                Pins.Pin(map, pinPath);
                newPins.Add(pinPath);
            }
            return map;
        }
        catch
        {
            map.Dispose();
            throw;
        }
    }

    /// <summary>libbpf's internal map names: ".rodata" → "obj.rodata"-like; here dots become legal characters, others '_'.</summary>
    private static string SanitiseName(string name) =>
        new(name.Select(c => char.IsAsciiLetterOrDigit(c) || c is '_' or '.' ? c : '_').ToArray());

    private BpfProgram LoadProgramSpec(ObjectSpec spec, ProgramSpec ps, BpfMap?[] byIndex, ObjectLoadOptions options, BtfHandle? btf, CoRe.CoreRelocator? relocator)
    {
        ps.EnsureResolved();
        var type = options.ProgramType ?? ps.Type;
        LoaderRefusals.ThrowIfUntyped(ps, type);
        foreach (var r in ps.Relocations)
        {
            if (r.Kind is ProgramRelocationKind.KfuncCall or ProgramRelocationKind.KsymVariable)
                throw new BpfException(Errno.ENOTSUPP, $"program '{ps.Name}': insn {r.InstructionIndex}: kernel symbol '{r.Symbol}' cannot be resolved in the managed runtime");
        }
        // Compact the map indexes (src=5/6 imm = index in spec.Maps) to the maps this program uses.
        var insns = CoRe.CoreProgramRelocation.Apply(relocator, spec, ps);
        var used = new List<BpfMap>();
        var remap = new Dictionary<int, int>();
        for (int pc = 0; pc < insns.Length; pc++)
        {
            var insn = insns[pc];
            if (!insn.IsLoadImm64)
                continue;
            if (insn.Src is 5 or 6)
            {
                int index = insn.Imm;
                if ((uint)index >= (uint)byIndex.Length || byIndex[index] is not { } map)
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
        var name = ObjectName.Truncate(SanitiseName(ps.Name));
        try
        {
            return LoadProgram(new ProgramDefinition(type, insns, name, string.IsNullOrEmpty(ps.License) ? spec.License : ps.License,
                ps.ExpectedAttachType ?? default, (uint)ps.Flags), used, btf, new ProgramLoadOptions
                {
                    AllowUnverified = options.AllowUnverified,
                    AlwaysChecked = options.AlwaysChecked,
                    Untranslated = options.Untranslated,
                    VerifierInstructionLimit = options.VerifierInstructionLimit,
                    LogLevel = options.LogLevel,
                    // func_info: global functions are verified on their own, with their BTF argument types.
                    Functions = Verification.ProgramSpecInput.Create(spec, ps, options.LogLevel).Functions,
                });
        }
        catch (BpfException e)
        {
            // The verifier log travels with the error (bpftool prints it after a refused load).
            throw new BpfException(e.Errno, $"load program {ps.Name}: {e.Message}", e) { Log = e.Log };
        }
    }
}
