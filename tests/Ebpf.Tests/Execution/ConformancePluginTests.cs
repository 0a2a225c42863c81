using System.Diagnostics;
using Ebpf.Isa;

namespace Ebpf.Tests.Execution;

/// <summary>The bpf_conformance plugin executable, driven as the runner drives it: program hex on stdin, memory hex as argument.</summary>
public class ConformancePluginTests
{
    private static string PluginPath()
    {
        string configuration = AppContext.BaseDirectory.Contains($"{Path.DirectorySeparatorChar}Release{Path.DirectorySeparatorChar}") ? "Release" : "Debug";
        string path = Path.Combine(SharedData.RepoRoot, "src", "Ebpf.ConformancePlugin", "bin", configuration, "net10.0", "ebpf-conformance-plugin.dll");
        Assert.True(File.Exists(path), $"plugin not built: {path}");
        return path;
    }

    private static (int ExitCode, string Stdout, string Stderr) RunPlugin(string stdin, params string[] args)
    {
        var info = new ProcessStartInfo("dotnet") { RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true };
        info.ArgumentList.Add(PluginPath());
        foreach (var a in args)
            info.ArgumentList.Add(a);
        using var process = Process.Start(info)!;
        process.StandardInput.Write(stdin);
        process.StandardInput.Close();
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        Assert.True(process.WaitForExit(60_000), "plugin did not exit");
        return (process.ExitCode, stdout.Result, stderr.Result);
    }

    [Theory]
    [InlineData("ldxb.data")]
    [InlineData("call_local.data")]
    [InlineData("callx.data")]
    [InlineData("lock_cmpxchg.data")]
    [InlineData("stxdw.data")]
    public void Plugin_prints_r0_in_hex(string file)
    {
        string dir = SharedData.Require("conformance/tests");
        string path = Path.Combine(dir, file);
        if (!File.Exists(path))
            Requirement.Missing(Requirement.Shared, $"{file} not in this copy of the suite");
        var test = ConformanceDataFile.Load(path);
        string programHex = Convert.ToHexStringLower(InstructionStream.Write(test.Instructions));
        string memoryHex = Convert.ToHexStringLower(test.Memory);
        var (code, stdout, stderr) = RunPlugin(programHex, memoryHex);
        Assert.True(code == 0, $"exit {code}: {stderr}");
        Assert.Equal(test.ExpectedResult, Convert.ToUInt64(stdout.Trim(), 16));
    }

    [Fact]
    public void Plugin_reports_errors_on_stderr_with_non_zero_exit()
    {
        // ldxw r0, [r1+0] with no memory: a checked-mode fault.
        string programHex = Convert.ToHexStringLower(InstructionStream.Write([Instruction.LoadMem(AccessSize.Word, 0, 1, 0), Instruction.Exit()]));
        var (code, stdout, stderr) = RunPlugin(programHex);
        Assert.NotEqual(0, code);
        Assert.Equal("", stdout);
        Assert.Contains("outside any region", stderr);

        var (badCode, _, badErr) = RunPlugin("zz");
        Assert.NotEqual(0, badCode);
        Assert.Contains("not hexadecimal", badErr);
    }
}
