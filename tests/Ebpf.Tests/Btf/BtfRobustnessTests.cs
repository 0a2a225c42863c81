using Ebpf.Btf;

namespace Ebpf.Tests.Btf;

/// <summary>Malformed BTF must fail with BpfException only: no other exception, hang or huge allocation.</summary>
public class BtfRobustnessTests
{
    private static void ParseOnlyBpfException(byte[] data)
    {
        try
        {
            var btf = Ebpf.Btf.BtfSpec.Parse(data);
            // Whatever parses must also survive every query path without foreign exceptions.
            _ = BtfValidator.Check(btf);
            foreach (var t in btf.Types.Take(200))
            {
                try
                {
                    _ = btf.SizeOf(t.Id);
                }
                catch (BpfException)
                {
                }
                try
                {
                    _ = btf.AlignOf(t.Id);
                }
                catch (BpfException)
                {
                }
                if (t is BtfComposite)
                {
                    try
                    {
                        _ = btf.FindMember(t.Id, "x");
                    }
                    catch (BpfException)
                    {
                    }
                }
            }
            _ = BtfRawDumper.Dump(btf);
            _ = new BtfCPrinter(btf).Print();
            _ = btf.ToBytes();
        }
        catch (BpfException)
        {
        }
    }

    [Fact]
    public void Every_truncation_of_fixture_btf_fails_cleanly()
    {
        byte[] raw = BtfFixtures.TypesElf().FindSection(BtfElf.BtfSection)!.Data.ToArray();
        for (int len = 0; len < raw.Length; len++)
        {
            var e = Record.Exception(() => Ebpf.Btf.BtfSpec.Parse(raw.AsSpan(0, len)));
            Assert.IsType<BpfException>(e);
        }
    }

    [Fact]
    public void Random_byte_and_word_mutations_only_raise_BpfException()
    {
        byte[] raw = BtfFixtures.TypesElf().FindSection(BtfElf.BtfSection)!.Data.ToArray();
        var rng = new Random(1234);
        for (int round = 0; round < 1500; round++)
        {
            byte[] m = (byte[])raw.Clone();
            int edits = rng.Next(1, 4);
            for (int k = 0; k < edits; k++)
            {
                int at = rng.Next(m.Length);
                switch (rng.Next(4))
                {
                    case 0: m[at] = (byte)rng.Next(256); break;
                    case 1: m[at] ^= (byte)(1 << rng.Next(8)); break;
                    case 2 when at + 4 <= m.Length: BitConverter.TryWriteBytes(m.AsSpan(at), uint.MaxValue - (uint)rng.Next(16)); break;
                    default: if (at + 4 <= m.Length) BitConverter.TryWriteBytes(m.AsSpan(at), (uint)rng.Next(200)); break;
                }
            }
            ParseOnlyBpfException(m);
        }
    }

    [Fact]
    public void Hostile_headers_and_vlens_are_rejected_with_messages()
    {
        byte[] raw = BtfFixtures.Types().ToBytes();
        byte[] typeLen = (byte[])raw.Clone();
        BitConverter.TryWriteBytes(typeLen.AsSpan(12), 0x7fffffffu);
        Assert.Contains("type section", Assert.Throws<BpfException>(() => Ebpf.Btf.BtfSpec.Parse(typeLen)).Message);

        byte[] strOff = (byte[])raw.Clone();
        BitConverter.TryWriteBytes(strOff.AsSpan(16), 0xfffffff0u);
        Assert.Contains("string section", Assert.Throws<BpfException>(() => Ebpf.Btf.BtfSpec.Parse(strOff)).Message);

        // First type is PTR at offset 24: turn it into a STRUCT with vlen 0xffff.
        byte[] vlen = (byte[])raw.Clone();
        BitConverter.TryWriteBytes(vlen.AsSpan(24 + 4), (4u << 24) | 0xffff);
        var e = Assert.Throws<BpfException>(() => Ebpf.Btf.BtfSpec.Parse(vlen));
        Assert.StartsWith("[1] STRUCT meta_left:", e.Message);

        byte[] kind = (byte[])raw.Clone();
        BitConverter.TryWriteBytes(kind.AsSpan(24 + 4), 25u << 24);
        Assert.Equal("[1] Invalid kind:25", Assert.Throws<BpfException>(() => Ebpf.Btf.BtfSpec.Parse(kind)).Message);

        byte[] name = (byte[])raw.Clone();
        BitConverter.TryWriteBytes(name.AsSpan(24), 0x00ffff00u);
        Assert.StartsWith("[1] Invalid name_offset:16776960", Assert.Throws<BpfException>(() => Ebpf.Btf.BtfSpec.Parse(name)).Message);

        byte[] strEnd = (byte[])raw.Clone();
        strEnd[^1] = (byte)'x';
        Assert.Contains("Invalid string section", Assert.Throws<BpfException>(() => Ebpf.Btf.BtfSpec.Parse(strEnd)).Message);
    }

    [Fact]
    public void Cyclic_types_fail_to_print_instead_of_overflowing_the_stack()
    {
        var b = new BtfBuilder();
        b.AddTypedef("a", 2);
        b.AddTypedef("b", 1);
        b.AddPtr(4);
        b.AddPtr(3);
        b.AddStruct("", 8, new BtfMember("self", 5, 0));
        b.AddConst(5);
        b.AddStruct("user", 8, new BtfMember("x", 5, 0));
        var btf = b.Build();
        Assert.NotNull(BtfValidator.Check(btf));
        var e = Record.Exception(() => new BtfCPrinter(btf).Print());
        Assert.True(e is null or BpfException, e?.ToString());

        var huge = new BtfBuilder();
        uint i = huge.AddInt("int", 4, BtfIntEncoding.Signed);
        huge.AddStruct("huge", uint.MaxValue, new BtfMember("x", i, 0));
        Assert.Equal(Errno.E2BIG, Assert.Throws<BpfException>(() => new BtfCPrinter(huge.Build()).Print()).Errno);
    }

    [Fact]
    public void Mutated_vmlinux_prefixes_fail_cleanly()
    {
        byte[] raw = BtfFixtures.VmlinuxBytes();
        var rng = new Random(99);
        for (int i = 0; i < 20; i++)
        {
            int len = rng.Next(raw.Length);
            Assert.IsType<BpfException>(Record.Exception(() => Ebpf.Btf.BtfSpec.Parse(raw.AsSpan(0, len))));
        }
    }

    [Fact]
    public void Every_corpus_btf_including_invalid_parses_or_fails_with_BpfException()
    {
        int ok = 0, failed = 0;
        foreach (var (path, elf) in BtfFixtures.CorpusWithBtf(includeInvalid: true))
        {
            try
            {
                var btf = BtfElf.ReadBtf(elf)!;
                if (BtfElf.ReadBtfExt(elf, btf) is { } ext)
                    _ = ext.LineInfos.Count;
                ok++;
            }
            catch (BpfException)
            {
                failed++;
                Assert.Contains($"{Path.DirectorySeparatorChar}invalid{Path.DirectorySeparatorChar}", path);
            }
        }
        Assert.True(ok > 0);
    }
}
