namespace Ebpf.Cli.Commands.Runtime;

/// <summary>The parsed form of every runtime verb (the grammar lives here; execution elsewhere).</summary>
internal abstract record RuntimeCommand;

internal sealed record ProgLoad(string Object, string PinPath, string? Type, bool All, string? PinMaps, string? KernelBtf = null) : RuntimeCommand
{
    /// <summary>`target PROG`: what the object's tracing/extension programs are loaded against.</summary>
    public ObjectRef? Target { get; init; }
    /// <summary>`func NAME`: the target function, instead of the section's.</summary>
    public string? Function { get; init; }
}
internal sealed record ProgShow(ObjectRef? Program) : RuntimeCommand;
internal sealed record ProgDumpXlated(ObjectRef Program) : RuntimeCommand;
internal sealed record ProgRun(ObjectRef Program, string DataIn, string? DataOut, uint? DataSizeOut, string? CtxIn, string? CtxOut, uint? CtxSizeOut, uint Repeat) : RuntimeCommand;
internal sealed record ProgPin(ObjectRef Program, string Path) : RuntimeCommand;
internal sealed record ProgTracelog : RuntimeCommand;
internal sealed record MapShow(ObjectRef? Map) : RuntimeCommand;
internal sealed record MapCreate(string Path, string Type, uint KeySize, uint ValueSize, uint MaxEntries, string Name, uint Flags) : RuntimeCommand;
internal sealed record MapDump(ObjectRef Map) : RuntimeCommand;
internal sealed record MapLookup(ObjectRef Map, ByteWords Key) : RuntimeCommand;
internal sealed record MapUpdate(ObjectRef Map, ByteWords Key, ByteWords? Value, ObjectRef? ValueProgram, ulong Flags) : RuntimeCommand;
internal sealed record MapDelete(ObjectRef Map, ByteWords Key) : RuntimeCommand;
internal sealed record MapGetNext(ObjectRef Map, ByteWords? Key) : RuntimeCommand;
internal sealed record MapPin(ObjectRef Map, string Path) : RuntimeCommand;
internal sealed record MapFreeze(ObjectRef Map) : RuntimeCommand;
/// <summary>peek/pop/dequeue (no value) and push/enqueue (value).</summary>
internal sealed record MapQueueOp(string Op, ObjectRef Map, ByteWords? Value) : RuntimeCommand;

/// <summary>Parses the words after `prog VERB` / `map VERB` (bpftool's grammar, see each case).</summary>
internal static class RuntimeCommandLine
{
    private static readonly string[] ByteStops = ["value", "any", "exist", "noexist", "key"];

    public static RuntimeCommand ParseProg(string verb, IReadOnlyList<string> args)
    {
        var w = new WordReader(args);
        RuntimeCommand cmd;
        switch (verb)
        {
            case "load":
            case "loadall":
            {
                // prog load OBJ PATH [type TYPE] [target PROG [func NAME]] [kernel_btf FILE]
                // prog loadall OBJ PATH [type TYPE] [pinmaps MAP_DIR] [target PROG] [kernel_btf FILE]
                string obj = w.Next("object file");
                string path = w.Next("pin path");
                string? type = null, pinmaps = null, kernelBtf = null, function = null;
                ObjectRef? target = null;
                while (!w.AtEnd)
                {
                    if (w.TryTake("type")) type = w.Next("program type");
                    else if (verb == "loadall" && w.TryTake("pinmaps")) pinmaps = w.Next("map directory");
                    else if (w.TryTake("kernel_btf")) kernelBtf = w.Next("BTF file");
                    else if (w.TryTake("target")) target = ObjectRef.Parse(w, allowName: true);
                    else if (verb == "load" && target is not null && w.TryTake("func")) function = w.Next("function name");
                    else throw new CliUsageException($"unexpected argument '{w.Peek}'");
                }
                cmd = new ProgLoad(obj, path, type, verb == "loadall", pinmaps, kernelBtf) { Target = target, Function = function };
                break;
            }
            case "show":
            case "list":
                cmd = new ProgShow(w.AtEnd ? null : ObjectRef.Parse(w, allowName: true));
                break;
            case "dump":
                w.Expect("xlated");
                cmd = new ProgDumpXlated(ObjectRef.Parse(w, allowName: true));
                break;
            case "pin":
                cmd = new ProgPin(ObjectRef.Parse(w, allowName: true), w.Next("path"));
                break;
            case "run":
            {
                var prog = ObjectRef.Parse(w, allowName: true);
                string? dataIn = null, dataOut = null, ctxIn = null, ctxOut = null;
                uint? dataSizeOut = null, ctxSizeOut = null;
                uint repeat = 1;
                while (!w.AtEnd)
                {
                    string key = w.Next("option");
                    switch (key)
                    {
                        case "data_in": dataIn = w.Next("file"); break;
                        case "data_out": dataOut = w.Next("file"); break;
                        case "data_size_out": dataSizeOut = w.NextUInt("data_size_out"); break;
                        case "ctx_in": ctxIn = w.Next("file"); break;
                        case "ctx_out": ctxOut = w.Next("file"); break;
                        case "ctx_size_out": ctxSizeOut = w.NextUInt("ctx_size_out"); break;
                        case "repeat": repeat = w.NextUInt("repeat"); break;
                        default: throw new CliUsageException($"unknown option '{key}'");
                    }
                }
                cmd = new ProgRun(prog, dataIn ?? throw new CliUsageException("'data_in' is required"), dataOut, dataSizeOut, ctxIn, ctxOut, ctxSizeOut, repeat);
                break;
            }
            case "tracelog":
                cmd = new ProgTracelog();
                break;
            default:
                throw new CliUsageException($"unknown command 'prog {verb}'");
        }
        w.EnsureEnd();
        return cmd;
    }

    public static RuntimeCommand ParseMap(string verb, IReadOnlyList<string> args)
    {
        var w = new WordReader(args);
        RuntimeCommand cmd;
        switch (verb)
        {
            case "show":
            case "list":
                cmd = new MapShow(w.AtEnd ? null : ObjectRef.Parse(w, allowName: true));
                break;
            case "create":
            {
                // map create FILE type TYPE key KEY_SIZE value VALUE_SIZE entries MAX name NAME [flags FLAGS]
                string path = w.Next("pin path");
                string? type = null, name = null;
                uint? key = null, value = null, entries = null;
                uint flags = 0;
                while (!w.AtEnd)
                {
                    string k = w.Next("option");
                    switch (k)
                    {
                        case "type": type = w.Next("map type"); break;
                        case "key": key = w.NextUInt("key size"); break;
                        case "value": value = w.NextUInt("value size"); break;
                        case "entries": entries = w.NextUInt("max entries"); break;
                        case "name": name = w.Next("name"); break;
                        case "flags": flags = w.NextUInt("flags"); break;
                        default: throw new CliUsageException($"unknown option '{k}'");
                    }
                }
                cmd = new MapCreate(path, type ?? throw new CliUsageException("map type not specified"), key ?? 0, value ?? 0,
                    entries ?? 0, name ?? throw new CliUsageException("map name not specified"), flags);
                break;
            }
            case "dump":
                cmd = new MapDump(ObjectRef.Parse(w, allowName: true));
                break;
            case "lookup":
            {
                var map = ObjectRef.Parse(w, allowName: true);
                w.Expect("key");
                cmd = new MapLookup(map, new ByteWords(w.TakeUntil(ByteStops)));
                break;
            }
            case "update":
            {
                var map = ObjectRef.Parse(w, allowName: true);
                w.Expect("key");
                var key = new ByteWords(w.TakeUntil(ByteStops));
                w.Expect("value");
                ByteWords? value = null;
                ObjectRef? program = null;
                if (ObjectRef.StartsReference(w.Peek))
                    program = ObjectRef.Parse(w, allowName: true); // prog arrays: value (id N | pinned PATH)
                else
                    value = new ByteWords(w.TakeUntil(ByteStops));
                ulong flags = 0;
                if (!w.AtEnd)
                {
                    string f = w.Next("update flag");
                    flags = f switch
                    {
                        "any" => 0,
                        "noexist" => 1,
                        "exist" => 2,
                        _ => throw new CliUsageException($"unknown update flag '{f}'"),
                    };
                }
                cmd = new MapUpdate(map, key, value, program, flags);
                break;
            }
            case "delete":
            {
                var map = ObjectRef.Parse(w, allowName: true);
                w.Expect("key");
                cmd = new MapDelete(map, new ByteWords(w.TakeUntil(ByteStops)));
                break;
            }
            case "getnext":
            {
                var map = ObjectRef.Parse(w, allowName: true);
                ByteWords? key = w.TryTake("key") ? new ByteWords(w.TakeUntil(ByteStops)) : null;
                cmd = new MapGetNext(map, key);
                break;
            }
            case "pin":
                cmd = new MapPin(ObjectRef.Parse(w, allowName: true), w.Next("path"));
                break;
            case "freeze":
                cmd = new MapFreeze(ObjectRef.Parse(w, allowName: true));
                break;
            case "peek":
            case "pop":
            case "dequeue":
                cmd = new MapQueueOp(verb, ObjectRef.Parse(w, allowName: true), null);
                break;
            case "push":
            case "enqueue":
            {
                var map = ObjectRef.Parse(w, allowName: true);
                w.Expect("value");
                cmd = new MapQueueOp(verb, map, new ByteWords(w.TakeUntil(ByteStops)));
                break;
            }
            default:
                throw new CliUsageException($"unknown command 'map {verb}'");
        }
        w.EnsureEnd();
        return cmd;
    }
}
