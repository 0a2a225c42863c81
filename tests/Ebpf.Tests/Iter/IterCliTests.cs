using System.Text;

namespace Ebpf.Tests.Iter;

/// <summary>
/// bpftool's `iter pin OBJ PATH [map MAP]` and reading the pinned iterator: `fs cat PATH` in the managed runtime (a batch,
/// one runtime), and on the kernel the pinned file read as `cat` reads it, compared with bpftool's own `iter pin`.
/// </summary>
public class IterCliTests
{
    private static string Fixture(string name) => SharedData.Fixture($"iter/{name}.bpf.o");

    [Fact]
    public void Iter_pin_and_fs_cat_in_one_runtime()
    {
        var value = string.Join(' ', Enumerable.Range(0, 72).Select(i => i switch { 8 => "42", 16 => "104", 17 => "105", 32 => "69", _ => "0" }));
        var script = Path.GetTempFileName();
        try
        {
            File.WriteAllLines(script,
            [
                "map create /sys/fs/bpf/elems type array key 4 value 72 entries 2 name elems",
                $"map update pinned /sys/fs/bpf/elems key 1 0 0 0 value {value}",
                $"iter pin {Fixture("map_elem")} /sys/fs/bpf/it map pinned /sys/fs/bpf/elems",
                "fs cat /sys/fs/bpf/it",
                "link show pinned /sys/fs/bpf/it",
                "fs cat /sys/fs/bpf/it",
            ]);
            var r = CliRunner.Run("batch", "file", script);
            Assert.True(r.ExitCode == 0, r.Stderr + r.Stdout);
            Assert.Contains("key   |number|name\n0     |     0||0 0 0 \0\0 %\n", r.Stdout);
            Assert.Contains("1     |    42|hi|2a 2A 2a hi %\n", r.Stdout);
            Assert.Contains("end: seq_num 1\n", r.Stdout);
            Assert.Contains("1     |  1042|hi|", r.Stdout); // the second cat is a new session over the updated map
            Assert.Matches(@"\d+: iter  prog \d+  target_name bpf_map_elem  map_id \d+  \n\tpinned /sys/fs/bpf/it\n", r.Stdout);
            var bad = CliRunner.Run("iter", "pin", Fixture("map_elem"), "/sys/fs/bpf/x");
            Assert.NotEqual(0, bad.ExitCode); // bpf_map_elem without a map: EBADF
            Assert.Contains("EBADF", bad.Stderr);
        }
        finally
        {
            File.Delete(script);
        }
    }

    [Fact]
    public void Iter_pin_on_the_kernel_reads_and_shows_as_bpftools()
    {
        using var b = TestBackend.Create(Backends.Linux);
        string bpftool = ExternalTool.Require(Requirement.Bpftool, "bpftool", "the pinned iterator is compared with bpftool's");
        string ours = Path.Combine(b.PinRoot, "ours"), theirs = Path.Combine(b.PinRoot, "theirs");
        var r = CliRunner.Run("--backend", "linux", "iter", "pin", Fixture("map_list"), ours);
        Assert.True(r.ExitCode == 0, r.Stderr);
        var t = ExternalTool.Run(bpftool, ["iter", "pin", Fixture("map_list"), theirs]);
        Assert.True(t.ExitCode == 0, t.Stderr);
        // No items are shown (shown = 0): every map prints nothing, the final call "end".
        Assert.Equal("end\n", Encoding.ASCII.GetString(File.ReadAllBytes(ours)));
        Assert.Equal(File.ReadAllBytes(theirs), File.ReadAllBytes(ours));
        var cat = CliRunner.Run("--backend", "linux", "fs", "cat", ours);
        Assert.Equal("end\n", cat.Stdout);
        var show = CliRunner.Run("--backend", "linux", "link", "show", "pinned", ours);
        var bt = ExternalTool.Run(bpftool, ["-f", "link", "show", "pinned", ours]);
        Assert.Equal(string.Join('\n', bt.Stdout.Split('\n').Where(l => !l.StartsWith("\tpids ", StringComparison.Ordinal))), show.Stdout);
        Assert.Contains("target_name bpf_map", show.Stdout);
    }
}
