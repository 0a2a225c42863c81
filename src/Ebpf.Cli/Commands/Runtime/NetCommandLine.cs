using Ebpf.Collections;

namespace Ebpf.Cli.Commands.Runtime;

internal sealed record DevAdd(string Name, string Kind, string? Peer) : RuntimeCommand;
internal sealed record DevDelete(string Name) : RuntimeCommand;
internal sealed record DevShow(string? Name) : RuntimeCommand;
internal sealed record DevInject(string Name, string DataIn, int Count, uint Queue) : RuntimeCommand;
internal sealed record NetAttach(string Type, ObjectRef Program, string Device, bool Overwrite) : RuntimeCommand;
internal sealed record NetDetach(string Type, string Device) : RuntimeCommand;
internal sealed record NetShow(string? Device) : RuntimeCommand;

/// <summary>
/// Parses the words after `dev VERB` (ours, in ip-link's spirit: devices of the backend) and `net VERB` (bpftool net's
/// grammar: ATTACH_TYPE := xdp | xdpgeneric | xdpdrv | xdpoffload).
/// </summary>
internal static class NetCommandLine
{
    public static RuntimeCommand ParseDev(string verb, IReadOnlyList<string> args)
    {
        var w = new WordReader(args);
        RuntimeCommand cmd;
        switch (verb)
        {
            case "add":
            {
                // dev add NAME [type veth peer NAME | type dummy]
                string name = w.Next("device name");
                string kind = "dummy";
                string? peer = null;
                while (!w.AtEnd)
                {
                    if (w.TryTake("type")) kind = w.Next("device type");
                    else if (w.TryTake("peer")) peer = w.Next("peer name");
                    else throw new CliUsageException($"unexpected argument '{w.Peek}'");
                }
                if (kind == "veth" && peer is null)
                    throw new CliUsageException("'type veth' needs 'peer NAME'");
                if (kind != "veth" && peer is not null)
                    throw new CliUsageException($"'peer' is only for veth, not {kind}");
                cmd = new DevAdd(name, kind, peer);
                break;
            }
            case "del":
            case "delete":
                cmd = new DevDelete(w.Next("device name"));
                break;
            case "show":
            case "list":
                cmd = new DevShow(w.AtEnd ? null : w.Next("device name"));
                break;
            case "inject":
            {
                // dev inject NAME data_in FILE [count N] [queue Q]
                string name = w.Next("device name");
                w.Expect("data_in");
                string file = w.Next("data_in file");
                int count = 1;
                uint queue = 0;
                while (!w.AtEnd)
                {
                    if (w.TryTake("count")) count = (int)WordReader.ParseUInt(w.Next("count"), "count");
                    else if (w.TryTake("queue")) queue = WordReader.ParseUInt(w.Next("queue"), "queue");
                    else throw new CliUsageException($"unexpected argument '{w.Peek}'");
                }
                if (count is < 1 or > 1_000_000)
                    throw new CliUsageException($"count {count}: 1..1000000");
                cmd = new DevInject(name, file, count, queue);
                break;
            }
            default:
                throw new CliUsageException($"unknown dev command '{verb}'");
        }
        if (!w.AtEnd)
            throw new CliUsageException($"unexpected argument '{w.Peek}'");
        return cmd;
    }

    public static RuntimeCommand ParseNet(string verb, IReadOnlyList<string> args)
    {
        var w = new WordReader(args);
        RuntimeCommand cmd;
        switch (verb)
        {
            case "attach":
            {
                // net attach ATTACH_TYPE PROG dev DEVNAME [overwrite]
                string type = AttachType(w.Next("attach type"));
                var prog = ObjectRef.Parse(w, allowName: true);
                w.Expect("dev");
                string dev = w.Next("device name");
                bool overwrite = w.TryTake("overwrite");
                cmd = new NetAttach(type, prog, dev, overwrite);
                break;
            }
            case "detach":
            {
                string type = AttachType(w.Next("attach type"));
                w.Expect("dev");
                cmd = new NetDetach(type, w.Next("device name"));
                break;
            }
            case "show":
            case "list":
                cmd = new NetShow(w.TryTake("dev") ? w.Next("device name") : null);
                break;
            default:
                throw new CliUsageException($"unknown net command '{verb}'");
        }
        if (!w.AtEnd)
            throw new CliUsageException($"unexpected argument '{w.Peek}'");
        return cmd;
    }

    private static string AttachType(string word) => word is "xdp" or "xdpgeneric" or "xdpdrv" or "xdpoffload"
        ? word
        : throw new CliUsageException($"invalid attach type '{word}' (xdp | xdpgeneric | xdpdrv | xdpoffload)");

    /// <summary>The mode bits bpftool sets for an attach type.</summary>
    public static XdpFlags ModeOf(string type) => type switch
    {
        "xdpgeneric" => XdpFlags.SkbMode,
        "xdpdrv" => XdpFlags.DrvMode,
        "xdpoffload" => XdpFlags.HwMode,
        _ => XdpFlags.None,
    };
}
