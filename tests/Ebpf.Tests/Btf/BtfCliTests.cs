using System.Text.Json;
using Ebpf.Btf;

namespace Ebpf.Tests.Btf;

public class BtfCliTests
{
    [Fact]
    public void Dump_raw_of_an_object_prints_its_btf()
    {
        string file = SharedData.Fixture("btf/types.bpf.o");
        var r = CliRunner.Run("btf", "dump", "file", file);
        Assert.Equal(0, r.ExitCode);
        Assert.Equal(BtfRawDumper.Dump(BtfFixtures.Types()), r.Stdout);
        Assert.StartsWith("[1] PTR '(anon)' type_id=3\n[2] INT 'int' size=4 bits_offset=0 nr_bits=32 encoding=SIGNED\n", r.Stdout);
        var raw = CliRunner.Run("btf", "dump", "file", file, "format", "raw");
        Assert.Equal(r.Stdout, raw.Stdout);
    }

    [Fact]
    public void Dump_c_prints_a_header()
    {
        var r = CliRunner.Run("btf", "dump", "file", SharedData.Fixture("btf/types.bpf.o"), "format", "c");
        Assert.Equal(0, r.ExitCode);
        Assert.Contains("struct nested {", r.Stdout);
        Assert.EndsWith("#endif /* __VMLINUX_H__ */\n", r.Stdout);
    }

    [Fact]
    public void Dump_json_has_bpftools_shape()
    {
        var r = CliRunner.Run("btf", "dump", "file", SharedData.Fixture("btf/types.bpf.o"), "--json");
        Assert.Equal(0, r.ExitCode);
        using var doc = JsonDocument.Parse(r.Stdout);
        var types = doc.RootElement.GetProperty("types");
        var first = types[0];
        Assert.Equal(1, first.GetProperty("id").GetInt32());
        Assert.Equal("PTR", first.GetProperty("kind").GetString());
        Assert.Equal("(anon)", first.GetProperty("name").GetString());
        Assert.Equal(3, first.GetProperty("type_id").GetInt32());
        var bits = types.EnumerateArray().First(t => t.GetProperty("name").GetString() == "bits");
        var a = bits.GetProperty("members")[0];
        Assert.Equal(3, a.GetProperty("bitfield_size").GetInt32());
        var func = types.EnumerateArray().First(t => t.GetProperty("kind").GetString() == "FUNC");
        Assert.Equal("global", func.GetProperty("linkage").GetString());
    }

    [Fact]
    public void Dump_of_raw_vmlinux_and_errors()
    {
        if (!File.Exists(BtfFixtures.VmlinuxPath))
            Requirement.Missing(Requirement.Vmlinux, "no vmlinux BTF");
        var r = CliRunner.Run("btf", "dump", "file", BtfFixtures.VmlinuxPath);
        Assert.Equal(0, r.ExitCode);
        Assert.StartsWith("[1] ", r.Stdout);

        var missing = CliRunner.Run("btf", "dump", "file", "/nonexistent/x.o");
        Assert.Equal(1, missing.ExitCode);
        Assert.Contains("(ENOENT)", missing.Stderr);

        var usage = CliRunner.Run("btf", "dump", "file", BtfFixtures.VmlinuxPath, "format", "xml");
        Assert.Equal(2, usage.ExitCode);
        Assert.Contains("possible values: raw, c", usage.Stderr);

        string bad = Path.GetTempFileName();
        try
        {
            File.WriteAllBytes(bad, [0x9f, 0xeb, 1, 0, 24, 0, 0, 0]);
            var invalid = CliRunner.Run("btf", "dump", "file", bad);
            Assert.Equal(1, invalid.ExitCode);
            Assert.Contains("(EINVAL)", invalid.Stderr);
        }
        finally
        {
            File.Delete(bad);
        }
    }
}
