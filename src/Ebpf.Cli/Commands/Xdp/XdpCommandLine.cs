using Ebpf.Collections;
using Ebpf.Xdp;

namespace Ebpf.Cli.Commands.Xdp;

internal abstract record XdpCommand(string BpfFs);
internal sealed record XdpLoad(string Device, IReadOnlyList<string> Objects, XdpFlags Mode, uint? Priority, XdpChainActions? Actions, string? Program, string? Section, string BpfFs) : XdpCommand(BpfFs);
internal sealed record XdpUnload(string Device, uint? Id, bool All, string BpfFs) : XdpCommand(BpfFs);
internal sealed record XdpStatus(string? Device, string BpfFs) : XdpCommand(BpfFs);

/// <summary>xdp-loader's grammar: positional DEV (and OBJ...), long and short options, <c>--opt=value</c> too.</summary>
internal static class XdpCommandLine
{
    public static XdpCommand Parse(string verb, IReadOnlyList<string> args)
    {
        var positional = new List<string>();
        var options = new Dictionary<string, string?>(StringComparer.Ordinal);
        for (int i = 0; i < args.Count; i++)
        {
            string a = args[i];
            if (!a.StartsWith('-') || a == "-")
            {
                positional.Add(a);
                continue;
            }
            string name = a, value = "";
            int eq = a.IndexOf('=');
            if (eq > 0)
                (name, value) = (a[..eq], a[(eq + 1)..]);
            name = name switch
            {
                "-m" => "--mode", "-P" => "--prio", "-A" => "--actions", "-n" or "--prog-name" => "--program", "-s" => "--section",
                "-i" => "--id", "-a" => "--all", _ => name,
            };
            bool flag = name == "--all";
            if (!flag && eq < 0)
            {
                if (i + 1 >= args.Count)
                    throw new CliUsageException($"option {name} needs a value");
                value = args[++i];
            }
            if (name is not ("--mode" or "--prio" or "--actions" or "--program" or "--section" or "--id" or "--all" or "--bpffs"))
                throw new CliUsageException($"unknown option {a}");
            options[name] = flag ? null : value;
        }
        string bpffs = Get(options, "--bpffs") ?? Environment.GetEnvironmentVariable("LIBXDP_BPFFS") ?? "/sys/fs/bpf";
        switch (verb)
        {
            case "load":
                if (positional.Count < 2)
                    throw new CliUsageException("usage: xdp load DEV OBJ... [--mode skb|native] [--prio N] [--actions a,b] [--program NAME]");
                Only(options, verb, "--mode", "--prio", "--actions", "--program", "--section", "--bpffs");
                return new XdpLoad(positional[0], positional.Skip(1).ToList(), ParseMode(Get(options, "--mode") ?? "native"),
                    Get(options, "--prio") is { } p ? ParseUInt(p, "priority") : null,
                    Get(options, "--actions") is { } acts ? ParseActions(acts) : null,
                    Get(options, "--program"), Get(options, "--section"), bpffs);
            case "unload":
                if (positional.Count != 1)
                    throw new CliUsageException("usage: xdp unload DEV (--id N | --all)");
                Only(options, verb, "--id", "--all", "--bpffs");
                bool all = options.ContainsKey("--all");
                uint? id = Get(options, "--id") is { } s ? ParseUInt(s, "program id") : null;
                if (all == id.HasValue)
                    throw new CliUsageException("xdp unload: give exactly one of --id N and --all");
                return new XdpUnload(positional[0], id, all, bpffs);
            case "status":
                if (positional.Count > 1)
                    throw new CliUsageException("usage: xdp status [DEV]");
                Only(options, verb, "--bpffs");
                return new XdpStatus(positional.FirstOrDefault(), bpffs);
            default:
                throw new CliUsageException($"unknown xdp verb {verb}");
        }
    }

    private static string? Get(Dictionary<string, string?> options, string name) => options.TryGetValue(name, out var v) ? v : null;

    private static void Only(Dictionary<string, string?> options, string verb, params string[] allowed)
    {
        foreach (var k in options.Keys)
            if (!allowed.Contains(k))
                throw new CliUsageException($"xdp {verb} does not take {k}");
    }

    public static XdpFlags ParseMode(string mode) => mode switch
    {
        "native" or "drv" => XdpFlags.DrvMode,
        "skb" or "generic" => XdpFlags.SkbMode,
        "hw" => XdpFlags.HwMode,
        "unspecified" => XdpFlags.None,
        _ => throw new CliUsageException($"invalid mode '{mode}' (valid values: native,skb,hw,unspecified)"),
    };

    private static uint ParseUInt(string s, string what) =>
        uint.TryParse(s, out uint v) ? v : throw new CliUsageException($"invalid {what} '{s}'");

    private static XdpChainActions ParseActions(string list)
    {
        var actions = XdpChainActions.None;
        foreach (string name in list.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            if (!XdpActionNames.TryParse(name, out var a))
                throw new CliUsageException($"invalid action '{name}' (valid values: XDP_ABORTED,XDP_DROP,XDP_PASS,XDP_TX,XDP_REDIRECT)");
            actions |= (XdpChainActions)(1u << (int)a);
        }
        return actions;
    }
}
