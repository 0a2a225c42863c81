using Ebpf.Abi.Profiles;
using Ebpf.Cli.Commands.Loading;

namespace Ebpf.Cli.Commands.Verification;

/// <summary>
/// <c>prog verify OBJ... --kernel A --kernel B …</c>: a portability matrix. Each program is verified once per kernel
/// profile; the table has one verdict column per kernel, and every rejection is listed under it with its reason, so
/// "would this load on kernel X" is answered with the why.
/// </summary>
internal sealed partial class ProgVerifyVerb
{
    private static int VerifyMatrix(string[] paths, IReadOnlyList<KernelProfile> profiles, Abi.ProgramType? forced, bool json)
    {
        var headings = profiles.Select(KernelProfileArgument.Heading).ToList();
        var rows = new List<(string File, string Program, string Type, Row[] PerKernel)>();
        bool failed = false;
        foreach (var (path, obj) in LoadObjects(paths, () => failed = true))
        {
            foreach (var prog in obj.Programs)
            {
                var perKernel = profiles.Select(p => VerifyOne(path, obj, prog, forced, 0, p)).ToArray();
                failed |= perKernel.Any(r => r.Verdict != "accepted");
                rows.Add((perKernel[0].File, prog.Name, perKernel[0].Type, perKernel));
            }
        }
        if (json)
        {
            foreach (var r in rows)
                CliConsole.WriteJson(new
                {
                    file = r.File, program = r.Program, type = r.Type,
                    kernels = headings.Select((h, i) => new { kernel = h, verdict = r.PerKernel[i].Verdict, error = r.PerKernel[i].Error,
                        processed_insns = r.PerKernel[i].ProcessedInsns }).ToList(),
                });
            return failed ? 1 : 0;
        }
        WriteMatrix(rows.Select(r => (r.File, r.Program, r.Type, r.PerKernel)).ToList(), headings);
        return failed ? 1 : 0;
    }

    private static void WriteMatrix(List<(string File, string Program, string Type, Row[] PerKernel)> rows, List<string> headings)
    {
        string[] header = ["File", "Program", "Type", .. headings];
        var cells = rows.Select(r => new[] { r.File, r.Program, r.Type }
            .Concat(r.PerKernel.Select(k => k.Verdict == "accepted" ? "success" : "failure")).ToArray()).ToList();
        var widths = header.Select((h, i) => cells.Select(c => c[i].Length).Append(h.Length).Max()).ToArray();
        string Line(string[] c) => string.Join("  ", c.Select((s, i) => s.PadRight(widths[i]))).TrimEnd();
        var o = CliConsole.Out;
        o.WriteLine(Line(header));
        o.WriteLine(string.Join("  ", widths.Select(w => new string('-', w))));
        foreach (var c in cells)
            o.WriteLine(Line(c));
        var reasons = rows.SelectMany(r => r.PerKernel.Select((k, i) => (r, k, i)))
            .Where(x => x.k.Verdict != "accepted").ToList();
        if (reasons.Count > 0)
        {
            o.WriteLine();
            o.WriteLine("Rejections:");
            foreach (var (r, k, i) in reasons)
                o.WriteLine($"  {r.File} {r.Program} on {headings[i]}: {k.Error}");
        }
        var totals = headings.Select((h, i) => $"{h}: {rows.Count(r => r.PerKernel[i].Verdict == "accepted")} accepted, " +
            $"{rows.Count(r => r.PerKernel[i].Verdict != "accepted")} rejected");
        o.WriteLine($"Done. Verified {rows.Count} programs on {headings.Count} kernels; {string.Join("; ", totals)}.");
    }
}
