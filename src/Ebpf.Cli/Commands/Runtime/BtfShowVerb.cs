using System.CommandLine;
using System.Globalization;
using System.Text;
using Ebpf.Abi;
using Ebpf.Collections;

namespace Ebpf.Cli.Commands.Runtime;

/// <summary>One BTF object as `bpftool btf show` lists it: who uses it (programs/maps by btf_id).</summary>
internal sealed record BtfListing(uint Id, uint Size, string Name, bool IsKernel, IReadOnlyList<uint> ProgramIds, IReadOnlyList<uint> MapIds)
{
    /// <summary>"1: name [vmlinux]  size 5515236B" / "1943: name &lt;anon&gt;  size 1176B  prog_ids 1780  map_ids 5623".</summary>
    public string Text()
    {
        var sb = new StringBuilder();
        sb.Append(CultureInfo.InvariantCulture, $"{Id}: name {(IsKernel ? $"[{Name}]" : Name.Length > 0 ? Name : "<anon>")}  size {Size}B");
        if (ProgramIds.Count > 0) sb.Append("  prog_ids ").Append(string.Join(',', ProgramIds));
        if (MapIds.Count > 0) sb.Append("  map_ids ").Append(string.Join(',', MapIds));
        return sb.Append('\n').ToString();
    }

    public Dictionary<string, object> Json()
    {
        var d = new Dictionary<string, object> { ["id"] = Id, ["size"] = Size, ["prog_ids"] = ProgramIds, ["map_ids"] = MapIds, ["kernel"] = IsKernel };
        if (Name.Length > 0) d["name"] = Name;
        return d;
    }
}

/// <summary>`ebpf [--backend managed|linux] btf show [id N]`: the loaded BTF objects of the chosen backend.</summary>
internal sealed class BtfShowVerb : ICliVerb
{
    public IReadOnlyList<string> Path => ["btf", "show"];

    public Command Create()
    {
        var words = new Argument<string[]>("words") { Arity = ArgumentArity.ZeroOrMore, Description = "[id N]" };
        var command = new Command("show", "Show loaded BTF objects: [id N]") { words };
        command.Aliases.Add("list");
        CliConsole.SetBody(command, pr =>
        {
            var w = new WordReader(pr.GetValue(words) ?? []);
            uint? only = null;
            if (!w.AtEnd)
            {
                w.Expect("id");
                only = WordReader.ParseUInt(w.Next("id"), "id");
                if (!w.AtEnd)
                    throw new CliUsageException($"unexpected argument '{w.Peek}'");
            }
            var listings = List(RuntimeBackends.Get(RuntimeBackends.Resolve(pr)), only);
            if (CliConsole.IsJson(pr))
            {
                var items = listings.Select(l => l.Json()).ToList();
                RuntimeJson.Write<object>(CliConsole.Out, only is null ? items : items[0]);
            }
            else
                foreach (var l in listings)
                    CliConsole.Out.Write(l.Text());
            return 0;
        });
        return command;
    }

    /// <summary>The BTF objects with the programs and maps that use them (by btf_id), as bpftool builds its table.</summary>
    private static List<BtfListing> List(IBpfBackend backend, uint? only)
    {
        var programBtf = new List<(uint Id, uint Btf)>();
        var mapBtf = new List<(uint Id, uint Btf)>();
        foreach (var kind in new[] { ObjectKind.Program, ObjectKind.Map })
        {
            foreach (var id in backend.GetIds(kind))
            {
                try
                {
                    using var h = backend.Open(kind, id);
                    if (h is BpfProgram p)
                        programBtf.Add((id, p.GetInfo().BtfId));
                    else if (h is BpfMap m)
                        mapBtf.Add((id, m.GetInfo().BtfId));
                }
                catch (BpfException e) when (e.Errno == Errno.ENOENT) { } // gone meanwhile
            }
        }
        IEnumerable<uint> ids = only is { } one ? [one] : backend.GetIds(ObjectKind.Btf);
        var result = new List<BtfListing>();
        foreach (var id in ids)
        {
            BtfHandle btf;
            try { btf = (BtfHandle)backend.Open(ObjectKind.Btf, id); }
            catch (BpfException e) when (e.Errno == Errno.ENOENT && only is null) { continue; }
            using (btf)
            {
                var info = btf.GetInfo();
                // The kernel names only vmlinux/module BTF in bpf_btf_info; an object's BTF is anonymous there.
                result.Add(new BtfListing(info.Id, info.Size, info.IsKernel ? info.Name : "", info.IsKernel,
                    programBtf.Where(p => p.Btf == id).Select(p => p.Id).ToList(), mapBtf.Where(m => m.Btf == id).Select(m => m.Id).ToList()));
            }
        }
        return result;
    }
}
