using System.Text.Json;
using Ebpf.Abi.Profiles;
using Ebpf.Tests.Linux;

namespace Ebpf.Tests.Verification;

/// <summary>
/// `prog verify --kernel`: one kernel (the veristat table under that profile) or several (a portability matrix with
/// the reasons), and `feature probe --profile` writing a profile that `--kernel FILE` reads back.
/// </summary>
public class KernelProfileCliTests
{
    private static string MetaFixture => SharedData.Fixture("profiles/xdp_meta.bpf.o");

    private static string WriteProfileWithoutAdjustMeta(string dir)
    {
        var r = KernelProfile.Reference;
        var p = new KernelProfile
        {
            Name = "vendor", KernelRelease = "6.18-vendor", Features = r.Features, KfuncProbedTypes = r.KfuncProbedTypes, Kfuncs = r.Kfuncs,
            Helpers = System.Collections.Frozen.FrozenDictionary.ToFrozenDictionary(r.Helpers, h => h.Key,
                h => h.Key == Abi.ProgramType.Xdp ? System.Collections.Frozen.FrozenSet.ToFrozenSet(h.Value.Where(x => x != 54)) : h.Value),
        };
        string path = Path.Combine(dir, "vendor.json");
        File.WriteAllText(path, p.ToJson());
        return path;
    }

    [Fact]
    public void Several_kernels_print_one_verdict_column_each_and_the_reasons()
    {
        string dir = Directory.CreateTempSubdirectory("ebpf-kernels-").FullName;
        try
        {
            string vendor = WriteProfileWithoutAdjustMeta(dir);
            var r = CliRunner.Run("prog", "verify", MetaFixture, "--kernel", "6.18", "--kernel", vendor);
            Assert.Equal(1, r.ExitCode);
            var lines = r.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
            Assert.Equal(["File", "Program", "Type", "6.18", "vendor"], lines[0].Split(' ', StringSplitOptions.RemoveEmptyEntries));
            Assert.Equal(["xdp_meta.bpf.o", "reserve_meta", "xdp", "success", "failure"], lines[2].Split(' ', StringSplitOptions.RemoveEmptyEntries));
            Assert.Equal(["xdp_meta.bpf.o", "plain_pass", "xdp", "success", "success"], lines[3].Split(' ', StringSplitOptions.RemoveEmptyEntries));
            Assert.Contains("  xdp_meta.bpf.o reserve_meta on vendor: program of this type cannot use helper bpf_xdp_adjust_meta#54", lines);
            Assert.Contains("Done. Verified 2 programs on 2 kernels; 6.18: 2 accepted, 0 rejected; vendor: 1 accepted, 1 rejected.", lines);

            var j = CliRunner.Run("prog", "verify", MetaFixture, "--kernel", $"6.18,{vendor}", "-j");
            var rows = j.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonDocument.Parse(l).RootElement).ToList();
            var meta = rows.Single(e => e.GetProperty("program").GetString() == "reserve_meta").GetProperty("kernels");
            Assert.Equal("accepted", meta[0].GetProperty("verdict").GetString());
            Assert.Equal("rejected", meta[1].GetProperty("verdict").GetString());
            Assert.Equal("vendor", meta[1].GetProperty("kernel").GetString());
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void One_kernel_keeps_the_veristat_table_under_that_profile()
    {
        string dir = Directory.CreateTempSubdirectory("ebpf-kernels-").FullName;
        try
        {
            var r = CliRunner.Run("prog", "verify", MetaFixture, "--kernel", WriteProfileWithoutAdjustMeta(dir));
            Assert.Equal(1, r.ExitCode);
            Assert.Contains(r.Stdout.Split('\n'), l => l.Contains("reserve_meta") && l.Contains("failure") && l.Contains("bpf_xdp_adjust_meta#54"));
            Assert.Equal(0, CliRunner.Run("prog", "verify", MetaFixture, "--kernel", "6.18").ExitCode);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void A_bad_kernel_value_is_a_usage_error_not_a_crash()
    {
        var r = CliRunner.Run("prog", "verify", MetaFixture, "--kernel", "/nonexistent/profile.json");
        Assert.NotEqual(0, r.ExitCode);
        Assert.Contains("--kernel /nonexistent/profile.json", r.Stderr);
        Assert.DoesNotContain("   at ", r.Stderr);
    }

    [Fact]
    public void The_live_column_agrees_with_the_running_kernels_own_verifier()
    {
        KernelRequirement.Require();
        var ours = CliRunner.Run("prog", "verify", MetaFixture, "--kernel", "live", "-j");
        var kernel = CliRunner.Run("--backend", "linux", "prog", "verify", MetaFixture, "-j");
        static Dictionary<string, string> Verdicts(string stdout) => stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(l => JsonDocument.Parse(l).RootElement)
            .ToDictionary(e => e.GetProperty("program").GetString()!, e => e.GetProperty("verdict").GetString() + " " + e.GetProperty("error"));
        var o = Verdicts(ours.Stdout);
        var k = Verdicts(kernel.Stdout);
        Assert.Equal(k.Keys.Order(), o.Keys.Order());
        foreach (var (program, verdict) in k)
            Assert.True(verdict == o[program], $"{program}: kernel {verdict}, ours {o[program]}");
    }

    [Fact]
    public void Feature_probe_writes_a_profile_that_prog_verify_reads_back()
    {
        KernelRequirement.Require();
        var probe = CliRunner.Run("feature", "probe", "--profile");
        Assert.Equal(0, probe.ExitCode);
        string dir = Directory.CreateTempSubdirectory("ebpf-kernels-").FullName;
        try
        {
            string path = Path.Combine(dir, "this-kernel.json");
            File.WriteAllText(path, probe.Stdout);
            var profile = KernelProfile.Load(path);
            Assert.Equal("live", profile.Name);
            Assert.Equal(File.ReadAllText("/proc/sys/kernel/osrelease").Trim(), profile.KernelRelease);
            Assert.NotNull(profile.ProgramTypes);
            Assert.Contains(Abi.ProgramType.Xdp, (IReadOnlySet<Abi.ProgramType>)profile.ProgramTypes!);
            Assert.True(profile.HasHelperData(Abi.ProgramType.Xdp));
            var fromFile = CliRunner.Run("prog", "verify", MetaFixture, "--kernel", path, "-j");
            var live = CliRunner.Run("prog", "verify", MetaFixture, "--kernel", "live", "-j");
            static string Verdicts(string s) => string.Join(",", s.Split('\n', StringSplitOptions.RemoveEmptyEntries)
                .Select(l => JsonDocument.Parse(l).RootElement.GetProperty("verdict").GetString()));
            Assert.Equal(Verdicts(live.Stdout), Verdicts(fromFile.Stdout));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
