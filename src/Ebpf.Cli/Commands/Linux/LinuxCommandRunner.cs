using System.Globalization;
using Ebpf.Abi;
using Ebpf.Cli.Commands.Runtime;
using Ebpf.Linux;
using Ebpf.Linux.Collections;
using Ebpf.Loading;
using ManagedProgramInfo = Ebpf.Runtime.Objects.ProgramInfo;
using ManagedMapInfo = Ebpf.Runtime.Objects.MapInfo;

namespace Ebpf.Cli.Commands.Linux;

/// <summary>
/// Executes the runtime verbs against the running kernel through bpf(2), printing exactly what the
/// managed backend prints (<see cref="BpftoolFormat"/>). Stateless like bpftool: every fd opened by
/// a command is closed when it returns; objects outlive a command only through bpffs pins (or,
/// for maps, through the programs that use them).
/// </summary>
internal sealed class LinuxCommandRunner : IRuntimeBackend
{
    private readonly TextWriter _output;
    private readonly bool _json;

    public LinuxCommandRunner(TextWriter output, bool json)
    {
        if (!LinuxKernel.IsAvailable)
            throw new BpfException(Errno.ENOSYS, $"--backend linux: bpf(2) is unavailable: {LinuxKernel.UnavailableReason}");
        _output = output;
        _json = json;
    }

    public int Execute(RuntimeCommand command) => command switch
    {
        ProgLoad c => Load(c),
        ProgShow c => ShowPrograms(c),
        ProgDumpXlated c => DumpXlated(c),
        ProgRun c => Run(c),
        ProgPin c => PinProgram(c),
        ProgTracelog => throw new BpfException(Errno.EOPNOTSUPP, "prog tracelog with --backend linux: read /sys/kernel/tracing/trace_pipe (bpftool prog tracelog)"),
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

    private static BpfFd OpenPinned(string path, bool program)
    {
        var fd = BpfFs.Get(path, program ? BpfObjectKind.Program : BpfObjectKind.Map);
        var info = KernelFdInfo.Read(fd);
        if (program ? info.IsProgram : info.IsMap)
            return fd;
        fd.Dispose();
        throw new BpfException(Errno.EINVAL, $"incorrect object type at {path}: not a {(program ? "program" : "map")}");
    }

    private static KernelProgram OpenProgram(ObjectRef r)
    {
        switch (r.Kind)
        {
            case "id":
                return KernelProgram.FromId(WordReader.ParseUInt(r.Value, "id"));
            case "pinned":
                return KernelProgram.FromFd(OpenPinned(r.Value, program: true));
            default:
            {
                string wanted = r.Value.Replace(" ", "", StringComparison.Ordinal);
                KernelProgram? found = null;
                foreach (var id in KernelObjects.EnumerateProgramIds())
                {
                    KernelProgram p;
                    try { p = KernelProgram.FromId(id); }
                    catch (BpfException e) when (e.Errno == Errno.ENOENT) { continue; } // unloaded meanwhile
                    var info = p.GetInfo();
                    if (r.Kind == "name" ? info.Name == r.Value : info.TagHex == wanted)
                    {
                        if (found is not null)
                        {
                            p.Dispose();
                            found.Dispose();
                            throw new BpfException(Errno.EINVAL, $"several programs match {r.Kind} {r.Value}");
                        }
                        found = p;
                    }
                    else
                        p.Dispose();
                }
                return found ?? throw new BpfException(Errno.ENOENT, $"no program with {r.Kind} {r.Value}");
            }
        }
    }

    private static KernelMap OpenMap(ObjectRef r)
    {
        switch (r.Kind)
        {
            case "id":
                return KernelMap.FromId(WordReader.ParseUInt(r.Value, "id"));
            case "pinned":
                return KernelMap.FromFd(OpenPinned(r.Value, program: false));
            case "name":
            {
                KernelMap? found = null;
                foreach (var id in KernelObjects.EnumerateMapIds())
                {
                    KernelMap m;
                    try { m = KernelMap.FromId(id); }
                    catch (BpfException e) when (e.Errno == Errno.ENOENT) { continue; }
                    if (m.Name == r.Value)
                    {
                        if (found is not null)
                        {
                            m.Dispose();
                            found.Dispose();
                            throw new BpfException(Errno.EINVAL, $"several maps match name {r.Value}");
                        }
                        found = m;
                    }
                    else
                        m.Dispose();
                }
                return found ?? throw new BpfException(Errno.ENOENT, $"no map with name {r.Value}");
            }
            default:
                throw new CliUsageException($"maps cannot be named by {r.Kind}");
        }
    }

    // ---- prog ----

    private static int Load(ProgLoad c)
    {
        if (!File.Exists(c.Object))
            throw new BpfException(Errno.ENOENT, $"failed to open object file {c.Object}: No such file or directory");
        // The ELF goes along so the kernel gets the object's (sanitised) BTF: btf_id, func/line info.
        var elf = Ebpf.Elf.ElfFile.Open(c.Object);
        var spec = ObjectSpec.Parse(elf.Image, c.Object);
        spec.Name = ObjectSpec.ObjectNameFromPath(c.Object);
        if (c.Type is not null)
        {
            if (!BpftoolFormat.TryParseType(c.Type, out ProgramType type))
                throw new CliUsageException($"unknown program type '{c.Type}'");
            foreach (var p in spec.Programs)
                p.Type = type;
        }
        // bpftool prog load: only the first program is loaded (the others are not autoloaded).
        var first = spec.Programs.FirstOrDefault()
            ?? throw new BpfException(Errno.ENOENT, $"{c.Object}: object has no programs");
        // Before loading anything: a pin path off bpffs fails here, with the reason, not after the load.
        KernelPins.PrepareTarget(c.PinPath, directory: c.All);
        if (c.PinMaps is { } mapDirectory)
            KernelPins.PrepareTarget(mapDirectory, directory: true);
        var options = new LinuxCollectionOptions
        {
            Elf = elf,
            ProgramFilter = c.All ? p => p.Autoload : p => ReferenceEquals(p, first),
            BtfCustomPath = c.KernelBtf,
        };
        using var coll = LinuxKernel.Load(spec, options);
        foreach (var warning in coll.Warnings)
            CliConsole.Error.WriteLine($"libbpf: {warning}");
        if (c.All)
        {
            KernelPins.CreateDirectory(c.PinPath);
            foreach (var (name, prog) in coll.Programs)
                prog.Pin(c.PinPath.TrimEnd('/') + "/" + name.Replace('/', '_')); // libbpf's pin name: no '/' (legacy names are section names)
        }
        else
            coll.Programs.Values.Single().Pin(c.PinPath);
        if (c.PinMaps is { } dir)
        {
            KernelPins.CreateDirectory(dir);
            foreach (var (name, map) in coll.Maps)
                map.Pin(dir.TrimEnd('/') + "/" + name.Replace('.', '_'));
        }
        return 0;
    }

    private int ShowPrograms(ProgShow c)
    {
        var pins = KernelPins.Scan();
        var shown = new List<(ManagedProgramInfo Info, uint Jited, long? Memlock)>();
        if (c.Program is { } r)
        {
            using var p = OpenProgram(r);
            shown.Add(Describe(p));
        }
        else
        {
            foreach (var id in KernelObjects.EnumerateProgramIds())
            {
                KernelProgram p;
                try { p = KernelProgram.FromId(id); }
                catch (BpfException e) when (e.Errno == Errno.ENOENT) { continue; }
                using (p)
                    shown.Add(Describe(p));
            }
        }
        if (_json)
        {
            var items = shown.Select(s => BpftoolFormat.ProgramJson(s.Info, pins.OfProgram(s.Info.Id), s.Jited, s.Memlock)).ToList();
            RuntimeJson.Write<object>(_output, c.Program is null ? items : items[0]);
        }
        else
            foreach (var s in shown)
                _output.Write(BpftoolFormat.ProgramText(s.Info, pins.OfProgram(s.Info.Id), s.Jited, s.Memlock));
        return 0;
    }

    private static (ManagedProgramInfo, uint, long?) Describe(KernelProgram p)
    {
        var k = p.GetInfo();
        var info = new ManagedProgramInfo(k.Id, k.Type, k.Name, k.TagHex, k.MapIds.ToArray(), k.BtfId,
            KernelClock.WallTime(k.LoadTime), k.XlatedSize, k.GplCompatible);
        return (info, k.JitedSize, KernelFdInfo.Read(p.Fd).Memlock);
    }

    private int DumpXlated(ProgDumpXlated c)
    {
        using var p = OpenProgram(c.Program);
        XlatedDump.Write(_output, p.Name, p.GetTranslatedInstructions(), _json);
        return 0;
    }

    private int Run(ProgRun c)
    {
        using var p = OpenProgram(c.Program);
        var dataIn = RunInputFile.Read(c.DataIn);
        var result = p.TestRun(new Ebpf.Linux.TestRunOptions
        {
            Data = dataIn,
            DataOutSize = c.DataOut is null ? null : (int)(c.DataSizeOut ?? (uint)dataIn.Length + 256),
            Context = c.CtxIn is null ? ReadOnlyMemory<byte>.Empty : RunInputFile.Read(c.CtxIn),
            ContextOutSize = c.CtxOut is null ? null : (int)(c.CtxSizeOut ?? 1024),
            Repeat = c.Repeat,
        });
        BpftoolFormat.WriteTestRun(_output, _json, c.Repeat, result.ReturnValue, result.DurationNs,
            (c.DataOut, result.DataOut), (c.CtxOut, result.ContextOut));
        return 0;
    }

    private static int PinProgram(ProgPin c)
    {
        using var p = OpenProgram(c.Program);
        KernelPins.PrepareTarget(c.Path, directory: false);
        p.Pin(c.Path);
        return 0;
    }

    // ---- map ----

    private int ShowMaps(MapShow c)
    {
        var pins = KernelPins.Scan();
        var shown = new List<(ManagedMapInfo Info, long? Memlock)>();
        if (c.Map is { } r)
        {
            using var m = OpenMap(r);
            shown.Add(Describe(m));
        }
        else
        {
            foreach (var id in KernelObjects.EnumerateMapIds())
            {
                KernelMap m;
                try { m = KernelMap.FromId(id); }
                catch (BpfException e) when (e.Errno == Errno.ENOENT) { continue; }
                using (m)
                    shown.Add(Describe(m));
            }
        }
        if (_json)
        {
            var items = shown.Select(s => BpftoolFormat.MapJson(s.Info, pins.OfMap(s.Info.Id), s.Memlock)).ToList();
            RuntimeJson.Write<object>(_output, c.Map is null ? items : items[0]);
        }
        else
            foreach (var s in shown)
                _output.Write(BpftoolFormat.MapText(s.Info, pins.OfMap(s.Info.Id), s.Memlock));
        return 0;
    }

    private static (ManagedMapInfo, long?) Describe(KernelMap m)
    {
        var k = m.GetInfo();
        var fdinfo = KernelFdInfo.Read(m.Fd);
        return (new ManagedMapInfo(k.Id, k.Type, k.Name, k.KeySize, k.ValueSize, k.MaxEntries, k.Flags, k.BtfId, fdinfo.Frozen), fdinfo.Memlock);
    }

    private static int CreateMap(MapCreate c)
    {
        if (!BpftoolFormat.TryParseType(c.Type, out MapType type))
            throw new CliUsageException($"invalid map type '{c.Type}'");
        KernelPins.PrepareTarget(c.Path, directory: false);
        using var map = KernelMap.Create(new MapCreateOptions
        {
            Type = type, KeySize = c.KeySize, ValueSize = c.ValueSize, MaxEntries = c.MaxEntries, Flags = (MapFlags)c.Flags, Name = c.Name,
        });
        map.Pin(c.Path);
        return 0;
    }

    private int Dump(MapDump c)
    {
        using var m = OpenMap(c.Map);
        var entries = new List<(byte[] Key, byte[] Value)>();
        foreach (var key in m.Keys())
        {
            var value = new byte[m.ValueBufferSize];
            if (m.TryLookup(key, value))
                entries.Add((key, value));
        }
        BpftoolFormat.WriteDump(_output, entries, _json, BtfLayout(m));
        return 0;
    }

    private int Lookup(MapLookup c)
    {
        using var m = OpenMap(c.Map);
        var key = c.Key.Resolve((int)m.KeySize, "key");
        var value = new byte[m.ValueBufferSize];
        if (!m.TryLookup(key, value))
        {
            if (_json)
                throw new BpfException(Errno.ENOENT, "lookup failed: No such file or directory");
            _output.WriteLine($"key:\n{BpftoolFormat.Hex(key)}\n\nNot found");
            return 1;
        }
        BpftoolFormat.WriteLookup(_output, key, value, _json, BtfLayout(m));
        return 0;
    }

    /// <summary>The map's BTF key/value layout when it has a typed value (bpftool's condition for formatting).</summary>
    private static MapBtfLayout? BtfLayout(KernelMap m)
    {
        var info = m.GetInfo();
        if (info.BtfId == 0 || info.BtfValueTypeId == 0)
            return null;
        using var btf = KernelBtf.FromId(info.BtfId);
        return BpftoolFormat.Layout(btf.ReadBytes(), info.Type, info.BtfKeyTypeId, info.BtfValueTypeId, info.ValueSize);
    }

    private static int Update(MapUpdate c)
    {
        using var m = OpenMap(c.Map);
        var key = c.Key.Resolve((int)m.KeySize, "key");
        if (c.ValueProgram is { } progRef)
        {
            using var prog = OpenProgram(progRef);
            m.UpdateWithProgram(key, prog, (MapUpdateFlags)c.Flags);
            return 0;
        }
        if (m.Type == MapType.ProgArray)
            throw new CliUsageException("prog array values are given as 'value id N' or 'value pinned PATH'");
        m.Update(key, PerCpuValue(m, c.Value!), (MapUpdateFlags)c.Flags);
        return 0;
    }

    /// <summary>
    /// Per-CPU maps take one value per possible CPU (8-byte aligned slots); like bpftool, a single
    /// value_size value is written to every CPU, and a full per-CPU buffer is taken as given.
    /// </summary>
    private static byte[] PerCpuValue(KernelMap m, ByteWords words)
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

    private static int Delete(MapDelete c)
    {
        using var m = OpenMap(c.Map);
        var key = c.Key.Resolve((int)m.KeySize, "key");
        bool deleted;
        try
        {
            deleted = m.Delete(key);
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
        using var m = OpenMap(c.Map);
        var key = c.Key?.Resolve((int)m.KeySize, "key");
        var next = new byte[m.KeySize];
        if (!m.TryGetNextKey(key ?? [], next))
            throw new BpfException(Errno.ENOENT, "can't get next key: No such file or directory");
        if (_json)
        {
            RuntimeJson.Write(_output, new Dictionary<string, object?>
            {
                ["key"] = key is null ? null : BpftoolFormat.JsonBytes(key),
                ["next_key"] = BpftoolFormat.JsonBytes(next),
            });
            return 0;
        }
        _output.WriteLine(key is null ? "key: None" : $"key:\n{BpftoolFormat.Hex(key)}");
        _output.WriteLine($"next key:\n{BpftoolFormat.Hex(next)}");
        return 0;
    }

    private static int PinMap(MapPin c)
    {
        using var m = OpenMap(c.Map);
        KernelPins.PrepareTarget(c.Path, directory: false);
        m.Pin(c.Path);
        return 0;
    }

    private static int Freeze(MapFreeze c)
    {
        using var m = OpenMap(c.Map);
        m.Freeze();
        return 0;
    }

    private int QueueOp(MapQueueOp c)
    {
        using var m = OpenMap(c.Map);
        if (c.Value is { } v)
        {
            m.Update([], v.Resolve((int)m.ValueSize, "value"));
            return 0;
        }
        var value = new byte[m.ValueSize];
        bool found = c.Op == "peek" ? m.TryLookup([], value) : m.TryLookupAndDelete([], value);
        if (!found)
            throw new BpfException(Errno.ENOENT, $"{c.Op} failed: No such file or directory");
        if (_json)
            RuntimeJson.Write(_output, new Dictionary<string, object> { ["value"] = BpftoolFormat.JsonBytes(value) });
        else
            _output.WriteLine($"value: {BpftoolFormat.Hex(value)}");
        return 0;
    }
}
