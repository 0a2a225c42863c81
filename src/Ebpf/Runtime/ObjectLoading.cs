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
    /// program into the checked interpreter, then fills prog-array initial slots. On any failure
    /// everything created so far is released: no ids and no pins remain.
    /// </summary>
    public BpfCollection Load(ObjectSpec spec, ObjectLoadOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(spec);
        options ??= new ObjectLoadOptions();
        var maps = new Dictionary<string, BpfMap>();
        var programs = new Dictionary<string, BpfProgram>();
        var newPins = new List<string>();
        BtfHandle? btf = null;
        try
        {
            if (spec.Btf is { } objectBtf)
                btf = LoadBtf(objectBtf.ToBytes(), spec.Name);
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
            foreach (var ps in spec.Programs)
            {
                if (!ps.Autoload)
                    continue;
                programs[ps.Name] = LoadProgramSpec(spec, ps, byIndex, options, btf);
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
                    else
                        throw new BpfException(Errno.EOPNOTSUPP, $"map '{ms.Name}': initial inner-map slots are not supported yet");
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
        if (ms.InnerMap is not null || ms.Type is MapType.ArrayOfMaps or MapType.HashOfMaps)
            throw new BpfException(Errno.EOPNOTSUPP, $"map '{ms.Name}': map-in-map creation from an object is not supported yet");
        var name = ObjectName.Truncate(SanitiseName(ms.Name));
        BpfMap map;
        try
        {
            map = CreateMap(new MapDefinition(ms.Type, ms.KeySize, ms.ValueSize, ms.MaxEntries, ms.Flags & ~MapFlags.Rdonly, name), btf);
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

    private BpfProgram LoadProgramSpec(ObjectSpec spec, ProgramSpec ps, BpfMap?[] byIndex, ObjectLoadOptions options, BtfHandle? btf)
    {
        ps.EnsureResolved();
        var type = options.ProgramType ?? ps.Type;
        if (type == Abi.ProgramType.Unspec || !Enum.IsDefined(type))
            throw new BpfException(Errno.EINVAL, $"program '{ps.Name}': section '{ps.SectionName}' does not name a program type");
        foreach (var r in ps.Relocations)
        {
            if (r.Kind is ProgramRelocationKind.KfuncCall or ProgramRelocationKind.KsymVariable)
                throw new BpfException(Errno.ENOTSUPP, $"program '{ps.Name}': insn {r.InstructionIndex}: kernel symbol '{r.Symbol}' cannot be resolved in the managed runtime");
        }
        // Compact the map indexes (src=5/6 imm = index in spec.Maps) to the maps this program uses.
        var insns = (Instruction[])ps.Instructions.Clone();
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
                ps.ExpectedAttachType ?? default, (uint)ps.Flags), used, btf);
        }
        catch (BpfException e)
        {
            throw new BpfException(e.Errno, $"load program {ps.Name}: {e.Message}", e);
        }
    }
}
