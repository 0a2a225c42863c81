using System.Globalization;
using System.Text;
using Ebpf.Linux;
using Ebpf.VerifierSuite;

// Ebpf.VerifierSuite DIR [--cpu v3|v4] [--clang clang-19] [--files PATTERN[,PATTERN...]] [--only SUBSTRING[,SUBSTRING...]] [--report FILE] [--no-kernel] [--unpriv] [--show PROGRAM] [--verbose]
// Measures our verifier against the kernel's own verifier test programs (README.md: how to fetch them).
if (args.Length == 0 || args[0] is "-h" or "--help")
{
    Console.WriteLine("usage: Ebpf.VerifierSuite DIR [--cpu v4] [--clang clang-19] [--files PATTERN[,PATTERN...]] [--only SUBSTRING[,SUBSTRING...]] [--report FILE] [--no-kernel] [--unpriv] [--show PROGRAM] [--verbose]");
    return args.Length == 0 ? 2 : 0;
}
string dir = Path.GetFullPath(args[0]);
string cpu = Option("--cpu") ?? "v4";
string clang = Option("--clang") ?? "clang-19";
string? only = Option("--only");
// Which upstream files: verifier_*.c by default; e.g. --files "exceptions*.c,test_global_func*.c" for the annotated
// programs outside verifier_*.c (README.md: which ones and how to fetch them).
string[] patterns = (Option("--files") ?? "verifier_*.c").Split(',', StringSplitOptions.RemoveEmptyEntries);
string? reportPath = Option("--report");
bool unprivMode = args.Contains("--unpriv");
bool withKernel = !args.Contains("--no-kernel") && !unprivMode;
bool verbose = args.Contains("--verbose");
string? show = Option("--show");
if (!Directory.Exists(dir))
{
    Console.Error.WriteLine($"{dir}: no such directory (README.md says how to fetch the upstream programs)");
    return 2;
}
if (withKernel && !LinuxKernel.IsAvailable)
{
    Console.Error.WriteLine($"the live kernel is not usable ({LinuxKernel.UnavailableReason}); use --no-kernel");
    return 2;
}

var compiler = new Compiler(clang, cpu, dir, Path.Combine(dir, "build"));
var onlyParts = only?.Split(',', StringSplitOptions.RemoveEmptyEntries) ?? [];
// The --files patterns (verifier_*.c by default) filtered by --only, plus any other annotated upstream file --only
// names exactly (dummy_st_ops_fail, …).
var sources = patterns.SelectMany(pattern => Directory.GetFiles(dir, pattern))
    .Where(s => only is null || onlyParts.Any(part => Path.GetFileName(s).Contains(part, StringComparison.Ordinal)))
    .Concat(Directory.GetFiles(dir, "*.c").Where(s => onlyParts.Any(part => Path.GetFileNameWithoutExtension(s) == part)))
    .Distinct().Order(StringComparer.Ordinal).ToList();
var notCompiled = new List<string>();
var outcomes = new List<Outcome>();
var unprivOutcomes = new List<UnprivOutcome>();
var skipped = new List<string>();
var summaries = new StringBuilder();
foreach (string source in sources)
{
    string file = Path.GetFileNameWithoutExtension(source);
    var (obj, error) = compiler.Build(source);
    if (obj is null)
    {
        notCompiled.Add($"{file}: {error}");
        summaries.AppendLine(Summary.NotCompiled(file, unprivMode));
        continue;
    }
    int skippedBefore = skipped.Count;
    if (unprivMode)
    {
        var fileOutcomes = UnprivRunner.Run(obj, file, TimeSpan.FromSeconds(60), skipped).ToList();
        unprivOutcomes.AddRange(fileOutcomes);
        if (verbose)
            foreach (var o in fileOutcomes.Where(o => !o.AsExpected))
                Console.WriteLine($"{o.Id}: upstream expects {(o.Expect.ExpectFailure ? "rejection" : "success")}, ours {(o.Ours.Accepted ? "accepts" : "rejects: " + o.Ours.Error)}");
        if (show is not null)
            foreach (var o in fileOutcomes.Where(o => o.Program.Contains(show, StringComparison.Ordinal)))
                Console.WriteLine($"==== {o.Id}: our log\n{o.Ours.Log}\n====");
        summaries.AppendLine(Summary.Unpriv(file, fileOutcomes, skipped.Count - skippedBefore));
        continue;
    }
    var privOutcomes = new List<Outcome>();
    foreach (var outcome in Runner.Run(obj, file, withKernel, TimeSpan.FromSeconds(60), skipped))
    {
        privOutcomes.Add(outcome);
        if (verbose && !outcome.Agree && outcome.KernelVerified)
            Console.WriteLine($"{outcome.Id}: kernel {(outcome.Kernel.Accepted ? "accepts" : "rejects")}, ours {(outcome.Ours.Accepted ? "accepts" : "rejects: " + outcome.Ours.Error)}");
    }
    if (show is not null)
        foreach (var o in privOutcomes.Where(o => o.Program.Contains(show, StringComparison.Ordinal)))
            Console.WriteLine($"==== {o.Id}: kernel log\n{o.Kernel.Log}\n==== {o.Id}: our log\n{o.Ours.Log}\n====");
    outcomes.AddRange(privOutcomes);
    summaries.AppendLine(Summary.Priv(file, privOutcomes, skipped.Count - skippedBefore));
}

var report = unprivMode ? UnprivReport.Build(sources.Count, notCompiled, unprivOutcomes, skipped) : Report.Build(sources.Count, notCompiled, outcomes, skipped);
report += summaries.ToString() + (unprivMode ? Summary.Unpriv("TOTAL", unprivOutcomes, skipped.Count, sources.Count - notCompiled.Count) : Summary.Priv("TOTAL", outcomes, skipped.Count, sources.Count - notCompiled.Count)) + "\n";
Console.Write(report);
if (reportPath is not null)
    File.WriteAllText(reportPath, report + (unprivMode ? UnprivReport.Details(unprivOutcomes) : Report.Details(outcomes)), Encoding.UTF8);
return 0;

string? Option(string name)
{
    int i = Array.IndexOf(args, name);
    return i >= 0 && i + 1 < args.Length ? args[i + 1] : null;
}

namespace Ebpf.VerifierSuite
{
    /// <summary>The numbers: agreement, false accepts/rejects, the __msg match rate of our log and of the kernel's.</summary>
    internal static class Report
    {
        public static string Build(int files, IReadOnlyList<string> notCompiled, IReadOnlyList<Outcome> all, IReadOnlyList<string> skipped)
        {
            var s = new StringBuilder();
            var verified = all.Where(o => o.KernelVerified).ToList();
            var messageCases = verified.Where(o => o.MessageCase).ToList();
            int oursMatch = messageCases.Count(o => MessageMatcher.AllInOrder(o.Ours.Log, o.Expect.Messages));
            int kernelMatch = messageCases.Count(o => MessageMatcher.AllInOrder(o.Kernel.Log, o.Expect.Messages));
            int asExpected = verified.Count(o => o.Kernel.Accepted == o.Expect.ExpectSuccess);
            s.AppendLine(CultureInfo.InvariantCulture, $"files: {files}, compiled: {files - notCompiled.Count}, not compiled: {notCompiled.Count}");
            foreach (string n in notCompiled) s.AppendLine(CultureInfo.InvariantCulture, $"  not compiled: {n}");
            s.AppendLine(CultureInfo.InvariantCulture, $"programs (privileged tests): {all.Count}, the kernel verified: {verified.Count}, not loadable here: {all.Count - verified.Count}");
            s.AppendLine(CultureInfo.InvariantCulture, $"kernel verdict as upstream expects: {asExpected}/{verified.Count}");
            s.AppendLine(CultureInfo.InvariantCulture, $"agreement with the kernel: {verified.Count(o => o.Agree)}/{verified.Count} = {Percent(verified.Count(o => o.Agree), verified.Count)}");
            s.AppendLine(CultureInfo.InvariantCulture, $"false accepts (we accept, the kernel rejects): {verified.Count(o => o.FalseAccept)}");
            s.AppendLine(CultureInfo.InvariantCulture, $"false rejects (we reject, the kernel accepts): {verified.Count(o => o.FalseReject)}");
            s.AppendLine(CultureInfo.InvariantCulture, $"our verifier crashed or timed out: {all.Count(o => o.Ours.Crashed)}");
            s.AppendLine(CultureInfo.InvariantCulture, $"expected __msg found, on {messageCases.Count} kernel rejections: ours {oursMatch} = {Percent(oursMatch, messageCases.Count)}, the kernel's {kernelMatch} = {Percent(kernelMatch, messageCases.Count)}");
            s.AppendLine("false accepts:");
            foreach (var o in verified.Where(o => o.FalseAccept))
                s.AppendLine(CultureInfo.InvariantCulture, $"  {o.Id}: kernel: {LastLine(o.Kernel.Log)}");
            s.AppendLine("false rejects:");
            foreach (var o in verified.Where(o => o.FalseReject))
                s.AppendLine(CultureInfo.InvariantCulture, $"  {o.Id}: ours: {FirstLine(o.Ours.Error)}");
            s.AppendLine("kernel rejections whose expected __msg our log lacks:");
            foreach (var o in messageCases.Where(o => !o.Ours.Accepted && !MessageMatcher.AllInOrder(o.Ours.Log, o.Expect.Messages)))
                s.AppendLine(CultureInfo.InvariantCulture, $"  {o.Id}: expected \"{string.Join("\" … \"", o.Expect.Messages)}\", ours: {FirstLine(o.Ours.Error)}");
            s.AppendLine("crashes:");
            foreach (var o in all.Where(o => o.Ours.Crashed))
                s.AppendLine(CultureInfo.InvariantCulture, $"  {o.Id}: {FirstLine(o.Ours.Error)}");
            s.AppendLine(CultureInfo.InvariantCulture, $"skipped as test_loader would on this machine (not counted above): {skipped.Count}");
            foreach (string k in skipped)
                s.AppendLine(CultureInfo.InvariantCulture, $"  {k}");
            return s.ToString();
        }

        public static string Details(IReadOnlyList<Outcome> all)
        {
            var s = new StringBuilder("\nper program (kernel/ours; N = not loadable here):\n");
            foreach (var o in all)
                s.AppendLine(CultureInfo.InvariantCulture, $"{o.Id}\t{(o.KernelVerified ? o.Kernel.Accepted ? "A" : "R" : "N")}/{(o.Ours.Accepted ? "A" : "R")}\t{(o.KernelVerified ? "" : o.Kernel.Reason)}\t{FirstLine(o.Ours.Error)}\t{(o.Kernel.Accepted ? "" : LastLine(o.Kernel.Log))}");
            return s.ToString();
        }

        internal static string Percent(int n, int d) => d == 0 ? "n/a" : (100.0 * n / d).ToString("0.0", CultureInfo.InvariantCulture) + "%";

        internal static string FirstLine(string text) => text.Split('\n')[0];

        internal static string LastLine(string log)
        {
            var lines = log.Split('\n', StringSplitOptions.RemoveEmptyEntries);
            int end = Array.FindLastIndex(lines, l => l.StartsWith("processed ", StringComparison.Ordinal));
            if (end < 0) end = lines.Length;
            return end > 0 ? lines[end - 1] : "";
        }
    }
}
