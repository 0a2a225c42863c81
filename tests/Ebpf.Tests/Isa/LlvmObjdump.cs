using System.Diagnostics;
using System.Text.RegularExpressions;

namespace Ebpf.Tests.Isa;

/// <summary>Runs llvm-objdump-14 (when installed) and parses its per-instruction text by section.</summary>
public static partial class LlvmObjdump
{
    public const string Tool = "llvm-objdump-14";

    public static string RequireTool()
    {
        foreach (string dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':'))
        {
            string candidate = Path.Combine(dir, Tool);
            if (File.Exists(candidate))
                return candidate;
        }
        Requirement.Missing(Requirement.Llvm, $"{Tool} is not installed");
        return "";
    }

    /// <summary>Section name → (slot index → instruction text), in file order; zero runs ("...") are absent.</summary>
    public static List<(string Section, Dictionary<int, string> Lines)> Disassemble(string tool, string objectPath)
    {
        var psi = new ProcessStartInfo(tool, ["-d", "--triple=bpfel", "--no-show-raw-insn", objectPath])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        using var process = Process.Start(psi)!;
        var stderr = process.StandardError.ReadToEndAsync();
        string output = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        Assert.True(process.ExitCode == 0, $"{tool} {objectPath} failed: {stderr.Result}");
        var result = new List<(string, Dictionary<int, string>)>();
        Dictionary<int, string>? current = null;
        foreach (string line in output.Split('\n'))
        {
            var section = SectionLine().Match(line);
            if (section.Success)
            {
                current = [];
                result.Add((section.Groups[1].Value, current));
                continue;
            }
            var insn = InstructionLine().Match(line);
            if (insn.Success && current is not null)
                current[int.Parse(insn.Groups[1].Value)] = insn.Groups[2].Value;
        }
        return result;
    }

    [GeneratedRegex(@"^Disassembly of section (.*):$")]
    private static partial Regex SectionLine();

    [GeneratedRegex(@"^\s*(\d+):\t(.*)$")]
    private static partial Regex InstructionLine();
}
