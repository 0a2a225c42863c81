using System.CommandLine;
using Ebpf.Btf;
using Ebpf.CoRe;
using Ebpf.Loading;

namespace Ebpf.Cli.Commands.Btf;

/// <summary>
/// <c>ebpf btf core OBJ [--btf FILE]... [-j]</c>: every CO-RE relocation of every program of OBJ — kind, access,
/// the local spec — and what it resolves to against each target BTF (a value, "poison" when the target lacks the
/// field or enumerator, or the error). Without <c>--btf</c> the target is this machine's vmlinux; several
/// <c>--btf</c> files make a portability check: which relocations resolve on which kernels.
/// </summary>
internal sealed class BtfCoreVerb : ICliVerb
{
    private const string Vmlinux = "/sys/kernel/btf/vmlinux";

    public IReadOnlyList<string> Path => ["btf", "core"];

    public Command Create()
    {
        var obj = new Argument<string>("OBJ") { Description = "a clang-built BPF object with CO-RE relocations" };
        var btfs = new Option<string[]>("--btf")
        {
            Description = "Target BTF: raw BTF (a kernel's vmlinux) or an ELF object's .BTF; repeat for one column per target (default: /sys/kernel/btf/vmlinux)",
        };
        var cmd = new Command("core", "List an object's CO-RE relocations and what they resolve to against target BTFs") { obj, btfs };
        CliConsole.SetBody(cmd, pr =>
        {
            var spec = ObjectSpec.Load(pr.GetValue(obj)!);
            if (spec.Btf is null)
                throw new BpfException(Errno.EINVAL, $"{spec.Name}: no .BTF section, so no CO-RE relocations");
            var paths = pr.GetValue(btfs) is { Length: > 0 } given ? given : [DefaultTarget()];
            var targets = paths.Select(p => new CoreTargetBtf(System.IO.Path.GetFileName(p), BtfElf.LoadAny(p))).ToList();
            // One relocator per target: candidate lists are cached and pruned per object and target, as libbpf does per load.
            var relocators = targets.Select(t => new CoreRelocator(spec.Btf, CoreTargets.Custom(t.Name, t.Btf))).ToList();
            var rows = new List<Row>();
            foreach (var prog in spec.Programs)
                for (int i = 0; i < prog.CoreRelocations.Count; i++)
                {
                    var r = prog.CoreRelocations[i];
                    var relo = new CoreRelocation(r.InstructionIndex, r.TypeId, r.AccessString, r.Kind);
                    string local;
                    try
                    {
                        local = CoreSpec.Parse(spec.Btf, r.TypeId, r.AccessString, r.Kind).ToString();
                    }
                    catch (BpfException e)
                    {
                        local = $"<{CoreSpec.KindName(r.Kind)}> [{r.TypeId}] {r.AccessString}: {e.Message}";
                    }
                    rows.Add(new Row(prog.Name, i, r.InstructionIndex, CoreSpec.KindName(r.Kind), r.AccessString, local,
                        relocators.Select(rel => Outcome(rel, prog.Name, i, relo)).ToList()));
                }
            if (CliConsole.IsJson(pr))
            {
                CliConsole.WriteJson(rows.Select(r => new
                {
                    program = r.Program, relo = r.Index, insn = r.Insn, kind = r.Kind, access = r.Access, local = r.Local,
                    targets = targets.Select((t, i) => new { btf = t.Name, result = r.Results[i] }).ToList(),
                }).ToList());
                return 0;
            }
            WriteTable(rows, targets.Select(t => t.Name).ToList());
            return 0;
        });
        return cmd;
    }

    private sealed record Row(string Program, int Index, int Insn, string Kind, string Access, string Local, List<string> Results);

    private static string DefaultTarget() =>
        File.Exists(Vmlinux) ? Vmlinux : throw new BpfException(Errno.ENOENT, $"{Vmlinux} not found: name a target with --btf FILE");

    private static string Outcome(CoreRelocator relocator, string program, int index, CoreRelocation relo)
    {
        try
        {
            var res = relocator.Resolve(program, index, relo);
            return res.Poison ? "poison" : res.New.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }
        catch (BpfException e)
        {
            return $"error: {e.Message} ({e.Errno})";
        }
    }

    private static void WriteTable(List<Row> rows, List<string> targets)
    {
        var o = CliConsole.Out;
        string[] header = ["Program", "#", "Insn", "Kind", "Local", .. targets];
        var cells = rows.Select(r => (string[])[r.Program, r.Index.ToString(), r.Insn.ToString(), r.Kind, LocalText(r.Local), .. r.Results]).ToList();
        var widths = header.Select((h, i) => cells.Select(c => c[i].Length).Append(h.Length).Max()).ToArray();
        string Line(string[] c) => string.Join("  ", c.Select((s, i) => i == c.Length - 1 ? s : s.PadRight(widths[i]))).TrimEnd();
        o.WriteLine(Line(header));
        o.WriteLine(string.Join("  ", widths.Select(w => new string('-', w))));
        foreach (var c in cells)
            o.WriteLine(Line(c));
        o.WriteLine($"{rows.Count} relocations; " + string.Join("; ", targets.Select((t, i) =>
            $"{t}: {rows.Count(r => !r.Results[i].StartsWith("error", StringComparison.Ordinal) && r.Results[i] != "poison")} resolved, " +
            $"{rows.Count(r => r.Results[i] == "poison")} poisoned, {rows.Count(r => r.Results[i].StartsWith("error", StringComparison.Ordinal))} errors")));
    }

    /// <summary>The spec text without its "&lt;kind&gt; [id] " prefix, which the Kind column already shows.</summary>
    private static string LocalText(string local)
    {
        int bracket = local.IndexOf("] ", StringComparison.Ordinal);
        return local.StartsWith('<') && bracket > 0 ? local[(bracket + 2)..] : local;
    }
}
