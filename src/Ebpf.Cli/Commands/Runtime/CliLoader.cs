using Ebpf.Abi;
using Ebpf.Loading;
using Ebpf.Runtime;

namespace Ebpf.Cli.Commands.Runtime;

/// <summary>`prog load` / `prog loadall` into the managed runtime: bpftool's pinning layout.</summary>
internal static class CliLoader
{
    public static void Load(BpfRuntime runtime, ProgLoad c)
    {
        if (!File.Exists(c.Object))
            throw new BpfException(Errno.ENOENT, $"failed to open object file {c.Object}: No such file or directory");
        var spec = ObjectSpec.Load(c.Object);
        ProgramType? type = null;
        if (c.Type is not null)
        {
            if (!BpftoolFormat.TryParseType(c.Type, out ProgramType parsed))
                throw new CliUsageException($"unknown program type '{c.Type}'");
            type = parsed;
        }
        if (!c.All)
        {
            // bpftool prog load: only the first program is loaded (the others are not autoloaded).
            foreach (var p in spec.Programs.Skip(1))
                p.Autoload = false;
        }
        using var coll = runtime.Load(spec, new ObjectLoadOptions { ProgramType = type, BtfCustomPath = c.KernelBtf });
        if (c.All)
        {
            runtime.Pins.CreateDirectories(c.PinPath);
            foreach (var (name, prog) in coll.Programs)
                runtime.Pins.Pin(prog, c.PinPath.TrimEnd('/') + "/" + name);
        }
        else
            runtime.Pins.Pin(coll.Programs.Values.Single(), c.PinPath);
        if (c.PinMaps is { } dir)
        {
            runtime.Pins.CreateDirectories(dir);
            foreach (var (name, map) in coll.Maps)
                runtime.Pins.Pin(map, dir.TrimEnd('/') + "/" + name.Replace('.', '_'));
        }
    }
}
