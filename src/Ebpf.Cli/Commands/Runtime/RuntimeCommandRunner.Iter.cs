using Ebpf.Abi;
using Ebpf.Collections;
using Ebpf.Elf;
using Ebpf.Loading;

namespace Ebpf.Cli.Commands.Runtime;

// `iter pin` (bpftool's) and `fs cat`: an iterator link pinned in the bpffs, and reading it as `cat` reads the pinned
// file (each read a new iterator session). On the Linux backend `cat PATH` does the same.
internal sealed partial class RuntimeCommandRunner
{
    /// <summary>bpftool iter pin OBJ PATH [map MAP]: the object's first program, its iterator link, pinned at PATH.</summary>
    private int PinIterator(IterPin c)
    {
        if (!File.Exists(c.Object))
            throw new BpfException(Errno.ENOENT, $"failed to open object file {c.Object}: No such file or directory");
        var elf = ElfFile.Open(c.Object);
        var spec = ObjectSpec.Parse(elf.Image, c.Object);
        spec.Name = ObjectSpec.ObjectNameFromPath(c.Object);
        var first = spec.Programs.FirstOrDefault()
            ?? throw new BpfException(Errno.ENOENT, $"{c.Object}: object has no programs");
        backend.CheckPinTarget(c.Path, directory: false);
        using var map = c.Map is { } m ? OpenMap(m) : null;
        using var coll = BpfCollection.Load(backend, spec, new ObjectLoadOptions { Elf = elf, ProgramFilter = p => ReferenceEquals(p, first) });
        foreach (var warning in coll.Warnings)
            CliConsole.Error.WriteLine($"libbpf: {warning}");
        BpfLink link;
        try
        {
            link = coll.Programs[first.Name].AttachIterator(map);
        }
        catch (BpfException e)
        {
            throw new BpfException(e.Errno, $"attach_iter failed for program {first.Name}: {e.Message}", e);
        }
        using (link)
            link.Pin(c.Path);
        return JsonNull();
    }

    /// <summary>fs cat PATH: the pinned iterator's text (a new session), written as read.</summary>
    private int CatIterator(FsCat c)
    {
        using var it = backend.OpenPinnedIterator(c.Path);
        var buffer = new byte[4096];
        output.Flush();
        int n;
        var text = new System.Text.StringBuilder();
        while ((n = it.Read(buffer)) > 0)
            text.Append(System.Text.Encoding.Latin1.GetString(buffer, 0, n));
        output.Write(text.ToString());
        return 0;
    }
}
