using System.Text.Json;

namespace Ebpf.Tests.Execution;

public class ExecutionCliTests
{
    [Fact]
    public void Conformance_verb_runs_the_suite()
    {
        string dir = SharedData.Require("conformance/tests");
        var result = CliRunner.Run("conformance", dir);
        Assert.Equal(0, result.ExitCode);
        Assert.Equal("313 passed, 0 failed", result.Stdout.Trim());
    }

    [Fact]
    public void Conformance_verb_reports_failures_and_exits_non_zero()
    {
        string dir = Directory.CreateTempSubdirectory("ebpf-conf").FullName;
        try
        {
            File.WriteAllText(Path.Combine(dir, "good.data"), "-- asm\nmov %r0, 1\nexit\n-- result\n0x1\n");
            File.WriteAllText(Path.Combine(dir, "wrong.data"), "-- asm\nmov %r0, 1\nexit\n-- result\n0x2\n");
            File.WriteAllText(Path.Combine(dir, "fault.data"), "-- asm\nldxdw %r0, [%r1+0]\nexit\n-- result\n0x0\n");
            var text = CliRunner.Run("conformance", dir);
            Assert.Equal(1, text.ExitCode);
            Assert.Contains("FAIL wrong.data: expected 0x2, got 0x1", text.Stdout);
            Assert.Contains("FAIL fault.data", text.Stdout);
            Assert.EndsWith("1 passed, 2 failed", text.Stdout.Trim());

            var json = CliRunner.Run("conformance", dir, "--json");
            Assert.Equal(1, json.ExitCode);
            var lines = json.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
            Assert.Equal(3, lines.Length);
            var wrong = lines.Select(l => JsonDocument.Parse(l).RootElement).Single(e => e.GetProperty("file").GetString() == "wrong.data");
            Assert.False(wrong.GetProperty("passed").GetBoolean());
            Assert.Equal("0x2", wrong.GetProperty("expected").GetString());
            Assert.Equal("0x1", wrong.GetProperty("actual").GetString());
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void Run_verb_prints_r0_for_data_and_bin_files()
    {
        string dir = SharedData.Require("conformance/tests");
        var data = CliRunner.Run("run", Path.Combine(dir, "ldxb.data"), "--mem", "aabbcc");
        Assert.Equal(0, data.ExitCode);
        Assert.Equal("0xcc 204", data.Stdout.Trim());

        string bin = Path.GetTempFileName();
        try
        {
            File.WriteAllBytes(bin, Ebpf.Isa.InstructionStream.Write([Ebpf.Isa.Instruction.Mov64(0, 42), Ebpf.Isa.Instruction.Exit()]));
            var json = CliRunner.Run("run", bin, "--json");
            Assert.Equal(0, json.ExitCode);
            Assert.Equal(42UL, JsonDocument.Parse(json.Stdout).RootElement.GetProperty("r0").GetUInt64());

            File.WriteAllBytes(bin, new byte[12]);
            var truncated = CliRunner.Run("run", bin);
            Assert.Equal(1, truncated.ExitCode);
            Assert.Contains("not a multiple of 8", truncated.Stderr);
        }
        finally
        {
            File.Delete(bin);
        }
    }

    [Fact]
    public void Run_verb_reports_a_fault_on_stderr()
    {
        string dir = Directory.CreateTempSubdirectory("ebpf-run").FullName;
        try
        {
            string file = Path.Combine(dir, "loop.data");
            File.WriteAllText(file, "-- asm\nmov %r0, 0\nja -1\nexit\n-- result\n0x0\n");
            var result = CliRunner.Run("run", file, "--budget", "1000");
            Assert.Equal(1, result.ExitCode);
            Assert.Contains("budget of 1000", result.Stderr);
            Assert.Contains("(ETIME)", result.Stderr);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
