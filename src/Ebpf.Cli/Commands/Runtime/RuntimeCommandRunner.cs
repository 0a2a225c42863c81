using Ebpf.Abi;
using Ebpf.Collections;
using Ebpf.Elf;
using Ebpf.Loading;

namespace Ebpf.Cli.Commands.Runtime;

/// <summary>
/// Executes parsed runtime commands against any <see cref="IBpfBackend"/> (the managed runtime or the kernel),
/// printing as bpftool prints (<see cref="BpftoolFormat"/>). Stateless like bpftool: every handle a command opens
/// is closed when it returns; objects outlive a command through pins (or the programs that use them).
/// </summary>
internal sealed partial class RuntimeCommandRunner(IBpfBackend backend, TextWriter output, bool json)
{
    public int Execute(RuntimeCommand command) => command switch
    {
        ProgLoad c => Load(c),
        ProgShow c => ShowPrograms(c),
        ProgDumpXlated c => DumpXlated(c),
        ProgRun c => Run(c),
        ProgPin c => PinProgram(c),
        ProgTracelog => Tracelog(),
        MapShow c => ShowMaps(c),
        MapCreate c => CreateMap(c),
        MapDump c => Dump(c),
        MapLookup c => Lookup(c),
        MapUpdate c => Update(c),
        MapDelete c => Delete(c),
        MapGetNext c => GetNext(c),
        MapPin c => PinMap(c),
        MapFreeze c => Freeze(c),
        MapQueueOp c => QueueOp(c),
        LinkCreate c => CreateLink(c),
        LinkShow c => ShowLinks(c),
        LinkPin c => PinLink(c),
        LinkDetach c => DetachLink(c),
        LinkUpdate c => UpdateLink(c),
        FsList c => ListDirectory(c),
        FsMkdir c => MakeDirectory(c),
        FsRemove c => Remove(c),
        FsCat c => CatIterator(c),
        IterPin c => PinIterator(c),
        DevAdd c => AddDevice(c),
        DevDelete c => DeleteDevice(c),
        DevShow c => ShowDevices(c),
        DevInject c => Inject(c),
        NetAttach c => AttachXdp(c),
        NetDetach c => DetachXdp(c),
        NetShow c => ShowNet(c),
        _ => throw new CliUsageException($"unsupported command {command.GetType().Name}"),
    };

    // ---- object resolution ----

    private T OpenPinned<T>(string path, string what) where T : BpfHandle
    {
        var handle = backend.GetPinned(path) ?? throw new BpfException(Errno.ENOENT, $"bpf obj get ({path}): No such file or directory");
        if (handle is T typed)
            return typed;
        handle.Dispose();
        throw new BpfException(Errno.EINVAL, $"incorrect object type at {path}: not a {what}");
    }

    /// <summary>Every live object of a kind, opened (ids that vanish meanwhile are skipped, as bpftool does).</summary>
    private IEnumerable<T> OpenAll<T>(ObjectKind kind) where T : BpfHandle
    {
        foreach (var id in backend.GetIds(kind))
        {
            BpfHandle h;
            try { h = backend.Open(kind, id); }
            catch (BpfException e) when (e.Errno == Errno.ENOENT) { continue; }
            yield return (T)h;
        }
    }

    /// <summary>The one object a `name`/`tag` reference matches (ENOENT for none, EINVAL for several).</summary>
    private T FindOne<T>(ObjectKind kind, ObjectRef r, Func<T, bool> matches) where T : BpfHandle
    {
        T? found = null;
        foreach (var h in OpenAll<T>(kind))
        {
            if (!matches(h))
            {
                h.Dispose();
                continue;
            }
            if (found is not null)
            {
                h.Dispose();
                found.Dispose();
                throw new BpfException(Errno.EINVAL, $"several {(kind == ObjectKind.Map ? "maps" : "programs")} match {r.Kind} {r.Value}");
            }
            found = h;
        }
        return found ?? throw new BpfException(Errno.ENOENT, $"no {(kind == ObjectKind.Map ? "map" : "program")} with {r.Kind} {r.Value}");
    }

    private BpfProgram OpenProgram(ObjectRef r) => r.Kind switch
    {
        "id" => (BpfProgram)backend.Open(ObjectKind.Program, WordReader.ParseUInt(r.Value, "id")),
        "pinned" => OpenPinned<BpfProgram>(r.Value, "program"),
        "name" => FindOne<BpfProgram>(ObjectKind.Program, r, p => p.Name == r.Value),
        _ => FindOne<BpfProgram>(ObjectKind.Program, r, p => p.GetInfo().TagHex == r.Value.Replace(" ", "", StringComparison.Ordinal)),
    };

    private BpfMap OpenMap(ObjectRef r) => r.Kind switch
    {
        "id" => (BpfMap)backend.Open(ObjectKind.Map, WordReader.ParseUInt(r.Value, "id")),
        "pinned" => OpenPinned<BpfMap>(r.Value, "map"),
        "name" => FindOne<BpfMap>(ObjectKind.Map, r, m => m.Name == r.Value),
        _ => throw new CliUsageException($"maps cannot be named by {r.Kind}"),
    };

    private static IReadOnlyList<string> PinsOf(IReadOnlyDictionary<(ObjectKind, uint), IReadOnlyList<string>> pins, ObjectKind kind, uint id) =>
        pins.TryGetValue((kind, id), out var list) ? list : [];

    // ---- prog ----

    /// <summary>`prog load` (the first program only, pinned at PATH) and `prog loadall` (every autoload program under PATH).</summary>
    private int Load(ProgLoad c)
    {
        if (!File.Exists(c.Object))
            throw new BpfException(Errno.ENOENT, $"failed to open object file {c.Object}: No such file or directory");
        // The ELF goes along so the object's BTF can be laid out (btf_id, func/line info).
        var elf = ElfFile.Open(c.Object);
        var spec = ObjectSpec.Parse(elf.Image, c.Object);
        spec.Name = ObjectSpec.ObjectNameFromPath(c.Object);
        ProgramType? type = null;
        if (c.Type is not null)
        {
            if (!BpftoolFormat.TryParseType(c.Type, out ProgramType parsed))
                throw new CliUsageException($"unknown program type '{c.Type}'");
            type = parsed;
        }
        var first = spec.Programs.FirstOrDefault()
            ?? throw new BpfException(Errno.ENOENT, $"{c.Object}: object has no programs");
        // Before loading anything: a pin path that cannot hold pins fails here, with the reason.
        backend.CheckPinTarget(c.PinPath, directory: c.All);
        if (c.PinMaps is { } mapDirectory)
            backend.CheckPinTarget(mapDirectory, directory: true);
        // target PROG: tracing/extension programs are loaded against it (the function from the section or `func`).
        using var target = c.Target is { } t ? OpenProgram(t) : null;
        using var coll = BpfCollection.Load(backend, spec, new ObjectLoadOptions
        {
            AttachTarget = target,
            AttachFunction = c.Function,
            Elf = elf,
            ProgramType = type,
            // bpftool prog load: only the first program is loaded (the others are not autoloaded).
            ProgramFilter = c.All ? p => p.Autoload : p => ReferenceEquals(p, first),
            BtfCustomPath = c.KernelBtf,
        });
        foreach (var warning in coll.Warnings)
            CliConsole.Error.WriteLine($"libbpf: {warning}");
        if (c.All)
        {
            backend.CreatePinDirectory(c.PinPath);
            foreach (var (name, prog) in coll.Programs)
                prog.Pin(c.PinPath.TrimEnd('/') + "/" + name.Replace('/', '_')); // libbpf's pin name: no '/' (legacy names are section names)
        }
        else
            coll.Programs.Values.Single().Pin(c.PinPath);
        if (c.PinMaps is { } dir)
        {
            backend.CreatePinDirectory(dir);
            foreach (var (name, map) in coll.Maps)
                map.Pin(dir.TrimEnd('/') + "/" + name.Replace('.', '_'));
        }
        return 0;
    }

    private int ShowPrograms(ProgShow c)
    {
        var pins = backend.ListPins();
        var infos = new List<ProgramInfo>();
        if (c.Program is { } r)
        {
            using var h = OpenProgram(r);
            infos.Add(h.GetInfo());
        }
        else
        {
            foreach (var h in OpenAll<BpfProgram>(ObjectKind.Program))
                using (h)
                    infos.Add(h.GetInfo());
        }
        if (json)
        {
            var items = infos.Select(p => BpftoolFormat.ProgramJson(p, PinsOf(pins, ObjectKind.Program, p.Id))).ToList();
            RuntimeJson.Write<object>(output, c.Program is null ? items : items[0]);
        }
        else
            foreach (var p in infos)
                output.Write(BpftoolFormat.ProgramText(p, PinsOf(pins, ObjectKind.Program, p.Id)));
        return 0;
    }

    private int DumpXlated(ProgDumpXlated c)
    {
        using var h = OpenProgram(c.Program);
        XlatedDump.Write(output, h.Name, h.GetTranslatedInstructions(), json);
        return 0;
    }

    private int Run(ProgRun c)
    {
        using var h = OpenProgram(c.Program);
        var result = h.TestRun(new TestRunOptions
        {
            DataIn = RunInputFile.Read(c.DataIn),
            DataSizeOut = c.DataOut is null ? null : (int)(c.DataSizeOut ?? 0),
            ContextIn = c.CtxIn is null ? null : RunInputFile.Read(c.CtxIn),
            ContextSizeOut = c.CtxOut is null ? null : (int)(c.CtxSizeOut ?? 1024),
            Repeat = c.Repeat,
        });
        if (result.Error != Errno.None)
            throw new BpfException(result.Error, "failed to run program: No space left on device");
        BpftoolFormat.WriteTestRun(output, json, c.Repeat, result.ReturnValue, result.Duration,
            (c.DataOut, result.DataOut), (c.CtxOut, result.ContextOut));
        return 0;
    }

    private int PinProgram(ProgPin c)
    {
        using var h = OpenProgram(c.Program);
        backend.CheckPinTarget(c.Path, directory: false);
        h.Pin(c.Path);
        return 0;
    }

    private int Tracelog()
    {
        foreach (var line in backend.DrainTraceLog())
            output.WriteLine(line);
        return 0;
    }

    // ---- map ----

    private int ShowMaps(MapShow c)
    {
        var pins = backend.ListPins();
        var infos = new List<MapInfo>();
        if (c.Map is { } r)
        {
            using var h = OpenMap(r);
            infos.Add(h.GetInfo());
        }
        else
        {
            foreach (var h in OpenAll<BpfMap>(ObjectKind.Map))
                using (h)
                    infos.Add(h.GetInfo());
        }
        if (json)
        {
            var items = infos.Select(m => BpftoolFormat.MapJson(m, PinsOf(pins, ObjectKind.Map, m.Id))).ToList();
            RuntimeJson.Write<object>(output, c.Map is null ? items : items[0]);
        }
        else
            foreach (var m in infos)
                output.Write(BpftoolFormat.MapText(m, PinsOf(pins, ObjectKind.Map, m.Id)));
        return 0;
    }

    private int CreateMap(MapCreate c)
    {
        if (!BpftoolFormat.TryParseType(c.Type, out MapType type))
            throw new CliUsageException($"invalid map type '{c.Type}'");
        backend.CheckPinTarget(c.Path, directory: false);
        using var map = backend.CreateMap(new MapDefinition(type, c.KeySize, c.ValueSize, c.MaxEntries, (MapFlags)c.Flags, c.Name));
        map.Pin(c.Path);
        return 0;
    }

    private int Dump(MapDump c)
    {
        using var h = OpenMap(c.Map);
        h.RequireReadable();
        BpftoolFormat.WriteDump(output, h.Entries().ToList(), json, BtfLayout(h));
        return 0;
    }

    private int Lookup(MapLookup c)
    {
        using var h = OpenMap(c.Map);
        var key = c.Key.Resolve((int)h.KeySize, "key");
        var value = new byte[h.ValueBufferSize];
        if (!h.TryLookup(key, value))
        {
            if (json)
                throw new BpfException(Errno.ENOENT, "lookup failed: No such file or directory");
            output.WriteLine($"key:\n{BpftoolFormat.Hex(key)}\n\nNot found");
            return 1;
        }
        BpftoolFormat.WriteLookup(output, key, value, json, BtfLayout(h));
        return 0;
    }

    /// <summary>The map's BTF key/value layout when it has a typed value (bpftool's condition for formatting).</summary>
    private MapBtfLayout? BtfLayout(BpfMap map)
    {
        var info = map.GetInfo();
        if (info.BtfId == 0 || info.BtfValueTypeId == 0)
            return null;
        using var btf = (BtfHandle)backend.Open(ObjectKind.Btf, info.BtfId);
        return BpftoolFormat.Layout(btf.GetData(), info.Type, info.BtfKeyTypeId, info.BtfValueTypeId, info.ValueSize);
    }

    private int Update(MapUpdate c)
    {
        using var h = OpenMap(c.Map);
        var key = c.Key.Resolve((int)h.KeySize, "key");
        try
        {
            if (c.ValueProgram is { } progRef)
            {
                using var prog = OpenProgram(progRef);
                h.Update(key, prog, (MapUpdateFlags)c.Flags);
                return 0;
            }
            if (h.Type == MapType.ProgArray)
                throw new CliUsageException("prog array values are given as 'value id N' or 'value pinned PATH'");
            h.Update(key, PerCpuValue(h, c.Value!), (MapUpdateFlags)c.Flags);
        }
        catch (BpfException e) when (!e.Message.StartsWith("update failed", StringComparison.Ordinal))
        {
            throw new BpfException(e.Errno, $"update failed: {e.Message}", e);
        }
        return 0;
    }

    /// <summary>
    /// Per-CPU maps take one value per possible CPU (8-byte aligned slots); like bpftool, a single value_size value
    /// is written to every CPU, and a full per-CPU buffer is taken as given.
    /// </summary>
    private static byte[] PerCpuValue(BpfMap m, ByteWords words)
    {
        if (!m.IsPerCpu || m.ValueBufferSize == (int)m.ValueSize)
            return words.Resolve((int)m.ValueSize, "value");
        int given = words.Words.Count(w => w != "hex");
        if (given == m.ValueBufferSize)
            return words.Resolve(m.ValueBufferSize, "value");
        var one = words.Resolve((int)m.ValueSize, "value");
        int stride = (int)((m.ValueSize + 7) & ~7u);
        var all = new byte[m.ValueBufferSize];
        for (int at = 0; at < all.Length; at += stride)
            one.CopyTo(all, at);
        return all;
    }

    private int Delete(MapDelete c)
    {
        using var h = OpenMap(c.Map);
        var key = c.Key.Resolve((int)h.KeySize, "key");
        bool deleted;
        try
        {
            deleted = h.TryDelete(key);
        }
        catch (BpfException e)
        {
            throw new BpfException(e.Errno, $"delete failed: {e.Message}");
        }
        if (!deleted)
            throw new BpfException(Errno.ENOENT, "delete failed: No such file or directory");
        return 0;
    }

    private int GetNext(MapGetNext c)
    {
        using var h = OpenMap(c.Map);
        var key = c.Key?.Resolve((int)h.KeySize, "key");
        var next = new byte[h.KeySize];
        if (!h.GetNextKey(key ?? [], next))
            throw new BpfException(Errno.ENOENT, "can't get next key: No such file or directory");
        if (json)
        {
            RuntimeJson.Write(output, new Dictionary<string, object?>
            {
                ["key"] = key is null ? null : BpftoolFormat.JsonBytes(key),
                ["next_key"] = BpftoolFormat.JsonBytes(next),
            });
            return 0;
        }
        output.WriteLine(key is null ? "key: None" : $"key:\n{BpftoolFormat.Hex(key)}");
        output.WriteLine($"next key:\n{BpftoolFormat.Hex(next)}");
        return 0;
    }

    private int PinMap(MapPin c)
    {
        using var h = OpenMap(c.Map);
        backend.CheckPinTarget(c.Path, directory: false);
        h.Pin(c.Path);
        return 0;
    }

    private int Freeze(MapFreeze c)
    {
        using var h = OpenMap(c.Map);
        h.Freeze();
        return 0;
    }

    private int QueueOp(MapQueueOp c)
    {
        using var h = OpenMap(c.Map);
        if (c.Value is { } v)
        {
            try
            {
                h.Update([], v.Resolve((int)h.ValueSize, "value"));
            }
            catch (BpfException e)
            {
                throw new BpfException(e.Errno, $"push failed: {e.Message}", e);
            }
            return 0;
        }
        var value = new byte[h.ValueSize];
        bool found = c.Op == "peek" ? h.TryLookup([], value) : h.TryLookupAndDelete([], value);
        if (!found)
            throw new BpfException(Errno.ENOENT, $"{c.Op} failed: No such file or directory");
        if (json)
            RuntimeJson.Write(output, new Dictionary<string, object> { ["value"] = BpftoolFormat.JsonBytes(value) });
        else
            output.WriteLine($"value: {BpftoolFormat.Hex(value)}");
        return 0;
    }
}
