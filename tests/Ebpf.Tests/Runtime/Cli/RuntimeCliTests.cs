using Ebpf.Abi;
using Ebpf.Cli.Commands.Runtime;

namespace Ebpf.Tests.Runtime.Cli;

public class RuntimeCliTests
{
    [Fact]
    public void Hex_dump_matches_bpftool_hex_print()
    {
        // Captured from `bpftool prog run … data_out -` with a 60-byte zero packet on Linux 6.18.
        string expected =
            "0000000\t0000 0000 0000 0000 0000 0000 0000 0000 | ........ ........\n" +
            "0000010\t0000 0000 0000 0000 0000 0000 0000 0000 | ........ ........\n" +
            "0000020\t0000 0000 0000 0000 0000 0000 0000 0000 | ........ ........\n" +
            "0000030\t0000 0000 0000 0000 0000 0000           | ........ ....\n";
        Assert.Equal(expected, BpftoolFormat.HexDump(new byte[60]));
        Assert.Equal("0000000\t4142 43" + new string(' ', 33) + "| ABC\n", BpftoolFormat.HexDump("ABC"u8));
    }

    [Fact]
    public void Type_names_are_bpftools()
    {
        Assert.Equal("socket_filter", BpftoolFormat.TypeName(ProgramType.SocketFilter));
        Assert.Equal("lwt_seg6local", BpftoolFormat.TypeName(ProgramType.LwtSeg6Local));
        Assert.Equal("raw_tracepoint_writable", BpftoolFormat.TypeName(ProgramType.RawTracepointWritable));
        Assert.Equal("perf_event_array", BpftoolFormat.TypeName(MapType.PerfEventArray));
        Assert.Equal("lru_percpu_hash", BpftoolFormat.TypeName(MapType.LruPercpuHash));
        Assert.True(BpftoolFormat.TryParseType("prog_array", out MapType t));
        Assert.Equal(MapType.ProgArray, t);
    }

    [Fact]
    public void Map_show_text_and_json_shapes()
    {
        var info = new MapInfo { Id = 330, Type = MapType.Hash, Name = "rt_tmpm", KeySize = 4, ValueSize = 8, MaxEntries = 4 };
        string text = BpftoolFormat.MapText(info, []);
        Assert.StartsWith("330: hash  name rt_tmpm  flags 0x0\n\tkey 4B  value 8B  max_entries 4  memlock ", text);
        var json = System.Text.Json.JsonSerializer.Serialize(BpftoolFormat.MapJson(info, []));
        Assert.StartsWith("{\"id\":330,\"type\":\"hash\",\"name\":\"rt_tmpm\",\"flags\":0,\"bytes_key\":4,\"bytes_value\":8,\"max_entries\":4,\"bytes_memlock\":", json);
        Assert.EndsWith(",\"frozen\":0}", json);
        Assert.Equal("key: 01 00 00 00  value: 01 02 03 04 05 06 07 08", BpftoolFormat.EntryText([1, 0, 0, 0], [1, 2, 3, 4, 5, 6, 7, 8]));
    }

    [Fact]
    public void Grammar_parses_bpftool_words()
    {
        var run = Assert.IsType<ProgRun>(RuntimeCommandLine.ParseProg("run", ["pinned", "/sys/fs/bpf/p", "data_in", "pkt", "data_out", "-", "repeat", "3"]));
        Assert.Equal(new ObjectRef("pinned", "/sys/fs/bpf/p"), run.Program);
        Assert.Equal(3u, run.Repeat);
        Assert.Equal("-", run.DataOut);
        var upd = Assert.IsType<MapUpdate>(RuntimeCommandLine.ParseMap("update", ["id", "7", "key", "hex", "01", "00", "00", "00", "value", "0x01", "2", "010", "0", "noexist"]));
        Assert.Equal(new byte[] { 1, 0, 0, 0 }, upd.Key.Resolve(4, "key"));
        Assert.Equal(new byte[] { 1, 2, 8, 0 }, upd.Value!.Resolve(4, "value"));
        Assert.Equal(1ul, upd.Flags);
        var progValue = Assert.IsType<MapUpdate>(RuntimeCommandLine.ParseMap("update", ["name", "jmp", "key", "1", "0", "0", "0", "value", "id", "3"]));
        Assert.Equal(new ObjectRef("id", "3"), progValue.ValueProgram);
        var load = Assert.IsType<ProgLoad>(RuntimeCommandLine.ParseProg("loadall", ["x.o", "/sys/fs/bpf/d", "pinmaps", "/sys/fs/bpf/m"]));
        Assert.Equal("/sys/fs/bpf/m", load.PinMaps);
        Assert.IsType<MapGetNext>(RuntimeCommandLine.ParseMap("getnext", ["id", "1"]));
    }

    [Theory]
    [InlineData("prog", "run", new[] { "id", "1" })]                       // data_in required
    [InlineData("prog", "show", new[] { "id", "x" })]
    [InlineData("prog", "dump", new[] { "jited", "id", "1" })]
    [InlineData("map", "update", new[] { "id", "1", "key", "1", "any" })]  // value missing
    [InlineData("map", "lookup", new[] { "id", "1", "value", "1" })]
    [InlineData("map", "show", new[] { "id", "1", "extra" })]
    [InlineData("map", "frobnicate", new string[0])]
    public void Grammar_rejects_bad_words(string group, string verb, string[] args)
    {
        Assert.Throws<Ebpf.Cli.CliUsageException>(() => group == "prog" ? RuntimeCommandLine.ParseProg(verb, args) : RuntimeCommandLine.ParseMap(verb, args));
    }

    [Fact]
    public void Byte_words_must_match_the_size()
    {
        var words = new ByteWords(["1", "0", "0"]);
        Assert.Throws<Ebpf.Cli.CliUsageException>(() => words.Resolve(4, "key"));
        Assert.Throws<Ebpf.Cli.CliUsageException>(() => new ByteWords(["256"]).Resolve(1, "key"));
        Assert.Throws<Ebpf.Cli.CliUsageException>(() => new ByteWords(["hex", "zz"]).Resolve(1, "key"));
    }

    [Fact]
    public void Batch_lines_share_one_runtime()
    {
        string file = Path.GetTempFileName();
        try
        {
            File.WriteAllText(file, """
                # a prog array and a hash map, pinned, shown, frozen
                map create /sys/fs/bpf/jmp type prog_array key 4 value 4 entries 4 name jmp
                map create /sys/fs/bpf/counts type hash key 4 value 8 \
                    entries 16 name counts
                map freeze pinned /sys/fs/bpf/counts
                map show
                map getnext name jmp key 1 0 0 0
                map dump pinned /sys/fs/bpf/jmp
                """);
            var r = CliRunner.Run("batch", "file", file);
            Assert.True(r.ExitCode == 0, r.Stderr);
            Assert.Contains("1: prog_array  name jmp  flags 0x0\n\tkey 4B  value 4B  max_entries 4", r.Stdout);
            Assert.Contains("2: hash  name counts  flags 0x0", r.Stdout);
            Assert.Contains("\tfrozen\n\tpinned /sys/fs/bpf/counts\n", r.Stdout);
            Assert.Contains("key:\n01 00 00 00\nnext key:\n02 00 00 00\n", r.Stdout);
            Assert.Contains("Found 0 elements", r.Stdout);
            Assert.EndsWith("processed 6 commands\n", r.Stdout);
        }
        finally { File.Delete(file); }
    }

    [Fact]
    public void Batch_stops_at_first_error_and_json_shapes()
    {
        string file = Path.GetTempFileName();
        try
        {
            File.WriteAllText(file, "map create /sys/fs/bpf/a type array key 4 value 4 entries 2 name a\nmap show pinned /sys/fs/bpf/a\nmap show id 99\nmap show\n");
            var r = CliRunner.Run("-j", "batch", "file", file);
            Assert.Equal(1, r.ExitCode);
            Assert.Contains("{\"id\":1,\"type\":\"array\",\"name\":\"a\",\"flags\":0,\"bytes_key\":4,\"bytes_value\":4,\"max_entries\":2,", r.Stdout);
            Assert.Contains("\"pinned\":[\"/sys/fs/bpf/a\"]", r.Stdout);
            Assert.Contains("(ENOENT)", r.Stderr);
            Assert.Contains("error in line 3: processed 2 commands", r.Stderr);
        }
        finally { File.Delete(file); }
    }

    [Fact]
    public void Each_invocation_has_its_own_runtime()
    {
        Assert.Equal(0, CliRunner.Run("map", "create", "/sys/fs/bpf/x", "type", "hash", "key", "4", "value", "4", "entries", "1", "name", "x").ExitCode);
        var r = CliRunner.Run("map", "show", "pinned", "/sys/fs/bpf/x");
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("(ENOENT)", r.Stderr);
    }

    [Fact]
    public void Batch_file_splitting()
    {
        var lines = BatchFileVerb.SplitLines("a b # c\n\n# only comment\n'x y' \"z\"\nlong \\\n  tail\n").ToList();
        Assert.Equal(3, lines.Count);
        Assert.Equal(["a", "b"], lines[0].Words);
        Assert.Equal(["x y", "z"], lines[1].Words);
        Assert.Equal(4, lines[1].Line);
        Assert.Equal(["long", "tail"], lines[2].Words);
    }
}
