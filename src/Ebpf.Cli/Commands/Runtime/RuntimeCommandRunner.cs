using System.Globalization;
using Ebpf.Abi;
using Ebpf.Runtime;
using Ebpf.Runtime.Objects;

namespace Ebpf.Cli.Commands.Runtime;

/// <summary>Executes parsed runtime commands against a <see cref="BpfRuntime"/>, printing as bpftool prints.</summary>
internal sealed class RuntimeCommandRunner(BpfRuntime runtime, TextWriter output, bool json) : IRuntimeBackend
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
        _ => throw new CliUsageException($"unsupported command {command.GetType().Name}"),
    };

    // ---- object resolution ----

    private BpfProgram OpenProgram(ObjectRef r)
    {
        switch (r.Kind)
        {
            case "id":
                return runtime.OpenProgramById(WordReader.ParseUInt(r.Value, "id"));
            case "pinned":
                return runtime.Pins.Get(r.Value) as BpfProgram
                    ?? throw new BpfException(Errno.EINVAL, $"incorrect object type at {r.Value}: not a program");
            default:
            {
                var matches = runtime.GetIds(ObjectKind.Program).Select(id => runtime.FindObject(ObjectKind.Program, id)).OfType<ProgramObject>()
                    .Where(p => r.Kind == "name" ? p.Name == r.Value : Convert.ToHexStringLower(p.Tag) == r.Value.Replace(" ", "", StringComparison.Ordinal)).ToArray();
                if (matches.Length == 0)
                    throw new BpfException(Errno.ENOENT, $"no program with {r.Kind} {r.Value}");
                if (matches.Length > 1)
                    throw new BpfException(Errno.EINVAL, $"several programs match {r.Kind} {r.Value}");
                return runtime.OpenProgramById(matches[0].Id);
            }
        }
    }

    private BpfMap OpenMap(ObjectRef r)
    {
        switch (r.Kind)
        {
            case "id":
                return runtime.OpenMapById(WordReader.ParseUInt(r.Value, "id"));
            case "pinned":
                return runtime.Pins.Get(r.Value) as BpfMap
                    ?? throw new BpfException(Errno.EINVAL, $"incorrect object type at {r.Value}: not a map");
            case "name":
            {
                var matches = runtime.FindMapsByName(r.Value);
                if (matches.Count == 0)
                    throw new BpfException(Errno.ENOENT, $"no map with name {r.Value}");
                if (matches.Count > 1)
                    throw new BpfException(Errno.EINVAL, $"several maps match name {r.Value}");
                return runtime.OpenMapById(matches[0].Id);
            }
            default:
                throw new CliUsageException($"maps cannot be named by {r.Kind}");
        }
    }

    // ---- prog ----

    private int Load(ProgLoad c)
    {
        CliLoader.Load(runtime, c);
        return 0;
    }

    private int ShowPrograms(ProgShow c)
    {
        var programs = new List<ProgramObject>();
        if (c.Program is { } r)
        {
            using var h = OpenProgram(r);
            programs.Add(h.Program);
            Print(programs);
            return 0;
        }
        programs.AddRange(runtime.GetIds(ObjectKind.Program).Select(id => runtime.FindObject(ObjectKind.Program, id)).OfType<ProgramObject>());
        Print(programs);
        return 0;

        void Print(List<ProgramObject> list)
        {
            if (json)
            {
                var items = list.Select(p => BpftoolFormat.ProgramJson(p.GetInfo(), runtime.Pins.PathsOf(p), p.GetInfo().JitedSize)).ToList();
                RuntimeJson.Write<object>(output, c.Program is null ? items : items[0]);
            }
            else
                foreach (var p in list)
                    output.Write(BpftoolFormat.ProgramText(p.GetInfo(), runtime.Pins.PathsOf(p), p.GetInfo().JitedSize));
        }
    }

    private int DumpXlated(ProgDumpXlated c)
    {
        using var h = OpenProgram(c.Program);
        XlatedDump.Write(output, h.Program.Name, Ebpf.Runtime.XlatedProgramDump.PrepareDump(h.Program), json);
        return 0;
    }

    private int Run(ProgRun c)
    {
        using var h = OpenProgram(c.Program);
        var options = new TestRunOptions
        {
            DataIn = RunInputFile.Read(c.DataIn),
            DataSizeOut = c.DataOut is null ? null : (int)(c.DataSizeOut ?? 0),
            ContextIn = c.CtxIn is null ? null : RunInputFile.Read(c.CtxIn),
            ContextSizeOut = c.CtxOut is null ? null : (int)(c.CtxSizeOut ?? 1024),
            Repeat = c.Repeat,
        };
        var result = runtime.TestRun(h, options);
        if (result.Error != Errno.None)
            throw new BpfException(result.Error, "failed to run program: No space left on device");
        BpftoolFormat.WriteTestRun(output, json, c.Repeat, result.ReturnValue, result.Duration,
            (c.DataOut, result.DataOut), (c.CtxOut, result.ContextOut));
        return 0;
    }

    private int PinProgram(ProgPin c)
    {
        using var h = OpenProgram(c.Program);
        runtime.Pins.Pin(h, c.Path);
        return 0;
    }

    private int Tracelog()
    {
        foreach (var line in runtime.TraceLog.Drain())
            output.WriteLine(line);
        return 0;
    }

    // ---- map ----

    private int ShowMaps(MapShow c)
    {
        List<MapObject> maps = new();
        if (c.Map is { } r)
        {
            using var h = OpenMap(r);
            maps.Add(h.Map);
        }
        else
            maps.AddRange(runtime.GetIds(ObjectKind.Map).Select(id => runtime.FindObject(ObjectKind.Map, id)).OfType<MapObject>());
        if (json)
        {
            var items = maps.Select(m => BpftoolFormat.MapJson(m.GetInfo(), runtime.Pins.PathsOf(m))).ToList();
            RuntimeJson.Write<object>(output, c.Map is null ? items : items[0]);
        }
        else
            foreach (var m in maps)
                output.Write(BpftoolFormat.MapText(m.GetInfo(), runtime.Pins.PathsOf(m)));
        return 0;
    }

    private int CreateMap(MapCreate c)
    {
        if (!BpftoolFormat.TryParseType(c.Type, out MapType type))
            throw new CliUsageException($"invalid map type '{c.Type}'");
        using var map = runtime.CreateMap(new MapDefinition(type, c.KeySize, c.ValueSize, c.MaxEntries, (MapFlags)c.Flags, c.Name));
        runtime.Pins.Pin(map, c.Path);
        return 0;
    }

    private int Dump(MapDump c)
    {
        using var h = OpenMap(c.Map);
        h.RequireReadable();
        var entries = MapElements.Entries(h.Map).ToList();
        BpftoolFormat.WriteDump(output, entries, json, BtfLayout(h.Map));
        return 0;
    }

    private int Lookup(MapLookup c)
    {
        using var h = OpenMap(c.Map);
        h.RequireReadable();
        var key = c.Key.Resolve((int)h.Map.Definition.KeySize, "key");
        var value = MapElements.Lookup(h.Map, key);
        if (value is null)
        {
            if (json)
                throw new BpfException(Errno.ENOENT, "lookup failed: No such file or directory");
            output.WriteLine($"key:\n{BpftoolFormat.Hex(key)}\n\nNot found");
            return 1;
        }
        BpftoolFormat.WriteLookup(output, key, value, json, BtfLayout(h.Map));
        return 0;
    }

    /// <summary>The map's BTF key/value layout when it has a typed value (bpftool's condition for formatting).</summary>
    private static MapBtfLayout? BtfLayout(MapObject map)
    {
        var info = map.GetInfo();
        return map.Btf is { } btf && info.BtfValueTypeId != 0
            ? BpftoolFormat.Layout(btf.Data, info.Type, info.BtfKeyTypeId, info.BtfValueTypeId, info.ValueSize)
            : null;
    }

    private int Update(MapUpdate c)
    {
        using var h = OpenMap(c.Map);
        h.RequireWritable();
        var def = h.Map.Definition;
        var key = c.Key.Resolve((int)def.KeySize, "key");
        if (c.ValueProgram is { } progRef)
        {
            using var prog = OpenProgram(progRef);
            MapElements.SetProgram(h.Map, key, prog.Program, c.Flags);
            return 0;
        }
        if (h.Map.Type == MapType.ProgArray)
            throw new CliUsageException("prog array values are given as 'value id N' or 'value pinned PATH'");
        MapElements.Update(h.Map, key, c.Value!.Resolve((int)def.ValueSize, "value"), c.Flags);
        return 0;
    }

    private int Delete(MapDelete c)
    {
        using var h = OpenMap(c.Map);
        h.RequireWritable();
        var key = c.Key.Resolve((int)h.Map.Definition.KeySize, "key");
        try
        {
            MapElements.Delete(h.Map, key);
        }
        catch (BpfException e)
        {
            throw new BpfException(e.Errno, $"delete failed: {e.Message}");
        }
        return 0;
    }

    private int GetNext(MapGetNext c)
    {
        using var h = OpenMap(c.Map);
        var key = c.Key?.Resolve((int)h.Map.Definition.KeySize, "key");
        var next = MapElements.NextKey(h.Map, key)
            ?? throw new BpfException(Errno.ENOENT, "can't get next key: No such file or directory");
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
        runtime.Pins.Pin(h, c.Path);
        return 0;
    }

    private int Freeze(MapFreeze c)
    {
        using var h = OpenMap(c.Map);
        h.Map.Freeze();
        return 0;
    }

    private int QueueOp(MapQueueOp c)
    {
        using var h = OpenMap(c.Map);
        if (c.Value is { } v)
        {
            MapElements.Push(h.Map, v.Resolve((int)h.Map.Definition.ValueSize, "value"), 0);
            return 0;
        }
        var value = MapElements.Pop(h.Map, remove: c.Op != "peek")
            ?? throw new BpfException(Errno.ENOENT, $"{c.Op} failed: No such file or directory");
        if (json)
            RuntimeJson.Write(output, new Dictionary<string, object> { ["value"] = BpftoolFormat.JsonBytes(value) });
        else
            output.WriteLine($"value: {BpftoolFormat.Hex(value)}");
        return 0;
    }
}
