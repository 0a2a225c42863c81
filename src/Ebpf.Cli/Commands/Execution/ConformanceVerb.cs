using System.CommandLine;
using Ebpf.Execution;

namespace Ebpf.Cli.Commands.Execution;

/// <summary>
/// <c>ebpf conformance DIR</c>: runs every bpf_conformance <c>.data</c> file of a folder in the checked
/// interpreter; prints a line per failure and ends with <c>N passed, M failed</c> (exit 1 if any failed).
/// With --json: one object per test (file, passed, expected, actual, error).
/// </summary>
internal sealed class ConformanceVerb : ICliVerb
{
    public IReadOnlyList<string> Path => ["conformance"];

    public Command Create()
    {
        var dir = new Argument<string>("DIR") { Description = "Folder of .data files (e.g. bpf_conformance/tests)" };
        var command = new Command("conformance", "Run a folder of bpf_conformance tests in the checked interpreter") { dir };
        CliConsole.SetBody(command, pr =>
        {
            var outcomes = ConformanceRunner.RunDirectory(pr.GetValue(dir)!);
            int failed = outcomes.Count(o => !o.Passed);
            if (CliConsole.IsJson(pr))
            {
                foreach (var o in outcomes)
                    CliConsole.WriteJson(new { file = o.File, passed = o.Passed, expected = o.Expected, actual = o.Actual, error = o.Error });
            }
            else
            {
                foreach (var o in outcomes.Where(o => !o.Passed))
                    CliConsole.Out.WriteLine($"FAIL {o.File}: expected {o.Expected ?? "?"}, got {o.Actual ?? "error"}{(o.Error is null ? "" : $" ({o.Error})")}");
                CliConsole.Out.WriteLine($"{outcomes.Count - failed} passed, {failed} failed");
            }
            return failed == 0 ? 0 : 1;
        });
        return command;
    }
}
