using System.Diagnostics;
using System.Text.RegularExpressions;
using Ebpf.Abi;
using Ebpf.Cli.Commands.Loading;
using Ebpf.Elf;
using Ebpf.Linux;
using Ebpf.Collections;
using Ebpf.Loading;

namespace Ebpf.Cli.Commands.Verification;

/// <summary>
/// <c>ebpf --backend linux prog verify</c>: each program is loaded into the running kernel on its own (with
/// the object's maps and BTF, as libbpf would), so the row reports the kernel verifier's verdict, its
/// "processed N insns" and peak states from the log, and its first error line.
/// </summary>
internal sealed partial class ProgVerifyVerb
{
    private static readonly Regex ProcessedInsns = new(@"processed (\d+) insns", RegexOptions.Compiled);
    private static readonly Regex PeakStates = new(@"peak_states (\d+)", RegexOptions.Compiled);

    private static Row VerifyInKernel(string path, ObjectSpec obj, ProgramSpec prog, ProgramType? forced, int level)
    {
        string file = System.IO.Path.GetFileName(path);
        if (forced is { } f)
            prog.Type = f;
        string type = KernelNames.Of(prog.Type);
        var options = new ObjectLoadOptions
        {
            Elf = ElfFile.Open(path),
            ProgramFilter = p => ReferenceEquals(p, prog),
            // Level 1 at least: on success the kernel's log is exactly the stats line we report.
            LogLevel = level >= 2 ? 2 : 1,
        };
        var clock = Stopwatch.StartNew();
        try
        {
            using var collection = LinuxKernel.Load(obj, options);
            string log = collection.Programs.TryGetValue(prog.Name, out var loaded) ? loaded.VerifierLog ?? "" : "";
            return new Row(file, prog.Name, prog.SectionName, type, "accepted", Count(ProcessedInsns, log), Count(PeakStates, log),
                (long)clock.Elapsed.TotalMicroseconds, null, log);
        }
        catch (BpfException e)
        {
            string log = e.Log ?? "";
            return new Row(file, prog.Name, prog.SectionName, type, "rejected", Count(ProcessedInsns, log), Count(PeakStates, log),
                (long)clock.Elapsed.TotalMicroseconds, FirstError(log) ?? e.Message, log);
        }
    }

    private static int Count(Regex pattern, string log) =>
        pattern.Match(log) is { Success: true } m && int.TryParse(m.Groups[1].Value, out int n) ? n : 0;

    /// <summary>The kernel prints the error as the last line before the stats line (veristat takes the same line).</summary>
    private static string? FirstError(string log)
    {
        var lines = log.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        int stats = Array.FindIndex(lines, l => l.StartsWith("processed ", StringComparison.Ordinal));
        int end = stats < 0 ? lines.Length : stats;
        return end > 0 ? lines[end - 1] : null;
    }
}
