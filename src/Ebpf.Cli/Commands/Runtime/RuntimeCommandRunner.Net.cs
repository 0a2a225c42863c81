using System.Globalization;
using Ebpf.Collections;
using Ebpf.Runtime.Net;

namespace Ebpf.Cli.Commands.Runtime;

// `dev` (devices of the backend, and frame injection into the managed runtime's) and `net` (bpftool net's xdp part).
internal sealed partial class RuntimeCommandRunner
{
    private static readonly string[] VerdictNames = ["aborted", "drop", "pass", "tx", "redirect"];

    private int AddDevice(DevAdd c)
    {
        var made = backend.CreateDevice(c.Name, c.Kind, c.Peer);
        if (json)
            RuntimeJson.Write(output, made.Select(DeviceJson).ToList());
        else
            foreach (var d in made)
                output.WriteLine(DeviceText(d));
        return 0;
    }

    private int DeleteDevice(DevDelete c)
    {
        backend.DeleteDevice(backend.GetDeviceIndex(c.Name));
        if (json)
            output.WriteLine("null");
        return 0;
    }

    private int ShowDevices(DevShow c)
    {
        var all = backend.ListDevices();
        if (c.Name is { } name)
        {
            int ifindex = backend.GetDeviceIndex(name);
            all = all.Where(d => d.Ifindex == ifindex).ToArray();
        }
        if (json)
            RuntimeJson.Write(output, all.Select(DeviceJson).ToList());
        else
            foreach (var d in all)
                output.WriteLine(DeviceText(d));
        return 0;
    }

    /// <summary>"2: veth0: veth peer veth1(3) mtu 1500 rxq 1 addr 02:00:00:00:00:02 xdp driver id 7 link 3".</summary>
    private static string DeviceText(NetDeviceInfo d)
    {
        var s = new System.Text.StringBuilder();
        s.Append(CultureInfo.InvariantCulture, $"{d.Ifindex}: {d.Name}: {d.Kind}");
        if (d.PeerIfindex != 0)
            s.Append(CultureInfo.InvariantCulture, $" peer {d.PeerIfindex}");
        s.Append(CultureInfo.InvariantCulture, $" mtu {d.Mtu} rxq {d.RxQueues} addr {Mac(d.Address)}");
        foreach (var (mode, prog, link) in XdpModes(d.Xdp))
        {
            s.Append(CultureInfo.InvariantCulture, $" xdp {mode} id {prog}");
            if (link != 0)
                s.Append(CultureInfo.InvariantCulture, $" link {link}");
        }
        return s.ToString();
    }

    private static Dictionary<string, object> DeviceJson(NetDeviceInfo d)
    {
        var j = new Dictionary<string, object>
        {
            ["ifindex"] = d.Ifindex, ["name"] = d.Name, ["kind"] = d.Kind, ["mtu"] = d.Mtu, ["rx_queues"] = d.RxQueues,
            ["address"] = Mac(d.Address),
        };
        if (d.PeerIfindex != 0)
            j["peer_ifindex"] = d.PeerIfindex;
        j["xdp"] = XdpModes(d.Xdp).Select(m => new Dictionary<string, object> { ["mode"] = m.Mode, ["id"] = m.Program, ["link_id"] = m.Link }).ToList();
        return j;
    }

    private static string Mac(byte[] address) => string.Join(':', address.Select(b => b.ToString("x2", CultureInfo.InvariantCulture)));

    /// <summary>The attached modes in bpftool's order and names (generic, driver, offload).</summary>
    private static IEnumerable<(string Mode, uint Program, uint Link)> XdpModes(XdpDeviceState? x)
    {
        if (x is null)
            yield break;
        if (x.GenericProgramId != 0) yield return ("generic", x.GenericProgramId, x.GenericLinkId);
        if (x.DriverProgramId != 0) yield return ("driver", x.DriverProgramId, x.DriverLinkId);
        if (x.HardwareProgramId != 0) yield return ("offload", x.HardwareProgramId, x.HardwareLinkId);
    }

    /// <summary>`dev inject`: frames from data_in into the managed runtime's device; prints verdicts and where frames went.</summary>
    private int Inject(DevInject c)
    {
        var network = backend.ManagedNetwork()
            ?? throw new BpfException(Errno.EOPNOTSUPP, $"dev inject: the {backend.Name} backend has no frame injection (use a packet socket)");
        if (!File.Exists(c.DataIn))
            throw new BpfException(Errno.ENOENT, $"failed to open data_in file {c.DataIn}: No such file or directory");
        var frame = File.ReadAllBytes(c.DataIn);
        var frames = Enumerable.Range(0, c.Count).Select(_ => frame.ToArray()).ToArray();
        var r = network.InjectBatch(c.Name, frames, c.Queue);
        var verdicts = new Dictionary<string, object>();
        for (uint v = 0; v < VerdictNames.Length; v++)
            verdicts[VerdictNames[v]] = r.Count(v);
        int other = r.Frames.Count(f => f.Verdict >= VerdictNames.Length);
        if (json)
        {
            var j = new Dictionary<string, object>
            {
                ["device"] = c.Name, ["frames"] = r.Frames.Count, ["verdicts"] = verdicts,
                ["delivered"] = r.Deliveries.ToDictionary(d => d.Sink, d => d.Frames),
                ["dropped"] = r.Dropped, ["exceptions"] = r.Exceptions,
            };
            if (other > 0)
                j["invalid"] = other;
            RuntimeJson.Write(output, j);
            return 0;
        }
        output.Write(string.Create(CultureInfo.InvariantCulture, $"frames {r.Frames.Count}"));
        foreach (var (name, n) in verdicts)
            output.Write(string.Create(CultureInfo.InvariantCulture, $"  {name} {n}"));
        if (other > 0)
            output.Write(string.Create(CultureInfo.InvariantCulture, $"  invalid {other}"));
        output.WriteLine();
        foreach (var d in r.Deliveries)
            output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{d.Sink}: {d.Frames}"));
        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"dropped {r.Dropped}  exceptions {r.Exceptions}"));
        return 0;
    }

    /// <summary>bpftool's net_parse_dev: if_nametoindex, "invalid devname" when there is none.</summary>
    private int DeviceIndex(string name)
    {
        try
        {
            return backend.GetDeviceIndex(name);
        }
        catch (BpfException e) when (e.Errno == Errno.ENODEV)
        {
            throw new BpfException(Errno.EINVAL, $"invalid devname {name}");
        }
    }

    /// <summary>`net attach`: bpf_xdp_attach with XDP_FLAGS_UPDATE_IF_NOEXIST unless `overwrite`, plus the type's mode.</summary>
    private int AttachXdp(NetAttach c)
    {
        using var program = OpenProgram(c.Program);
        int ifindex = DeviceIndex(c.Device);
        var flags = NetCommandLine.ModeOf(c.Type) | (c.Overwrite ? XdpFlags.None : XdpFlags.UpdateIfNoExist);
        try
        {
            backend.XdpAttach(ifindex, program, flags);
        }
        catch (BpfException e)
        {
            throw new BpfException(e.Errno, $"interface {c.Type} attach failed: {e.Message}", e);
        }
        if (json)
            output.WriteLine("null");
        return 0;
    }

    private int DetachXdp(NetDetach c)
    {
        int ifindex = DeviceIndex(c.Device);
        try
        {
            backend.XdpAttach(ifindex, null, NetCommandLine.ModeOf(c.Type));
        }
        catch (BpfException e)
        {
            throw new BpfException(e.Errno, $"interface {c.Type} detach failed: {e.Message}", e);
        }
        if (json)
            output.WriteLine("null");
        return 0;
    }

    /// <summary>`net show [dev NAME]` as bpftool v7.1 prints its xdp part (tc and flow_dissector are not modelled: empty).</summary>
    private int ShowNet(NetShow c)
    {
        var devices = backend.ListDevices();
        if (c.Device is { } name)
        {
            int ifindex = DeviceIndex(name);
            devices = devices.Where(d => d.Ifindex == ifindex).ToArray();
        }
        var attached = devices.Where(d => d.Xdp is { AttachMode: not XdpAttachMode.None }).ToArray();
        if (json)
        {
            var xdp = attached.Select(d =>
            {
                var j = new Dictionary<string, object> { ["devname"] = d.Name, ["ifindex"] = d.Ifindex };
                if (d.Xdp!.AttachMode == XdpAttachMode.Multi)
                    j["multi_attachments"] = XdpModes(d.Xdp).Select(m => new Dictionary<string, object> { ["mode"] = m.Mode, ["id"] = m.Program }).ToList();
                else
                {
                    var m = XdpModes(d.Xdp).Single();
                    j["mode"] = m.Mode;
                    j["id"] = m.Program;
                }
                return j;
            }).ToList();
            RuntimeJson.Write(output, new List<object> { new Dictionary<string, object> { ["xdp"] = xdp, ["tc"] = new List<object>(), ["flow_dissector"] = new List<object>() } });
            return 0;
        }
        output.WriteLine("xdp:");
        foreach (var d in attached)
        {
            var line = new System.Text.StringBuilder(string.Create(CultureInfo.InvariantCulture, $"{d.Name}({d.Ifindex})"));
            foreach (var (mode, prog, _) in XdpModes(d.Xdp))
                line.Append(CultureInfo.InvariantCulture, $" {mode} id {prog}");
            output.WriteLine(line.ToString());
        }
        output.WriteLine();
        output.WriteLine("tc:");
        output.WriteLine();
        output.WriteLine("flow_dissector:");
        output.WriteLine();
        return 0;
    }
}
