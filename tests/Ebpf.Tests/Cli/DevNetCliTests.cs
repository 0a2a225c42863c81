using System.Text.Json;

namespace Ebpf.Tests.Cli;

/// <summary>
/// `dev` and `net` in one runtime (`batch file`): devices created, programs attached as bpftool net attaches them
/// (UPDATE_IF_NOEXIST unless `overwrite`), `net show` in bpftool v7.1's layout, frames injected with their verdicts.
/// </summary>
public sealed class DevNetCliTests
{
    private static string Fixture => SharedData.Fixture("xdp/devices/devices.bpf.o");

    /// <summary>Writes 128-byte frames whose first byte is the verdict verdict_by_byte returns; runs `ebpf [ARGS] batch file`.</summary>
    private static CliRunner.Result Batch(string script, params string[] options)
    {
        var work = Directory.CreateTempSubdirectory("ebpf-dev-cli-");
        try
        {
            foreach (var (name, verdict) in new[] { ("PASS", 2), ("TX", 3), ("DROP", 1) })
            {
                var frame = new byte[128];
                frame[0] = (byte)verdict;
                File.WriteAllBytes(Path.Combine(work.FullName, name + ".bin"), frame);
                script = script.Replace(name + "_FRAME", Path.Combine(work.FullName, name + ".bin"), StringComparison.Ordinal);
            }
            string file = Path.Combine(work.FullName, "script.txt");
            File.WriteAllText(file, script);
            return CliRunner.Run([.. options, "batch", "file", file]);
        }
        finally
        {
            work.Delete(recursive: true);
        }
    }

    private static string Script => $"""
        dev add veth0 type veth peer veth1
        prog loadall {Fixture} /sys/fs/bpf/x
        net attach xdp name verdict_by_byte dev veth0
        net attach xdpgeneric pinned /sys/fs/bpf/x/tag_pass dev veth1
        net show
        dev inject veth0 data_in TX_FRAME count 3
        dev inject veth0 data_in PASS_FRAME count 2 queue 0
        net detach xdpgeneric dev veth1
        net show dev veth1
        """;

    [Fact]
    public void Text_round_trip()
    {
        var r = Batch(Script);
        Assert.True(r.ExitCode == 0, r.Stderr);
        var lines = r.Stdout.Split('\n');
        Assert.Equal("2: veth0: veth peer 3 mtu 1500 rxq 1 addr 02:00:00:00:00:02", lines[0]);
        Assert.Equal("3: veth1: veth peer 2 mtu 1500 rxq 1 addr 02:00:00:00:00:03", lines[1]);
        int show = Array.IndexOf(lines, "xdp:");
        Assert.Matches(@"^veth0\(2\) driver id \d+$", lines[show + 1]);
        Assert.Matches(@"^veth1\(3\) generic id \d+$", lines[show + 2]);
        Assert.Equal(["", "tc:", "", "flow_dissector:", ""], lines[(show + 3)..(show + 8)]);
        // XDP_TX natively out of veth0 arrives at veth1, whose generic program cannot receive it natively: dropped.
        Assert.Contains("frames 3  aborted 0  drop 0  pass 0  tx 3  redirect 0", lines);
        Assert.Contains("frames 2  aborted 0  drop 0  pass 2  tx 0  redirect 0", lines);
        Assert.Contains("veth0 stack: 2", lines);
        Assert.Contains("dropped 3  exceptions 0", lines);
        // After the detach, veth1 has nothing.
        int lastShow = Array.LastIndexOf(lines, "xdp:");
        Assert.True(lastShow > show);
        Assert.Equal("", lines[lastShow + 1]);
    }

    [Fact]
    public void Json_round_trip()
    {
        var r = Batch(Script, "-j");
        Assert.True(r.ExitCode == 0, r.Stderr);
        var docs = r.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonDocument.Parse(l).RootElement).ToList();
        var show = docs.First(d => d.ValueKind == JsonValueKind.Array && d[0].TryGetProperty("tc", out _))[0];
        var xdp = show.GetProperty("xdp");
        Assert.Equal(2, xdp.GetArrayLength());
        Assert.Equal(("veth0", 2, "driver"), (xdp[0].GetProperty("devname").GetString(), xdp[0].GetProperty("ifindex").GetInt32(), xdp[0].GetProperty("mode").GetString()));
        Assert.Equal("generic", xdp[1].GetProperty("mode").GetString());
        Assert.Equal(0, show.GetProperty("tc").GetArrayLength());
        var injected = docs.Where(d => d.ValueKind == JsonValueKind.Object && d.TryGetProperty("verdicts", out _)).ToList();
        Assert.Equal(3, injected[0].GetProperty("verdicts").GetProperty("tx").GetInt32());
        Assert.Equal(2, injected[1].GetProperty("delivered").GetProperty("veth0 stack").GetInt64());
        var last = docs[^1][0].GetProperty("xdp");
        Assert.Equal(0, last.GetArrayLength());
    }

    [Fact]
    public void Errors_are_bpftools()
    {
        var r = Batch($"""
            dev add veth0 type veth peer veth1
            prog loadall {Fixture} /sys/fs/bpf/x
            net attach xdp name verdict_by_byte dev veth0
            net attach xdp name tag_pass dev veth0
            """);
        Assert.NotEqual(0, r.ExitCode);
        Assert.Contains("Error: interface xdp attach failed: veth0: XDP program already attached (EBUSY)", r.Stderr, StringComparison.Ordinal);

        r = Batch($"""
            prog loadall {Fixture} /sys/fs/bpf/x
            net attach xdp name tag_pass dev nope
            """);
        Assert.Contains("invalid devname nope", r.Stderr, StringComparison.Ordinal);

        r = Batch("dev add veth0 type veth\n");
        Assert.NotEqual(0, r.ExitCode);
        Assert.Contains("'type veth' needs 'peer NAME'", r.Stderr, StringComparison.Ordinal);

        r = Batch($"""
            dev add veth0 type veth peer veth1
            prog loadall {Fixture} /sys/fs/bpf/x
            net attach xdpdrv name tag_pass dev lo
            """);
        Assert.Contains("Underlying driver does not support XDP in native mode (EOPNOTSUPP)", r.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void Inject_is_managed_only()
    {
        if (!Ebpf.Linux.LinuxKernel.IsAvailable)
            Assert.Skip("bpf(2) is unavailable");
        var r = Batch("dev inject lo data_in PASS_FRAME\n", "--backend", "linux");
        Assert.NotEqual(0, r.ExitCode);
        Assert.Contains("EOPNOTSUPP", r.Stderr, StringComparison.Ordinal);
    }
}
