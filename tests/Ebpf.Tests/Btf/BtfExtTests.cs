using Ebpf.Btf;

namespace Ebpf.Tests.Btf;

public class BtfExtTests
{
    [Fact]
    public void Fixture_func_and_line_info_resolve_per_section()
    {
        var elf = BtfFixtures.TypesElf();
        var btf = BtfElf.ReadBtf(elf)!;
        var ext = BtfElf.ReadBtfExt(elf, btf)!;
        Assert.Equal(8u, ext.FuncInfoRecordSize);
        Assert.Equal(16u, ext.LineInfoRecordSize);
        var xdpFuncs = ext.GetFuncInfos("xdp");
        Assert.Equal("xdp_prog", btf.GetType(xdpFuncs[0].TypeId).Name);
        Assert.Equal(0u, xdpFuncs[0].InsnOffset);
        var text = ext.GetFuncInfos(".text");
        Assert.Equal(["global_helper", "static_helper"], text.Select(f => btf.GetType(f.TypeId).Name).Order());
        Assert.All(text, f => Assert.Equal(0u, f.InsnOffset % 8)); // byte offsets in the ELF
        var lines = ext.GetLineInfos("xdp");
        Assert.NotEmpty(lines);
        Assert.All(lines, l => Assert.EndsWith("types.bpf.c", l.FileName));
        var first = lines[0];
        Assert.Contains("xdp_prog", first.SourceLine);
        string[] source = File.ReadAllLines(SharedData.Fixture("btf/types.bpf.c"));
        Assert.Equal(source[first.Line - 1].Trim(), first.SourceLine.Trim());
        Assert.Contains(lines, l => l.Column > 0);
        Assert.Empty(ext.GetCoreRelos("xdp"));
    }

    [Fact]
    public void Corpus_core_relocations_resolve_access_strings()
    {
        int relos = 0;
        foreach (var (path, elf) in BtfFixtures.CorpusWithBtf(includeInvalid: false))
        {
            var btf = BtfElf.ReadBtf(elf)!;
            var ext = BtfElf.ReadBtfExt(elf, btf);
            if (ext is null)
                continue;
            foreach (var r in ext.CoreRelos.SelectMany(s => s.Records))
            {
                Assert.True(Enum.IsDefined(r.Kind), $"{path}: relo kind {r.Kind}");
                Assert.NotEqual("", r.AccessString);
                Assert.True(btf.TryGetType(r.TypeId, out _));
                relos++;
            }
        }
        // The corpus carries CO-RE objects (cilium, the libbpf selftests): finding none means the reader lost them.
        Assert.True(relos > 0, "no corpus object carries CO-RE relocations");
    }

    [Fact]
    public void Truncated_or_corrupt_btf_ext_fails_with_EINVAL()
    {
        var elf = BtfFixtures.TypesElf();
        var btf = BtfElf.ReadBtf(elf)!;
        byte[] ext = elf.FindSection(BtfElf.BtfExtSection)!.Data.ToArray();
        for (int len = 0; len < ext.Length; len += 3)
        {
            try
            {
                BtfExt.Parse(ext.AsSpan(0, len), btf);
            }
            catch (BpfException)
            {
            }
        }
        var badRec = (byte[])ext.Clone();
        uint hdr = BitConverter.ToUInt32(badRec, 4);
        uint funcOff = BitConverter.ToUInt32(badRec, 8);
        BitConverter.TryWriteBytes(badRec.AsSpan((int)(hdr + funcOff)), 6u);
        Assert.Contains("invalid record size", Assert.Throws<BpfException>(() => BtfExt.Parse(badRec, btf)).Message);
        Assert.Equal(Errno.EINVAL, Assert.Throws<BpfException>(() => BtfExt.Parse(ext.AsSpan(0, 30), btf)).Errno);
    }
}
