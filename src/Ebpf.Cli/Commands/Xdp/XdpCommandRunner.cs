using System.Text.Json;
using Ebpf.Collections;
using Ebpf.Xdp;

namespace Ebpf.Cli.Commands.Xdp;

/// <summary>
/// Runs the xdp verbs on a backend. Stateless as xdp-loader: the programs a command loads stay attached through the
/// device and the dispatcher's pins; every handle the command opened is closed when it returns.
/// </summary>
internal sealed class XdpCommandRunner(IBpfBackend backend, TextWriter output, bool json)
{
    public int Execute(XdpCommand command)
    {
        try
        {
            return command switch
            {
                XdpLoad c => Load(c),
                XdpUnload c => Unload(c),
                XdpStatus c => Status(c),
                _ => throw new CliUsageException($"unsupported command {command.GetType().Name}"),
            };
        }
        catch (BpfException e) when (DeviceOf(command) is { } device && e.Message.Contains(device.Ifindex, StringComparison.Ordinal))
        {
            // The library names devices by ifindex; xdp-loader's messages name them as the user did.
            throw new BpfException(e.Errno, e.Message.Replace(device.Ifindex, device.Name, StringComparison.Ordinal), e);
        }
    }

    private (string Ifindex, string Name)? DeviceOf(XdpCommand command)
    {
        string? name = command switch { XdpLoad c => c.Device, XdpUnload c => c.Device, _ => null };
        if (name is null)
            return null;
        try
        {
            return ($"ifindex {backend.GetDeviceIndex(name)}", name);
        }
        catch (BpfException)
        {
            return null;
        }
    }

    private int Load(XdpLoad c)
    {
        int ifindex = backend.GetDeviceIndex(c.Device);
        var programs = new List<XdpProgram>();
        try
        {
            foreach (string obj in c.Objects)
            {
                if (!File.Exists(obj))
                    throw new BpfException(Errno.ENOENT, $"Couldn't open file '{obj}': No such file or directory");
                var p = XdpProgram.FromFile(obj, c.Program, c.Section);
                if (c.Priority is { } prio)
                    p.Priority = prio;
                if (c.Actions is { } actions)
                    p.ChainCallActions = actions;
                programs.Add(p);
            }
            using var mp = XdpMultiprog.Attach(backend, ifindex, programs, new XdpMultiprogOptions { BpfFsRoot = c.BpfFs, Mode = c.Mode });
            if (json)
                XdpStatusFormat.WriteJson(output, [(c.Device, ifindex, XdpMultiprog.Query(backend, ifindex, Options(c)))]);
            return 0;
        }
        finally
        {
            foreach (var p in programs)
                p.Dispose();
        }
    }

    private static XdpMultiprogOptions Options(XdpCommand c) => new() { BpfFsRoot = c.BpfFs };

    private int Unload(XdpUnload c)
    {
        int ifindex = backend.GetDeviceIndex(c.Device);
        if (c.All)
            XdpMultiprog.DetachAll(backend, ifindex, Options(c));
        else
            XdpMultiprog.Detach(backend, ifindex, [c.Id!.Value], Options(c));
        if (json)
            output.WriteLine("null");
        return 0;
    }

    private int Status(XdpStatus c)
    {
        var devices = c.Device is null
            ? backend.ListDevices().Select(d => (d.Name, d.Ifindex)).ToList()
            : [(c.Device, backend.GetDeviceIndex(c.Device))];
        var rows = new List<(string, int, XdpMultiprog?)>();
        try
        {
            foreach (var (name, ifindex) in devices)
                rows.Add((name, ifindex, XdpMultiprog.Query(backend, ifindex, Options(c))));
            if (json)
                XdpStatusFormat.WriteJson(output, rows);
            else
                XdpStatusFormat.WriteText(output, rows);
            return 0;
        }
        finally
        {
            foreach (var (_, _, mp) in rows)
                mp?.Dispose();
        }
    }
}
