using System.Text.RegularExpressions;
using Ebpf.Linux;

namespace Ebpf.Tests.Cli;

/// <summary>
/// One bpftool-style script, two backends: `ebpf --backend managed batch file` and
/// `ebpf --backend linux batch file` must print the same text and JSON once the values only the
/// kernel decides (ids, load times, xlated/jited sizes, memlock, durations) are normalised.
/// </summary>
public sealed partial class BackendParityTests
{
    private static readonly byte[] IcmpFrame = Frame(protocol: 1, destPort: 0);
    private static readonly byte[] TelnetFrame = Frame(protocol: 6, destPort: 23);

    /// <summary>Ethernet + IPv4 (+ TCP header bytes) with the given protocol and destination port.</summary>
    private static byte[] Frame(byte protocol, ushort destPort)
    {
        var f = new byte[64];
        f[12] = 0x08; f[13] = 0x00;         // ETH_P_IP
        f[14] = 0x45;                        // IPv4, ihl 5
        f[23] = protocol;
        f[36] = (byte)(destPort >> 8); f[37] = (byte)destPort; // tcp->dest
        return f;
    }

    private static string Script(string dir, string obj, string icmp, string telnet) => $"""
        prog loadall {obj} {dir}/progs pinmaps {dir}/maps
        prog show pinned {dir}/progs/packet_stats
        prog run pinned {dir}/progs/packet_stats data_in {icmp} data_out -
        prog run pinned {dir}/progs/packet_stats data_in {telnet} repeat 3
        map show pinned {dir}/maps/proto_counts
        map dump pinned {dir}/maps/proto_counts
        map update pinned {dir}/maps/proto_counts key 17 0 0 0 value 5 0 0 0 0 0 0 0 noexist
        map lookup pinned {dir}/maps/proto_counts key 17 0 0 0
        map delete pinned {dir}/maps/proto_counts key 17 0 0 0
        map delete pinned {dir}/maps/proto_counts key 6 0 0 0
        map getnext pinned {dir}/maps/proto_counts
        map dump pinned {dir}/maps/proto_counts
        prog pin pinned {dir}/progs/packet_stats {dir}/again
        prog show pinned {dir}/again
        map create {dir}/queue type queue key 0 value 4 entries 4 name cli_queue
        map push pinned {dir}/queue value 7 0 0 0
        map push pinned {dir}/queue value 8 0 0 0
        map peek pinned {dir}/queue
        map pop pinned {dir}/queue
        map freeze pinned {dir}/maps/proto_counts
        map show pinned {dir}/maps/proto_counts
        prog dump xlated pinned {dir}/progs/packet_stats
        """;

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Same_script_prints_the_same_on_both_backends(bool json)
    {
        if (!LinuxKernel.IsAvailable)
            Requirement.Missing(Requirement.Kernel, $"bpf(2) unavailable: {LinuxKernel.UnavailableReason}");
        using var bpffs = MountOrSkip();
        var work = Directory.CreateTempSubdirectory("ebpf-cli-parity-");
        try
        {
            string icmp = Path.Combine(work.FullName, "icmp.bin"), telnet = Path.Combine(work.FullName, "telnet.bin");
            File.WriteAllBytes(icmp, IcmpFrame);
            File.WriteAllBytes(telnet, TelnetFrame);
            string obj = Path.Combine(SharedDataRoot(), "examples", "packet_stats.bpf.o");
            // The managed runtime's pin table is a private bpffs at /sys/fs/bpf; the kernel run uses
            // a throwaway bpffs mount. Paths are normalised to DIR before comparing.
            const string managedDir = "/sys/fs/bpf/cli-parity";
            string managedScript = Path.Combine(work.FullName, "managed.txt"), linuxScript = Path.Combine(work.FullName, "linux.txt");
            File.WriteAllText(managedScript, Script(managedDir, obj, icmp, telnet));
            File.WriteAllText(linuxScript, Script(bpffs.Path, obj, icmp, telnet));

            string[] Args(string backend, string script) => json ? ["--backend", backend, "-j", "batch", "file", script] : ["--backend", backend, "batch", "file", script];
            var managed = CliRunner.Run(Args("managed", managedScript));
            Assert.True(managed.ExitCode == 0, managed.Stderr);
            var linux = CliRunner.Run(Args("linux", linuxScript));
            Assert.True(linux.ExitCode == 0, linux.Stderr);

            // The kernel really holds the pins the script made; the managed run touched no bpffs file.
            Assert.True(File.Exists(bpffs["progs/packet_stats"]));
            Assert.True(File.Exists(bpffs["maps/proto_counts"]));

            string expectedManaged = Normalise(managed.Stdout.Replace(managedDir, "DIR", StringComparison.Ordinal), json);
            string actualLinux = Normalise(linux.Stdout.Replace(bpffs.Path, "DIR", StringComparison.Ordinal), json);
            Assert.Equal(expectedManaged, actualLinux);
            // Real content, not two empty outputs: the TCP counter the program bumped on each of the 3 repeats.
            Assert.Contains(json ? "\"0x06\"" : "\"key\": 6,\n        \"value\": 3\n", actualLinux); // BTF-formatted, as bpftool
            Assert.Contains(json ? "\"retval\":1" : "Return value: 1", actualLinux); // XDP_DROP for telnet
        }
        finally
        {
            work.Delete(recursive: true);
        }
    }

    [Fact]
    public void Linux_backend_reports_kernel_errors_like_the_managed_one()
    {
        if (!LinuxKernel.IsAvailable)
            Requirement.Missing(Requirement.Kernel, $"bpf(2) unavailable: {LinuxKernel.UnavailableReason}");
        using var bpffs = MountOrSkip();
        string obj = SharedData.Fixture("runtime/xdp_count.bpf.o");
        Assert.Equal(0, CliRunner.Run("--backend", "linux", "prog", "load", obj, bpffs["p"]).ExitCode);

        var wrongKind = CliRunner.Run("--backend", "linux", "map", "show", "pinned", bpffs["p"]);
        Assert.Equal(1, wrongKind.ExitCode);
        Assert.Contains("not a map", wrongKind.Stderr);

        var missing = CliRunner.Run("--backend", "linux", "prog", "show", "pinned", bpffs["nothing"]);
        Assert.Equal(1, missing.ExitCode);
        Assert.Contains("ENOENT", missing.Stderr);

        var badBackend = CliRunner.Run("--backend", "solaris", "prog", "show");
        Assert.NotEqual(0, badBackend.ExitCode);
    }

    [Fact]
    public void Btf_show_names_the_users_of_each_btf_on_both_backends()
    {
        if (!LinuxKernel.IsAvailable)
            Requirement.Missing(Requirement.Kernel, $"bpf(2) unavailable: {LinuxKernel.UnavailableReason}");
        using var bpffs = MountOrSkip();
        string obj = SharedData.Fixture("runtime/xdp_count.bpf.o");
        Assert.Equal(0, CliRunner.Run("--backend", "linux", "prog", "load", obj, bpffs["p"]).ExitCode);
        var prog = System.Text.Json.Nodes.JsonNode.Parse(CliRunner.Run("--backend", "linux", "-j", "prog", "show", "pinned", bpffs["p"]).Stdout)!;
        uint btfId = (uint)prog["btf_id"]!, progId = (uint)prog["id"]!;
        var shown = CliRunner.Run("--backend", "linux", "btf", "show", "id", btfId.ToString(System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal(0, shown.ExitCode);
        Assert.Matches($@"^{btfId}: name <anon>  size \d+B  prog_ids {progId}  map_ids \d+
$", shown.Stdout);
        var all = CliRunner.Run("--backend", "linux", "-j", "btf", "show");
        Assert.Contains("\"kernel\":true,\"name\":\"vmlinux\"", all.Stdout);

        // The managed runtime lists its own BTF objects the same way (one batch = one runtime).
        string script = Path.Combine(Path.GetTempPath(), $"ebpf-btf-show-{Guid.NewGuid():N}.txt");
        File.WriteAllText(script, $"prog load {obj} /sys/fs/bpf/p\nbtf show\n");
        try
        {
            var managed = CliRunner.Run("batch", "file", script);
            Assert.Equal(0, managed.ExitCode);
            Assert.Matches(@"(?m)^\d+: name <anon>  size \d+B  prog_ids \d+  map_ids \d+$", managed.Stdout);
        }
        finally
        {
            File.Delete(script);
        }
    }

    [Fact]
    public void Linux_backend_writes_a_single_value_to_every_cpu_of_a_percpu_map()
    {
        if (!LinuxKernel.IsAvailable)
            Requirement.Missing(Requirement.Kernel, $"bpf(2) unavailable: {LinuxKernel.UnavailableReason}");
        using var bpffs = MountOrSkip();
        string path = bpffs["pc"];
        Assert.Equal(0, CliRunner.Run("--backend", "linux", "map", "create", path, "type", "percpu_array", "key", "4", "value", "4", "entries", "2", "name", "pc").ExitCode);
        var update = CliRunner.Run("--backend", "linux", "map", "update", "pinned", path, "key", "1", "0", "0", "0", "value", "9", "0", "0", "0");
        Assert.True(update.ExitCode == 0, update.Stderr);
        using var map = KernelMap.LoadPinned(path);
        var value = map.Lookup([1, 0, 0, 0]);
        for (int cpu = 0; cpu < value.Length / 8; cpu++)
            Assert.Equal(9, BitConverter.ToInt32(value, cpu * 8));
    }

    /// <summary>Open fds of this process that are BPF objects (anon_inode:bpf-prog / bpf-map / btf).</summary>
    internal static int BpfFdCount() =>
        new DirectoryInfo("/proc/self/fd").EnumerateFileSystemInfos().Count(f =>
        {
            try { return f.LinkTarget?.StartsWith("anon_inode:bpf", StringComparison.Ordinal) == true || f.LinkTarget == "anon_inode:btf"; }
            catch (IOException) { return false; }
        });

    internal static TemporaryBpfFs MountOrSkip()
    {
        try
        {
            return new TemporaryBpfFs();
        }
        catch (BpfException e)
        {
            Requirement.Missing(Requirement.Kernel, $"cannot mount a temporary bpffs: {e.Message}");
            throw;
        }
    }

    private static string SharedDataRoot() => SharedData.RepoRoot;

    /// <summary>Blanks what only the kernel decides; sorts hash-dump lines (iteration order is the map's own).</summary>
    private static string Normalise(string output, bool json)
    {
        string s = SortDumps(output, json);
        if (json)
        {
            s = JsonNumber().Replace(s, m => $"\"{m.Groups[1].Value}\":N");
            s = JsonIdList().Replace(s, "\"map_ids\":[N]");
            s = s.Replace("\"jited\":true,\"bytes_jited\":N,", "\"jited\":X,", StringComparison.Ordinal)
                 .Replace("\"jited\":false,", "\"jited\":X,", StringComparison.Ordinal);
            s = Regex.Replace(s, "\\{\"pc\".*\\]", "XLATED"); // the kernel's rewrite differs from the interpreter's
            return s;
        }
        s = Regex.Replace(s, @"(?m)^\d+: ", "N: ");
        s = Regex.Replace(s, @"loaded_at \S+", "loaded_at T");
        s = Regex.Replace(s, @"xlated \d+B  (not jited|jited \d+B)  memlock \d+B", "xlated X");
        s = Regex.Replace(s, @"memlock \d+B", "memlock M");
        s = Regex.Replace(s, @"map_ids [\d,]+", "map_ids M");
        s = Regex.Replace(s, @"btf_id \d+", "btf_id B");
        s = Regex.Replace(s, @"duration( \(average\))?: \d+ns", "duration$1: D");
        s = Regex.Replace(s, @"(?ms)^int packet_stats\(void \* ctx\):\n(\s+\d+: .*?\n)+", "XLATED\n");
        return s;
    }

    private static string SortDumps(string output, bool json)
    {
        var lines = output.Split('\n');
        var result = new List<string>();
        for (int i = 0; i < lines.Length; i++)
        {
            if (json && lines[i].StartsWith("[{\"key\"", StringComparison.Ordinal))
            {
                var array = System.Text.Json.Nodes.JsonNode.Parse(lines[i])!.AsArray();
                var sorted = array.Select(n => n!.ToJsonString()).Order(StringComparer.Ordinal);
                result.Add("[" + string.Join(',', sorted) + "]");
                continue;
            }
            if (!json && lines[i] == "[{")
            {
                // A BTF-formatted text dump (bpftool's pretty JSON): sort its entries, which hash order may permute.
                int start = i;
                while (i + 1 < lines.Length && lines[i] != "]")
                    i++;
                string block = string.Join('\n', lines[start..(i + 1)]);
                const string Tail = "\n    }\n]";
                var entries = block[2..^Tail.Length].Split("\n    },{").Order(StringComparer.Ordinal);
                result.AddRange(("[{" + string.Join("\n    },{", entries) + Tail).Split('\n'));
                continue;
            }
            if (!json && lines[i].StartsWith("key: ", StringComparison.Ordinal))
            {
                int start = i;
                while (i + 1 < lines.Length && lines[i + 1].StartsWith("key: ", StringComparison.Ordinal))
                    i++;
                result.AddRange(lines[start..(i + 1)].Order(StringComparer.Ordinal));
                continue;
            }
            result.Add(lines[i]);
        }
        return string.Join('\n', result);
    }

    [GeneratedRegex("\"(id|loaded_at|bytes_xlated|bytes_jited|bytes_memlock|btf_id|duration)\":\\d+")]
    private static partial Regex JsonNumber();

    [GeneratedRegex("\"map_ids\":\\[[\\d,]+\\]")]
    private static partial Regex JsonIdList();
}
