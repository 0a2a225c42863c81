using Ebpf.Btf;

namespace Ebpf.Tests.Btf;

public class BtfWriterTests
{
    private static void AssertSameTypes(Ebpf.Btf.BtfSpec expected, Ebpf.Btf.BtfSpec actual)
    {
        Assert.Equal(expected.Types.Count, actual.Types.Count);
        Assert.Equal(BtfRawDumper.Dump(expected), BtfRawDumper.Dump(actual));
        for (int i = 0; i < expected.Types.Count; i++)
            Assert.Equal(expected.Types[i].KindFlag, actual.Types[i].KindFlag);
    }

    [Fact]
    public void Vmlinux_round_trips_with_identical_types_and_strings()
    {
        var btf = BtfFixtures.Vmlinux();
        byte[] written = btf.ToBytes();
        var again = Ebpf.Btf.BtfSpec.Parse(written);
        AssertSameTypes(btf, again);
        // Deduplicated strings are never larger than the original table.
        Assert.True(again.StringTable.Length <= btf.StringTable.Length);
        Assert.Null(BtfValidator.Check(again));
    }

    [Fact]
    public void Every_corpus_btf_round_trips()
    {
        int n = 0;
        foreach (var (path, elf) in BtfFixtures.CorpusWithBtf(includeInvalid: false))
        {
            var btf = BtfElf.ReadBtf(elf)!;
            var again = Ebpf.Btf.BtfSpec.Parse(btf.ToBytes());
            AssertSameTypes(btf, again);
            // .BTF.ext strings must still resolve against the rewritten table? No: they index the original
            // table, which is why the loader keeps the original bytes for .BTF.ext. Types are what we compare.
            n++;
        }
        Assert.True(n > 0);
    }

    [Fact]
    public void Fixtures_round_trip()
    {
        foreach (var btf in new[] { BtfFixtures.Types(), BtfFixtures.Enum64() })
            AssertSameTypes(btf, Ebpf.Btf.BtfSpec.Parse(btf.ToBytes()));
    }

    [Fact]
    public void Split_btf_written_on_a_base_continues_ids_and_reuses_base_strings()
    {
        var baseBtf = BtfFixtures.Types();
        var b = new BtfBuilder(baseBtf);
        uint nested = baseBtf.FindByName("nested", BtfKind.Struct)!.Id;
        uint intId = baseBtf.FindByName("int", BtfKind.Int)!.Id;
        uint ptr = b.AddPtr(nested);
        Assert.Equal(baseBtf.MaxTypeId + 1, ptr);
        uint ctx = b.AddStructLayout("module_ctx", ("n", ptr), ("kind", intId), ("brand_new_member", intId));
        byte[] raw = b.ToBytes();
        var split = Ebpf.Btf.BtfSpec.Parse(raw, baseBtf);
        Assert.Equal(baseBtf.MaxTypeId + 1, split.FirstTypeId);
        var s = (BtfStruct)split.GetType(ctx);
        Assert.Equal(["n", "kind", "brand_new_member"], s.Members.Select(m => m.Name));
        Assert.Equal("nested", split.GetType(((BtfPtr)split.GetType(s.Members[0].Type)).Type).Name);
        // "kind" exists in the base table and is referenced there; only new strings go into the split table.
        string own = System.Text.Encoding.UTF8.GetString(split.StringTable);
        Assert.DoesNotContain("kind", own.Split('\0'));
        Assert.Contains("brand_new_member", own.Split('\0'));
        Assert.Equal(16u, split.SizeOf(ctx));
        // The split cannot be read without its base.
        Assert.Throws<BpfException>(() => Ebpf.Btf.BtfSpec.Parse(raw));
        // Writing the parsed split again gives the same types.
        AssertSameTypes(split, Ebpf.Btf.BtfSpec.Parse(split.ToBytes(), baseBtf));
    }

    [Fact]
    public void Split_on_vmlinux_round_trips()
    {
        var vmlinux = BtfFixtures.Vmlinux();
        var b = new BtfBuilder(vmlinux);
        uint skb = vmlinux.FindByName("sk_buff", BtfKind.Struct)!.Id;
        uint u32 = vmlinux.FindByName("u32", BtfKind.Typedef)!.Id;
        uint ctx = b.AddStructLayout("host_ctx", ("skb", b.AddPtr(skb)), ("mark", u32));
        uint proto = b.AddFuncProto(u32, [new BtfParam("ctx", b.AddPtr(ctx))]);
        uint func = b.AddFunc("host_hook", proto);
        b.AddDeclTag("arg:ctx", func, 0);
        var split = b.Build();
        Assert.Null(BtfValidator.Check(split));
        Assert.Equal(vmlinux.MaxTypeId + 1, split.FirstTypeId);
        Assert.Equal(["arg:ctx"], split.GetDeclTagValues(func, 0));
        Assert.Equal(ctx, split.FindByName("host_ctx", BtfKind.Struct)!.Id);
        Assert.Equal(skb, split.FindByName("sk_buff", BtfKind.Struct)!.Id);
    }

    [Theory]
    [InlineData("btf/types.bpf.o")]
    [InlineData("btf/enum64.bpf.o")]
    public void Raw_dump_matches_bpftool(string fixture)
    {
        string file = SharedData.Fixture(fixture);
        string expected = BpftoolRecord.Output(fixture + ".raw.txt", "btf", "dump", "file", file);
        AssertSameLines(file, expected, BtfRawDumper.Dump(BtfElf.LoadAny(file)));
    }

    /// <summary>This machine's vmlinux: no record (it is the running kernel's), so bpftool itself is required.</summary>
    [Fact]
    public void Vmlinux_raw_dump_matches_bpftool()
    {
        string bpftool = ExternalTool.Require(Requirement.Bpftool, "bpftool", "vmlinux's dump is compared with bpftool's live output");
        string file = BtfFixtures.VmlinuxPath;
        BtfFixtures.Vmlinux(); // requires vmlinux
        var r = ExternalTool.Run(bpftool, ["btf", "dump", "file", file]);
        Assert.Equal(0, r.ExitCode);
        AssertSameLines(file, r.Stdout, BtfRawDumper.Dump(BtfElf.LoadAny(file)));
    }

    private static void AssertSameLines(string file, string expected, string actual)
    {
        if (expected == actual)
            return;
        var e = expected.Split('\n');
        var a = actual.Split('\n');
        int i = 0;
        while (i < Math.Min(e.Length, a.Length) && e[i] == a[i])
            i++;
        Assert.Fail($"{file}: first difference at line {i + 1}:\n bpftool: {e.ElementAtOrDefault(i)}\n ours:    {a.ElementAtOrDefault(i)}");
    }
}
