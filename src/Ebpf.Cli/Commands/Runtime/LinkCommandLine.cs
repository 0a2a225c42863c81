namespace Ebpf.Cli.Commands.Runtime;

internal sealed record LinkCreate(ObjectRef Program, ObjectRef? Target, string? Function, ulong Cookie, string? PinPath) : RuntimeCommand;
internal sealed record LinkShow(ObjectRef? Link) : RuntimeCommand;
internal sealed record LinkPin(ObjectRef Link, string Path) : RuntimeCommand;
internal sealed record LinkDetach(ObjectRef Link) : RuntimeCommand;
internal sealed record LinkUpdate(ObjectRef Link, ObjectRef Program, ObjectRef? Old) : RuntimeCommand;
internal sealed record FsList(string Directory) : RuntimeCommand;
internal sealed record FsMkdir(string Directory) : RuntimeCommand;
internal sealed record FsRemove(string Path) : RuntimeCommand;
internal sealed record FsCat(string Path) : RuntimeCommand;
internal sealed record IterPin(string Object, string Path, ObjectRef? Map) : RuntimeCommand;

/// <summary>
/// Parses the words after `link VERB` and `fs VERB`. bpftool has `link show|pin|detach`; `link create`, `link update`
/// and the `fs` verbs are ours, in its style (PROG is `id N | pinned PATH | name NAME`, LINK is `id N | pinned PATH`).
/// </summary>
internal static class LinkCommandLine
{
    public static RuntimeCommand ParseLink(string verb, IReadOnlyList<string> args)
    {
        var w = new WordReader(args);
        RuntimeCommand cmd;
        switch (verb)
        {
            case "create":
            {
                // link create PROG [target PROG func NAME] [cookie N] [pin PATH]
                var program = ObjectRef.Parse(w, allowName: true);
                ObjectRef? target = null;
                string? function = null, pin = null;
                ulong cookie = 0;
                while (!w.AtEnd)
                {
                    if (w.TryTake("target")) target = ObjectRef.Parse(w, allowName: true);
                    else if (w.TryTake("func")) function = w.Next("function name");
                    else if (w.TryTake("cookie")) cookie = ParseULong(w.Next("cookie"));
                    else if (w.TryTake("pin")) pin = w.Next("pin path");
                    else throw new CliUsageException($"unexpected argument '{w.Peek}'");
                }
                if (target is not null && function is null)
                    throw new CliUsageException("'target PROG' needs 'func NAME'");
                if (function is not null && target is null)
                    throw new CliUsageException("'func NAME' needs 'target PROG'");
                cmd = new LinkCreate(program, target, function, cookie, pin);
                break;
            }
            case "show":
            case "list":
                cmd = new LinkShow(w.AtEnd ? null : ParseLinkRef(w));
                break;
            case "pin":
                cmd = new LinkPin(ParseLinkRef(w), w.Next("path"));
                break;
            case "detach":
                cmd = new LinkDetach(ParseLinkRef(w));
                break;
            case "update":
            {
                // link update LINK prog PROG [old PROG]
                var link = ParseLinkRef(w);
                w.Expect("prog");
                var program = ObjectRef.Parse(w, allowName: true);
                ObjectRef? old = w.TryTake("old") ? ObjectRef.Parse(w, allowName: true) : null;
                cmd = new LinkUpdate(link, program, old);
                break;
            }
            default:
                throw new CliUsageException($"unknown command 'link {verb}'");
        }
        w.EnsureEnd();
        return cmd;
    }

    public static RuntimeCommand ParseFs(string verb, IReadOnlyList<string> args)
    {
        var w = new WordReader(args);
        RuntimeCommand cmd = verb switch
        {
            "ls" => new FsList(w.AtEnd ? "/sys/fs/bpf" : w.Next("directory")),
            "mkdir" => new FsMkdir(w.Next("directory")),
            "rm" => new FsRemove(w.Next("path")),
            "cat" => new FsCat(w.Next("path")),
            _ => throw new CliUsageException($"unknown command 'fs {verb}'"),
        };
        w.EnsureEnd();
        return cmd;
    }

    /// <summary>bpftool's `iter pin OBJ PATH [map MAP]` (MAP := id N | pinned PATH).</summary>
    public static RuntimeCommand ParseIter(string verb, IReadOnlyList<string> args)
    {
        if (verb != "pin")
            throw new CliUsageException($"unknown command 'iter {verb}'");
        var w = new WordReader(args);
        string obj = w.Next("object file"), path = w.Next("path");
        ObjectRef? map = null;
        if (w.TryTake("map"))
        {
            if (w.Peek is not ("id" or "pinned"))
                throw new CliUsageException($"expected 'id' or 'pinned', got: '{w.Peek}'?");
            map = ObjectRef.Parse(w, allowName: false);
        }
        w.EnsureEnd();
        return new IterPin(obj, path, map);
    }

    /// <summary>LINK := id N | pinned PATH (bpftool's link_parse_fd).</summary>
    private static ObjectRef ParseLinkRef(WordReader w)
    {
        if (w.Peek is not ("id" or "pinned"))
            throw new CliUsageException($"expected 'id' or 'pinned', got: '{w.Peek}'?");
        return ObjectRef.Parse(w, allowName: false);
    }

    private static ulong ParseULong(string text) =>
        WordReader.TryParseC(text, out ulong v) ? v : throw new CliUsageException($"can't parse {text} as a cookie");
}
