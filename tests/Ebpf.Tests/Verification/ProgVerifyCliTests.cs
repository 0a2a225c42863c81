using System.Text.Json;
using Ebpf.Verification;

namespace Ebpf.Tests.Verification;

/// <summary>`ebpf prog verify`: table, JSON rows, logs, --type and exit codes over the verifier fixtures.</summary>
public class ProgVerifyCliTests
{
    private static string Fixture(string name) => SharedData.Fixture($"verifier/{name}.bpf.o");

    [Fact]
    public void Table_lists_every_program_with_its_verdict_and_exit_code_1_when_any_is_rejected()
    {
        var r = CliRunner.Run("prog", "verify", Fixture("maps"), Fixture("xdp_parse"));
        Assert.Equal(1, r.ExitCode);
        var lines = r.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.StartsWith("File", lines[0]);
        Assert.Contains(lines, l => l.Contains("lookup_checked") && l.Contains("success"));
        Assert.Contains(lines, l => l.Contains("lookup_unchecked") && l.Contains("failure") && l.Contains("invalid mem access 'map_value_or_null'"));
        Assert.Contains(lines, l => l.Contains("xdp_parse_checked") && l.Contains("xdp") && l.Contains("success"));
        Assert.Contains("Verified 5 programs: 2 accepted, 3 rejected.", r.Stdout);
    }

    [Fact]
    public void Json_gives_one_object_per_program_with_the_documented_fields()
    {
        var r = CliRunner.Run("prog", "verify", Fixture("xdp_parse"), "--json");
        Assert.Equal(1, r.ExitCode);
        var rows = r.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonDocument.Parse(l).RootElement).ToList();
        Assert.Equal(2, rows.Count);
        var ok = rows.Single(e => e.GetProperty("program").GetString() == "xdp_parse_checked");
        Assert.Equal("xdp_parse.bpf.o", ok.GetProperty("file").GetString());
        Assert.Equal("xdp", ok.GetProperty("section").GetString());
        Assert.Equal("xdp", ok.GetProperty("type").GetString());
        Assert.Equal("accepted", ok.GetProperty("verdict").GetString());
        Assert.True(ok.GetProperty("processed_insns").GetInt32() > 0);
        Assert.True(ok.GetProperty("peak_states").GetInt32() >= 0);
        Assert.True(ok.GetProperty("time_us").GetInt64() >= 0);
        Assert.Equal(JsonValueKind.Null, ok.GetProperty("error").ValueKind);
        var bad = rows.Single(e => e.GetProperty("program").GetString() == "xdp_parse_unchecked");
        Assert.Equal("rejected", bad.GetProperty("verdict").GetString());
        Assert.StartsWith("invalid access to packet", bad.GetProperty("error").GetString());
    }

    [Fact]
    public void All_accepted_exits_0()
    {
        // loops.bpf.o has a leaking program; --type does not change that, so use the accepted-only check through JSON.
        var r = CliRunner.Run("prog", "verify", Fixture("loops"), "-j");
        var verdicts = r.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonDocument.Parse(l).RootElement.GetProperty("verdict").GetString()).ToList();
        Assert.Equal(verdicts.All(v => v == "accepted") ? 0 : 1, r.ExitCode);
        Assert.Contains("rejected", verdicts);
    }

    [Fact]
    public void Log_level_1_prints_the_failing_path_and_the_stats_line()
    {
        var r = CliRunner.Run("prog", "verify", Fixture("maps"), "--log-level", "1");
        Assert.Contains("=== maps.bpf.o lookup_unchecked (socket_filter) ===", r.Stdout);
        Assert.Contains("R0 invalid mem access 'map_value_or_null'", r.Stdout);
        Assert.Contains("processed ", r.Stdout);
        Assert.Contains($"(limit {Verifier.ComplexityLimit}) max_states_per_insn", r.Stdout);
    }

    [Fact]
    public void Type_override_changes_the_program_type()
    {
        // An XDP program verified as a socket filter reads xdp_md offsets as __sk_buff fields: the verdict or error changes.
        var r = CliRunner.Run("prog", "verify", Fixture("xdp_parse"), "--type", "socket_filter", "-j");
        var rows = r.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonDocument.Parse(l).RootElement).ToList();
        Assert.All(rows, e => Assert.Equal("socket_filter", e.GetProperty("type").GetString()));
        Assert.Equal(1, r.ExitCode);
    }

    [Fact]
    public void Prog_load_refuses_a_rejected_program_and_prints_the_verifier_log()
    {
        // xdp_parse_unchecked reads the packet past the 14 bytes it checked: the load fails like BPF_PROG_LOAD (EACCES).
        var r = CliRunner.Run("prog", "loadall", Fixture("xdp_parse"), "/sys/fs/bpf/vsound_refused");
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("load program xdp_parse_unchecked", r.Stderr);
        Assert.Contains("verifier rejected it at insn 6", r.Stderr);
        Assert.Contains("(EACCES)", r.Stderr);
        // The log (level 1: the failing path) follows the error line, ending with the verifier's stats.
        Assert.Contains("6: (71) r1 = *(u8 *)(r1 +23)", r.Stderr);
        Assert.Contains("R1 offset is outside of the packet", r.Stderr);
        Assert.Contains($"processed 7 insns (limit {Verifier.ComplexityLimit})", r.Stderr);
    }

    [Fact]
    public void Bad_inputs_fail_with_an_error()
    {
        var unknown = CliRunner.Run("prog", "verify", Fixture("maps"), "--type", "no_such_type");
        Assert.Equal(2, unknown.ExitCode);
        Assert.Contains("unknown program type 'no_such_type'", unknown.Stderr);
        var level = CliRunner.Run("prog", "verify", Fixture("maps"), "--log-level", "7");
        Assert.Equal(2, level.ExitCode);
        var missing = CliRunner.Run("prog", "verify", "/nonexistent/x.o");
        Assert.Equal(1, missing.ExitCode);
        Assert.Contains("Error:", missing.Stderr);
    }
}

/// <summary><c>--backend linux prog verify</c>: the kernel's verdicts in the same rows as ours.</summary>
public class ProgVerifyKernelBackendTests
{
    [Fact]
    public void Kernel_and_managed_verdicts_agree_on_the_verifier_fixtures()
    {
        if (!Ebpf.Linux.LinuxKernel.IsAvailable)
            Requirement.Missing(Requirement.Kernel, $"bpf(2) is not usable here: {Ebpf.Linux.LinuxKernel.UnavailableReason}");
        string obj = SharedData.Fixture("verifier/xdp_parse.bpf.o");
        var kernel = CliRunner.Run("--backend", "linux", "-j", "prog", "verify", obj);
        var managed = CliRunner.Run("-j", "prog", "verify", obj);
        var k = Rows(kernel.Stdout);
        var m = Rows(managed.Stdout);
        Assert.Equal(m.Keys.Order(), k.Keys.Order());
        Assert.Contains("accepted", k.Values.Select(r => r.Verdict));
        Assert.Contains("rejected", k.Values.Select(r => r.Verdict));
        foreach (var (name, row) in k)
        {
            Assert.Equal(m[name].Verdict, row.Verdict);
            if (row.Verdict == "accepted")
                Assert.True(row.Processed > 0, $"{name}: no processed count parsed from the kernel log");
            else
                Assert.False(string.IsNullOrEmpty(row.Error), $"{name}: no error line from the kernel log");
        }
        Assert.Equal(managed.ExitCode, kernel.ExitCode);
    }

    private static Dictionary<string, (string Verdict, int Processed, string? Error)> Rows(string stdout) =>
        stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(l => System.Text.Json.JsonDocument.Parse(l).RootElement)
            .ToDictionary(
                e => e.GetProperty("program").GetString()!,
                e => (e.GetProperty("verdict").GetString()!, e.GetProperty("processed_insns").GetInt32(),
                      e.GetProperty("error").ValueKind == System.Text.Json.JsonValueKind.String ? e.GetProperty("error").GetString() : null));
}
