using System.CommandLine;

namespace Ebpf.Cli.Commands.Runtime;

/// <summary>
/// A bpftool-style verb over the managed runtime: System.CommandLine hands over the remaining
/// words and <see cref="RuntimeCommandLine"/> parses them by hand.
/// </summary>
internal abstract class RuntimeVerb(string group, string verb, string description) : ICliVerb
{
    public IReadOnlyList<string> Path => [group, verb];

    public Command Create()
    {
        var words = new Argument<string[]>("words") { Arity = ArgumentArity.ZeroOrMore, Description = "bpftool-style arguments" };
        var command = new Command(verb, description) { words };
        command.TreatUnmatchedTokensAsErrors = false;
        CliConsole.SetBody(command, pr =>
        {
            var args = (pr.GetValue(words) ?? []).Concat(pr.UnmatchedTokens).ToArray();
            var parsed = group switch
            {
                "prog" => RuntimeCommandLine.ParseProg(verb, args),
                "link" => LinkCommandLine.ParseLink(verb, args),
                "fs" => LinkCommandLine.ParseFs(verb, args),
                "iter" => LinkCommandLine.ParseIter(verb, args),
                "dev" => NetCommandLine.ParseDev(verb, args),
                "net" => NetCommandLine.ParseNet(verb, args),
                _ => RuntimeCommandLine.ParseMap(verb, args),
            };
            return RuntimeBackends.Create(RuntimeBackends.Resolve(pr), CliConsole.Out, CliConsole.IsJson(pr)).Execute(parsed);
        });
        return command;
    }
}

internal sealed class ProgLoadVerb() : RuntimeVerb("prog", "load", "Load OBJ's first program and pin it at PATH: OBJ PATH [type TYPE] [target PROG [func NAME]] [kernel_btf FILE]");
internal sealed class ProgLoadAllVerb() : RuntimeVerb("prog", "loadall", "Load all programs of OBJ and pin them under PATH: OBJ PATH [type TYPE] [pinmaps MAP_DIR] [target PROG] [kernel_btf FILE]");
internal sealed class ProgShowVerb() : RuntimeVerb("prog", "show", "Show programs: [id N | pinned PATH | name NAME | tag TAG]");
internal sealed class ProgDumpVerb() : RuntimeVerb("prog", "dump", "Dump instructions: xlated (id N | pinned PATH)");
internal sealed class ProgRunVerb() : RuntimeVerb("prog", "run", "BPF_PROG_TEST_RUN: PROG data_in FILE [data_out FILE] [data_size_out L] [ctx_in FILE] [ctx_out FILE] [ctx_size_out M] [repeat N]");
internal sealed class ProgPinVerb() : RuntimeVerb("prog", "pin", "Pin a program: PROG PATH");
internal sealed class ProgTracelogVerb() : RuntimeVerb("prog", "tracelog", "Print (and consume) the runtime's bpf_trace_printk lines");
internal sealed class MapShowVerb() : RuntimeVerb("map", "show", "Show maps: [id N | pinned PATH | name NAME]");
internal sealed class MapCreateVerb() : RuntimeVerb("map", "create", "Create and pin a map: PATH type TYPE key KEY_SIZE value VALUE_SIZE entries MAX name NAME [flags FLAGS]");
internal sealed class MapDumpVerb() : RuntimeVerb("map", "dump", "Dump all entries: MAP");
internal sealed class MapLookupVerb() : RuntimeVerb("map", "lookup", "Look up a key: MAP key DATA");
internal sealed class MapUpdateVerb() : RuntimeVerb("map", "update", "Update: MAP key DATA value (DATA | id N | pinned PATH) [any|exist|noexist]");
internal sealed class MapDeleteVerb() : RuntimeVerb("map", "delete", "Delete a key: MAP key DATA");
internal sealed class MapGetNextVerb() : RuntimeVerb("map", "getnext", "Next key: MAP [key DATA]");
internal sealed class MapPinVerb() : RuntimeVerb("map", "pin", "Pin a map: MAP PATH");
internal sealed class MapFreezeVerb() : RuntimeVerb("map", "freeze", "Freeze a map: MAP");
internal sealed class MapPeekVerb() : RuntimeVerb("map", "peek", "Peek a queue/stack: MAP");
internal sealed class MapPushVerb() : RuntimeVerb("map", "push", "Push onto a queue/stack: MAP value DATA");
internal sealed class MapPopVerb() : RuntimeVerb("map", "pop", "Pop a queue/stack: MAP");
internal sealed class MapEnqueueVerb() : RuntimeVerb("map", "enqueue", "Enqueue: MAP value DATA");
internal sealed class MapDequeueVerb() : RuntimeVerb("map", "dequeue", "Dequeue: MAP");
internal sealed class LinkCreateVerb() : RuntimeVerb("link", "create", "Attach a tracing/extension program, print the link id: PROG [target PROG func NAME] [cookie N] [pin PATH] (unpinned links detach when the command ends)");
internal sealed class LinkShowVerb() : RuntimeVerb("link", "show", "Show links: [id N | pinned PATH]");
internal sealed class LinkPinVerb() : RuntimeVerb("link", "pin", "Pin a link: LINK PATH");
internal sealed class LinkDetachVerb() : RuntimeVerb("link", "detach", "BPF_LINK_DETACH: LINK");
internal sealed class LinkUpdateVerb() : RuntimeVerb("link", "update", "BPF_LINK_UPDATE: LINK prog PROG [old PROG]");
internal sealed class FsListVerb() : RuntimeVerb("fs", "ls", "List a bpffs directory: [DIR] (default /sys/fs/bpf)");
internal sealed class FsMkdirVerb() : RuntimeVerb("fs", "mkdir", "Create a bpffs directory (and its parents): DIR");
internal sealed class FsCatVerb() : RuntimeVerb("fs", "cat", "Read a pinned iterator (a new session each time), as cat on a bpffs file: PATH");
internal sealed class IterPinVerb() : RuntimeVerb("iter", "pin", "Load OBJ's first program (SEC(\"iter/TARGET\")), create its iterator link and pin it: OBJ PATH [map MAP]");
internal sealed class FsRemoveVerb() : RuntimeVerb("fs", "rm", "Unpin a pinned object or remove an empty directory: PATH");
internal sealed class DevAddVerb() : RuntimeVerb("dev", "add", "Create a device: NAME [type dummy | type veth peer NAME]");
internal sealed class DevDelVerb() : RuntimeVerb("dev", "del", "Remove a device (a veth with its peer): NAME");
internal sealed class DevShowVerb() : RuntimeVerb("dev", "show", "Show devices and their XDP programs: [NAME]");
internal sealed class DevInjectVerb() : RuntimeVerb("dev", "inject", "Managed runtime: frames arrive at a device: NAME data_in FILE [count N] [queue Q]; prints verdict counts and where frames went");
internal sealed class NetAttachVerb() : RuntimeVerb("net", "attach", "Attach an XDP program: ATTACH_TYPE PROG dev DEVNAME [overwrite]; ATTACH_TYPE := xdp | xdpgeneric | xdpdrv | xdpoffload");
internal sealed class NetDetachVerb() : RuntimeVerb("net", "detach", "Detach the XDP program: ATTACH_TYPE dev DEVNAME");
internal sealed class NetShowVerb() : RuntimeVerb("net", "show", "Show XDP attachments as bpftool net show: [dev DEVNAME]");
