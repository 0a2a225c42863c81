using System.Text.Json;
using static Ebpf.Tests.Xdp.XdpFixtures;

namespace Ebpf.Tests.Xdp;

/// <summary>`ebpf xdp load|unload|status`: xdp-loader's grammar and status layout, in batch scripts and with -j.</summary>
public class XdpCliTests
{
    private static CliRunner.Result Batch(string script, bool json = false)
    {
        string file = System.IO.Path.GetTempFileName();
        try
        {
            File.WriteAllText(file, script);
            return json ? CliRunner.Run("-j", "batch", "file", file) : CliRunner.Run("batch", "file", file);
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Fact]
    public void Load_status_and_unload_in_one_batch_print_xdp_loaders_layout()
    {
        string stamp = FixturePath("stamp"), runConfig = FixturePath("run_config");
        var r = Batch($"""
            xdp load lo {stamp} {runConfig} --mode skb
            xdp load lo {runConfig} --program late_stop -m skb --prio 5 --actions XDP_PASS,XDP_DROP
            xdp status lo
            xdp unload lo --id 4
            xdp status lo
            xdp unload lo --all
            xdp status lo
            """);
        Assert.True(r.ExitCode == 0, r.Stderr);
        var blocks = r.Stdout.Split("CURRENT XDP PROGRAM STATUS:\n\n", StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(3, blocks.Length);
        string header = "Interface        Prio  Program name      Mode     ID   Tag               Chain actions\n"
            + new string('-', 86) + "\n";
        Assert.All(blocks, b => Assert.StartsWith(header, b));
        var rows = blocks[0][header.Length..].Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Matches(@"^lo {21}xdp_dispatcher    skb      6    [0-9a-f]{16} $", rows[0]);
        Assert.Matches(@"^ => {14}5 {6}late_stop {17}7    [0-9a-f]{16}  XDP_DROP,XDP_PASS$", rows[1]);
        Assert.Matches(@"^ => {14}10 {5}early_drop {16}4    [0-9a-f]{16}  XDP_DROP,XDP_PASS$", rows[2]);
        Assert.Matches(@"^ => {14}50 {5}stamp {21}5    [0-9a-f]{16}  XDP_PASS$", rows[3]);
        var after = blocks[1][header.Length..].Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(3, after.Length); // dispatcher + late_stop + stamp
        Assert.DoesNotContain(after, l => l.Contains("early_drop"));
        Assert.Contains("lo                     <No XDP program loaded!>", blocks[2]);
    }

    [Fact]
    public void Status_in_json_lists_the_dispatcher_and_its_slots()
    {
        var r = Batch($"""
            xdp load lo {FixturePath("stamp")} --mode skb --prio 7 --actions pass,tx
            xdp status lo
            """, json: true);
        Assert.True(r.ExitCode == 0, r.Stderr);
        var last = r.Stdout.Trim().Split('\n')[^1];
        var dev = JsonDocument.Parse(last).RootElement[0];
        Assert.Equal("lo", dev.GetProperty("ifname").GetString());
        Assert.Equal("skb", dev.GetProperty("mode").GetString());
        Assert.Equal(3, dev.GetProperty("dispatcher").GetProperty("version").GetInt32());
        var p = dev.GetProperty("programs")[0];
        Assert.Equal(("stamp", 7u, 0), (p.GetProperty("name").GetString(), p.GetProperty("priority").GetUInt32(), p.GetProperty("slot").GetInt32()));
        Assert.Equal(["XDP_PASS", "XDP_TX"], p.GetProperty("chain_call_actions").EnumerateArray().Select(a => a.GetString()));
    }

    [Theory]
    [InlineData("xdp load lo", "usage")]
    [InlineData("xdp load lo x.o --mode fast", "invalid mode")]
    [InlineData("xdp load lo x.o --actions XDP_MAYBE", "invalid action")]
    [InlineData("xdp unload lo", "exactly one")]
    [InlineData("xdp unload lo --id 1 --all", "exactly one")]
    [InlineData("xdp status lo --prio 3", "does not take")]
    public void Bad_command_lines_are_usage_errors(string line, string message)
    {
        var r = CliRunner.Run(line.Split(' '));
        Assert.NotEqual(0, r.ExitCode);
        Assert.Contains(message, r.Stderr);
    }

    [Fact]
    public void Errors_carry_the_errno()
    {
        var missing = CliRunner.Run("xdp", "load", "nodev", FixturePath("stamp"));
        Assert.NotEqual(0, missing.ExitCode);
        Assert.Contains("ENODEV", missing.Stderr);
        var native = CliRunner.Run("xdp", "load", "lo", FixturePath("stamp")); // lo has no native XDP
        Assert.NotEqual(0, native.ExitCode);
        Assert.Contains("EOPNOTSUPP", native.Stderr);
        var none = CliRunner.Run("xdp", "unload", "lo", "--all");
        Assert.Contains("ENOENT", none.Stderr);
    }
}
