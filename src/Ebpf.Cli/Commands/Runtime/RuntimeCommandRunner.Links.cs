using Ebpf.Abi;
using Ebpf.Collections;

namespace Ebpf.Cli.Commands.Runtime;

// `link` and `fs`: links as handles (a command's handle is closed when it returns, so an unpinned link detaches
// then, as a closed fd would), and the bpffs namespace through the backend (the runtime's, or the real one).
internal sealed partial class RuntimeCommandRunner
{
    private BpfLink OpenLink(ObjectRef r) => r.Kind switch
    {
        "id" => (BpfLink)backend.Open(ObjectKind.Link, WordReader.ParseUInt(r.Value, "id")),
        "pinned" => OpenPinned<BpfLink>(r.Value, "link"),
        _ => throw new CliUsageException($"links cannot be named by {r.Kind}"),
    };

    /// <summary>`link create`: BPF_LINK_CREATE of a tracing/extension program; prints the link id.</summary>
    private int CreateLink(LinkCreate c)
    {
        if (c.PinPath is { } pin)
            backend.CheckPinTarget(pin, directory: false);
        using var program = OpenProgram(c.Program);
        using var target = c.Target is { } t ? OpenProgram(t) : null;
        BpfLink link;
        try
        {
            link = target is null ? program.AttachTracing(cookie: c.Cookie)
                : program.Type == ProgramType.Ext ? program.AttachExtension(target, c.Function!, c.Cookie)
                : program.AttachTracing(target, c.Function, c.Cookie);
        }
        catch (BpfException e)
        {
            throw new BpfException(e.Errno, $"failed to create link: {e.Message}", e) { Log = e.Log };
        }
        using (link)
        {
            if (c.PinPath is { } path)
                link.Pin(path);
            if (json)
                RuntimeJson.Write(output, new Dictionary<string, object> { ["id"] = link.Id });
            else
                output.WriteLine(link.Id.ToString(System.Globalization.CultureInfo.InvariantCulture));
        }
        return 0;
    }

    private int ShowLinks(LinkShow c)
    {
        var pins = backend.ListPins();
        var shown = new List<(LinkInfo Info, ProgramInfo? Program)>();
        void Add(BpfLink link)
        {
            var info = link.GetInfo();
            shown.Add((info, info.Type == LinkType.Tracing ? ProgramOf(info.ProgramId) : null));
        }
        if (c.Link is { } r)
        {
            using var link = OpenLink(r);
            Add(link);
        }
        else
        {
            foreach (var link in OpenAll<BpfLink>(ObjectKind.Link))
                using (link)
                    Add(link);
        }
        if (json)
        {
            var items = shown.Select(s => BpftoolFormat.LinkJson(s.Info, s.Program, PinsOf(pins, ObjectKind.Link, s.Info.Id))).ToList();
            RuntimeJson.Write<object>(output, c.Link is null ? items : items[0]);
        }
        else
            foreach (var s in shown)
                output.Write(BpftoolFormat.LinkText(s.Info, s.Program, PinsOf(pins, ObjectKind.Link, s.Info.Id)));
        return 0;
    }

    /// <summary>The attached program's info (bpftool reads prog_type from it); null once it is gone.</summary>
    private ProgramInfo? ProgramOf(uint id)
    {
        if (id == 0)
            return null;
        try
        {
            using var program = (BpfProgram)backend.Open(ObjectKind.Program, id);
            return program.GetInfo();
        }
        catch (BpfException e) when (e.Errno == Errno.ENOENT)
        {
            return null;
        }
    }

    private int PinLink(LinkPin c)
    {
        using var link = OpenLink(c.Link);
        backend.CheckPinTarget(c.Path, directory: false);
        link.Pin(c.Path);
        return JsonNull();
    }

    /// <summary>bpftool's JSON answer of a command with nothing to print (link pin, link detach): <c>null</c>.</summary>
    private int JsonNull()
    {
        if (json)
            output.WriteLine("null");
        return 0;
    }

    private int DetachLink(LinkDetach c)
    {
        using var link = OpenLink(c.Link);
        try
        {
            link.Detach();
        }
        catch (BpfException e)
        {
            throw new BpfException(e.Errno, $"failed link detach: {e.Message}", e);
        }
        return JsonNull();
    }

    private int UpdateLink(LinkUpdate c)
    {
        using var link = OpenLink(c.Link);
        using var program = OpenProgram(c.Program);
        using var old = c.Old is { } o ? OpenProgram(o) : null;
        try
        {
            link.Update(program, old);
        }
        catch (BpfException e)
        {
            throw new BpfException(e.Errno, $"failed link update: {e.Message}", e);
        }
        return JsonNull();
    }

    // ---- fs ----

    private int ListDirectory(FsList c)
    {
        var entries = backend.ListPinDirectory(c.Directory);
        if (json)
        {
            RuntimeJson.Write(output, entries.Select(e => new Dictionary<string, object>
            {
                ["name"] = Path.GetFileName(e.Path),
                ["type"] = e.IsDirectory ? "dir" : KindName(e.Kind),
                ["id"] = e.Id,
            }).ToList());
            return 0;
        }
        foreach (var e in entries)
            output.WriteLine(e.IsDirectory ? Path.GetFileName(e.Path) + "/" : $"{Path.GetFileName(e.Path)}  {KindName(e.Kind)} {e.Id}");
        return 0;
    }

    private static string KindName(ObjectKind? kind) => kind switch
    {
        ObjectKind.Program => "prog",
        ObjectKind.Map => "map",
        ObjectKind.Link => "link",
        _ => "btf",
    };

    private int MakeDirectory(FsMkdir c)
    {
        backend.CheckPinTarget(c.Directory, directory: true);
        backend.CreatePinDirectory(c.Directory);
        return JsonNull();
    }

    /// <summary>`fs rm`: unlink a pin (a link whose last reference it was detaches now) or rmdir an empty directory.</summary>
    private int Remove(FsRemove c)
    {
        try
        {
            backend.Unpin(c.Path);
        }
        catch (BpfException e) when (e.Errno == Errno.EISDIR)
        {
            backend.RemovePinDirectory(c.Path);
        }
        return JsonNull();
    }
}
