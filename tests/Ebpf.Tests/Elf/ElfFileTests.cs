using Ebpf.Elf;

namespace Ebpf.Tests.Elf;

public class ElfFileTests
{
    [Fact]
    public void Reads_sections_symbols_and_relocations_of_a_clang_object()
    {
        string path = Path.Combine(SharedData.Require("bench/build"), "parser.o");
        var elf = ElfFile.Open(path);
        Assert.Equal(ElfFile.MachineBpf, elf.Machine);
        var xdp = elf.FindSection("xdp");
        Assert.NotNull(xdp);
        Assert.True(xdp.IsExecutable);
        Assert.Equal(0, xdp.Data.Length % 8);
        Assert.Contains(elf.Symbols, s => s.Type == ElfSymbolType.Func && s.SectionIndex == xdp.Index);
    }

    [Fact]
    public void Every_corpus_object_opens_or_fails_with_a_BpfException()
    {
        int opened = 0, rejected = 0;
        foreach (string path in SharedData.CorpusObjects(includeInvalid: true))
        {
            try
            {
                var elf = ElfFile.Open(path);
                _ = elf.Symbols;
                foreach (var s in elf.Sections.Where(s => s.Type is ElfSectionType.Rel or ElfSectionType.Rela))
                    _ = elf.ReadRelocations(s);
                opened++;
            }
            catch (BpfException e)
            {
                Assert.Contains(path, e.Message);
                rejected++;
            }
        }
        Assert.True(opened > 150, $"only {opened} corpus objects opened");
        Assert.True(rejected > 0, "the invalid/ objects should include some that are rejected");
    }

    [Theory]
    [InlineData(0)]
    [InlineData(10)]
    [InlineData(63)]
    public void Truncated_header_is_a_format_error(int length)
    {
        var bytes = new byte[length];
        if (length >= 4) { bytes[0] = 0x7f; bytes[1] = (byte)'E'; bytes[2] = (byte)'L'; bytes[3] = (byte)'F'; }
        var e = Assert.Throws<BpfException>(() => ElfFile.Parse(bytes, "t.o"));
        Assert.Equal(Errno.EINVAL, e.Errno);
        Assert.Contains("t.o", e.Message);
    }

    [Fact]
    public void Big_endian_objects_are_refused_as_not_supported()
    {
        var bytes = new byte[64];
        bytes[0] = 0x7f; bytes[1] = (byte)'E'; bytes[2] = (byte)'L'; bytes[3] = (byte)'F'; bytes[4] = 2; bytes[5] = 2;
        var e = Assert.Throws<BpfException>(() => ElfFile.Parse(bytes, "be.o"));
        Assert.Equal(Errno.ENOTSUPP, e.Errno);
        Assert.Contains("big-endian", e.Message);
    }

    [Fact]
    public void Section_table_pointing_past_the_end_is_rejected_with_its_offset()
    {
        var bytes = File.ReadAllBytes(Path.Combine(SharedData.Require("bench/build"), "empty.o"));
        BitConverter.TryWriteBytes(bytes.AsSpan(40), (ulong)bytes.Length + 100);
        var e = Assert.Throws<BpfException>(() => ElfFile.Parse(bytes, "cut.o"));
        Assert.Contains("section header table", e.Message);
    }
}
