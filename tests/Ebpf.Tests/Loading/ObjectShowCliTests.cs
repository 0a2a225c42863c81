using System.Text.Json;

namespace Ebpf.Tests.Loading;

public sealed class ObjectShowCliTests
{
    [Fact]
    public void JsonListsProgramsWithLinkedInstructionCountsAndSubprograms()
    {
        var result = CliRunner.Run("object", "show", "--json", SharedData.Fixture("loading/programs.bpf.o"));
        Assert.Equal(0, result.ExitCode);
        using var doc = JsonDocument.Parse(result.Stdout);
        var programs = doc.RootElement.GetProperty("programs").EnumerateArray().ToList();
        Assert.Equal(["xdp_first", "xdp_second", "trace_open", "optional_probe"], programs.Select(p => p.GetProperty("name").GetString()));
        var first = programs[0];
        Assert.Equal("xdp", first.GetProperty("section").GetString());
        Assert.Equal("xdp", first.GetProperty("type").GetString());
        Assert.Equal(17, first.GetProperty("insns").GetInt32());
        Assert.Equal(["scale", "add_one"], first.GetProperty("subprograms").EnumerateArray().Select(s => s.GetProperty("name").GetString()));
        Assert.Equal("syscalls/sys_enter_openat", programs[2].GetProperty("attach").GetString());
        Assert.False(programs[3].GetProperty("autoload").GetBoolean());

        var maps = doc.RootElement.GetProperty("maps").EnumerateArray().ToList();
        var rodata = maps.Single(m => m.GetProperty("name").GetString() == "programs.rodata");
        Assert.Equal("array", rodata.GetProperty("type").GetString());
        Assert.Equal(4, rodata.GetProperty("value_size").GetInt32());
        Assert.True(rodata.GetProperty("frozen").GetBoolean());
        Assert.Equal(5, doc.RootElement.GetProperty("data_sections").GetArrayLength());
        Assert.Contains(doc.RootElement.GetProperty("externs").EnumerateArray(), e => e.GetProperty("name").GetString() == "CONFIG_HZ" && e.GetProperty("weak").GetBoolean());
        Assert.Equal("GPL", doc.RootElement.GetProperty("license").GetString());
    }

    [Fact]
    public void TextHasOneLinePerProgramAndMap()
    {
        var result = CliRunner.Run("object", "show", SharedData.Fixture("loading/maps.bpf.o"));
        Assert.Equal(0, result.ExitCode);
        var lines = result.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(3, lines.Count(l => l.StartsWith("prog ")));
        Assert.Equal(8, lines.Count(l => l.StartsWith("map ")));
        Assert.Contains("map jumps: prog_array  key 4B  value 4B  max_entries 4  values [1]=tail_one,[3]=tail_two", lines);
        Assert.Contains("prog classify: sched_cls  section tc  insns 60", lines);
    }

    [Fact]
    public void ProgramsWithUndefinedSymbolsAreMarked()
    {
        var result = CliRunner.Run("object", "show", SharedData.Fixture("loading/unresolved.bpf.o"));
        Assert.Equal(0, result.ExitCode);
        Assert.Contains("prog uses_missing: socket_filter  section socket  insns 4  unresolved defined_elsewhere", result.Stdout);
        Assert.Contains("prog self_contained: socket_filter  section socket  insns 2\n", result.Stdout.Replace("\r", ""));
    }

    [Fact]
    public void BadFileIsAnErrorWithErrno()
    {
        var result = CliRunner.Run("object", "show", "/nonexistent.o");
        Assert.Equal(1, result.ExitCode);
        Assert.StartsWith("Error: ", result.Stderr);
        Assert.Contains("(ENOENT)", result.Stderr);
    }
}
