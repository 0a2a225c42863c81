using System.CommandLine;
using Ebpf.Cli.Commands.Runtime;

namespace Ebpf.Cli.Commands.Xdp;

internal sealed class XdpGroup : ICliVerbGroup
{
    public string Name => "xdp";
    public string Description => "Several XDP programs on one device through libxdp's dispatcher (xdp-loader)";
}

/// <summary>
/// An xdp-loader verb: the words after <c>xdp VERB</c> are parsed by <see cref="XdpCommandLine"/> (xdp-loader's
/// options) and run by <see cref="XdpCommandRunner"/> on the selected backend (the batch's runtime inside
/// <c>batch file</c>, so devices, programs and pins persist for the file).
/// </summary>
internal abstract class XdpVerb(string verb, string description) : ICliVerb
{
    public IReadOnlyList<string> Path => ["xdp", verb];

    public Command Create()
    {
        var words = new Argument<string[]>("words") { Arity = ArgumentArity.ZeroOrMore, Description = "xdp-loader-style arguments" };
        var command = new Command(verb, description) { words };
        command.TreatUnmatchedTokensAsErrors = false;
        CliConsole.SetBody(command, pr =>
        {
            var args = (pr.GetValue(words) ?? []).Concat(pr.UnmatchedTokens).ToArray();
            var parsed = XdpCommandLine.Parse(verb, args);
            var backend = RuntimeBackends.Get(RuntimeBackends.Resolve(pr));
            return new XdpCommandRunner(backend, CliConsole.Out, CliConsole.IsJson(pr)).Execute(parsed);
        });
        return command;
    }
}

internal sealed class XdpLoadVerb() : XdpVerb("load", "Attach programs to a device through a dispatcher: DEV OBJ... [--mode skb|native|hw|unspecified] [--prio N] [--actions XDP_PASS,...] [--program NAME] [--section SEC] [--bpffs DIR]");
internal sealed class XdpUnloadVerb() : XdpVerb("unload", "Detach programs from a device: DEV (--id N | --all) [--bpffs DIR]");
internal sealed class XdpStatusVerb() : XdpVerb("status", "Show the XDP programs of every device, or of DEV (xdp-loader status layout): [DEV] [--bpffs DIR]");
