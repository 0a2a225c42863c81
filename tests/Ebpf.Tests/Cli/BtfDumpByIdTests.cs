using Ebpf.Linux;

namespace Ebpf.Tests.Cli;

/// <summary><c>ebpf btf dump id N</c> on both backends.</summary>
public class BtfDumpByIdTests
{
    private static string Example => Path.Combine(SharedData.RepoRoot, "examples", "packet_stats.bpf.o");

    [Fact]
    public void Kernel_btf_by_id_prints_what_bpftool_prints()
    {
        if (!LinuxKernel.IsAvailable)
            Requirement.Missing(Requirement.Kernel, $"bpf(2) is not usable here: {LinuxKernel.UnavailableReason}");
        using var collection = LinuxKernel.LoadFile(Example);
        uint id = collection.Btf!.GetInfo().Id;

        var ours = CliRunner.Run("--backend", "linux", "btf", "dump", "id", id.ToString());
        Assert.Equal(0, ours.ExitCode);
        Assert.Contains("DATASEC '.rodata'", ours.Stdout);
        Assert.Contains("VAR 'proto_counts'", ours.Stdout);

        // bpftool's own dump of the same id (and its record, which stands in where bpftool is not installed).
        string expected = BpftoolRecord.Output("btf-dump-id/packet_stats.txt", "btf", "dump", "id", id.ToString(System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal(expected, ours.Stdout);
    }

    [Fact]
    public void Managed_btf_by_id_is_the_objects_btf_within_a_batch()
    {
        string script = Path.Combine(Path.GetTempPath(), $"btf-id-{Guid.NewGuid():N}.txt");
        File.WriteAllText(script, $"prog loadall {Example} /sys/fs/bpf/btfid\nbtf show\n");
        try
        {
            var shown = CliRunner.Run("batch", "file", script);
            Assert.Equal(0, shown.ExitCode);
            // "N: name packet_stats  size …B  prog_ids …": take the id of the object's BTF.
            string line = shown.Stdout.Split('\n').First(l => l.Contains("prog_ids"));
            string id = line[..line.IndexOf(':')];
            File.AppendAllText(script, $"btf dump id {id} format c\n");
            var dumped = CliRunner.Run("batch", "file", script);
            Assert.Equal(0, dumped.ExitCode);
            Assert.Contains("typedef unsigned int __u32;", dumped.Stdout);
        }
        finally
        {
            File.Delete(script);
        }
    }

    [Fact]
    public void Unknown_id_is_ENOENT_and_bad_words_are_usage_errors()
    {
        var missing = CliRunner.Run("btf", "dump", "id", "4000000");
        Assert.Equal(1, missing.ExitCode);
        Assert.Contains("ENOENT", missing.Stderr);
        Assert.Equal(2, CliRunner.Run("btf", "dump", "id", "abc").ExitCode);
        Assert.Equal(2, CliRunner.Run("btf", "dump", "name", "x").ExitCode);
    }
}
