using System.Buffers.Binary;
using Ebpf.Loading;

namespace Ebpf.Tests.Loading;

/// <summary>Malformed objects open or fail with a clear BpfException: never another exception, a hang or a huge allocation.</summary>
public sealed class MalformedObjectTests
{
    private static readonly string[] Fixtures = ["maps", "legacy_maps", "programs", "unresolved"];

    private static void OpensOrFailsCleanly(byte[] bytes, string what)
    {
        try
        {
            var spec = ObjectSpec.Parse(bytes, what);
            foreach (var p in spec.Programs)
                Assert.True(p.Instructions.Length <= bytes.Length / 8 * Math.Max(1, spec.Programs.Count + 8), $"{what}: {p.Name} grew beyond bound");
        }
        catch (BpfException e)
        {
            Assert.False(string.IsNullOrWhiteSpace(e.Message), what);
        }
        catch (Exception e)
        {
            Assert.Fail($"{what}: {e.GetType().Name}: {e.Message}\n{e.StackTrace}");
        }
    }

    [Theory]
    [InlineData("maps")]
    [InlineData("legacy_maps")]
    [InlineData("programs")]
    [InlineData("unresolved")]
    public void RandomByteCorruptionNeverEscapesAsAnotherException(string fixture)
    {
        byte[] original = File.ReadAllBytes(SharedData.Fixture($"loading/{fixture}.bpf.o"));
        int seed = int.TryParse(Environment.GetEnvironmentVariable("EBPF_FUZZ_SEED"), out int s) ? s : 0x5eed;
        var random = new Random(seed ^ fixture.Length * 7919);
        // EBPF_FUZZ_ROUNDS raises the count for longer local runs.
        int rounds = int.TryParse(Environment.GetEnvironmentVariable("EBPF_FUZZ_ROUNDS"), out int r) ? r : 1500;
        for (int round = 0; round < rounds; round++)
        {
            byte[] bytes = (byte[])original.Clone();
            int flips = 1 + random.Next(8);
            for (int i = 0; i < flips; i++)
                bytes[random.Next(bytes.Length)] = (byte)random.Next(256);
            OpensOrFailsCleanly(bytes, $"{fixture} round {round}");
        }
    }

    /// <summary>struct_ops objects corrupted at random: the .struct_ops sections' parsing and their binding to the
    /// kernel structs (libbpf's init_kern_struct_ops_maps against vmlinux BTF) fail with a BpfException or succeed,
    /// never with another exception.</summary>
    [Theory]
    [InlineData("tcp_ca")]
    [InlineData("rules")]
    public void Corrupted_struct_ops_objects_fail_cleanly_when_bound_to_the_kernel(string fixture)
    {
        var vmlinux = Btf.BtfFixtures.Vmlinux();
        byte[] original = File.ReadAllBytes(SharedData.Fixture($"struct_ops/{fixture}.bpf.o"));
        var random = new Random(0x5eed ^ fixture.Length * 7919);
        for (int round = 0; round < 600; round++)
        {
            byte[] bytes = (byte[])original.Clone();
            int flips = 1 + random.Next(8);
            for (int i = 0; i < flips; i++)
                bytes[random.Next(bytes.Length)] = (byte)random.Next(256);
            string what = $"{fixture} round {round}";
            try
            {
                _ = StructOpsBinding.BindAll(ObjectSpec.Parse(bytes, what), vmlinux);
            }
            catch (BpfException e)
            {
                Assert.False(string.IsNullOrWhiteSpace(e.Message), what);
            }
            catch (Exception e)
            {
                Assert.Fail($"{what}: {e.GetType().Name}: {e.Message}\n{e.StackTrace}");
            }
        }
    }

    [Fact]
    public void EveryTruncationFailsCleanly()
    {
        byte[] original = File.ReadAllBytes(SharedData.Fixture("loading/programs.bpf.o"));
        for (int length = 0; length < original.Length; length += 7)
            OpensOrFailsCleanly(original[..length], $"truncated to {length}");
    }

    /// <summary>Section-header fields are where corruption does the most damage: mutate each one of every header.</summary>
    [Fact]
    public void EverySectionHeaderFieldCorruptedFailsCleanly()
    {
        foreach (var fixture in Fixtures)
        {
            byte[] original = File.ReadAllBytes(SharedData.Fixture($"loading/{fixture}.bpf.o"));
            ulong shoff = BinaryPrimitives.ReadUInt64LittleEndian(original.AsSpan(40));
            int shnum = BinaryPrimitives.ReadUInt16LittleEndian(original.AsSpan(60));
            ulong[] values = [0, 1, 7, 0xff, 0xffff, 0x7fffffff, 0xffffffff, 0x7fffffffffffffff, ulong.MaxValue];
            for (int s = 0; s < shnum; s++)
            {
                for (int field = 0; field < 64; field += 8)
                {
                    foreach (var value in values)
                    {
                        byte[] bytes = (byte[])original.Clone();
                        BinaryPrimitives.WriteUInt64LittleEndian(bytes.AsSpan((int)shoff + s * 64 + field), value);
                        OpensOrFailsCleanly(bytes, $"{fixture} section {s} field +{field} = 0x{value:x}");
                    }
                }
            }
        }
    }

    [Fact]
    public void HugeBssIsRefusedRatherThanAllocated()
    {
        byte[] bytes = File.ReadAllBytes(SharedData.Fixture("loading/programs.bpf.o"));
        var elf = Ebpf.Elf.ElfFile.Parse(bytes);
        var bss = elf.FindSection(".bss")!;
        ulong shoff = BinaryPrimitives.ReadUInt64LittleEndian(bytes.AsSpan(40));
        BinaryPrimitives.WriteUInt64LittleEndian(bytes.AsSpan((int)shoff + bss.Index * 64 + 32), 1UL << 40);
        var e = Assert.Throws<BpfException>(() => ObjectSpec.Parse(bytes, "huge-bss.o"));
        Assert.Equal(Errno.E2BIG, e.Errno);
        Assert.Contains(".bss", e.Message);
    }

    [Fact]
    public void NotAnElfFileIsENOEXEC()
    {
        var e = Assert.Throws<BpfException>(() => ObjectSpec.Parse("hello world, this is not an ELF file at all........................"u8.ToArray(), "text.o"));
        Assert.Equal(Errno.ENOEXEC, e.Errno);
    }

    [Fact]
    public void MissingFileIsENOENT()
    {
        var e = Assert.Throws<BpfException>(() => ObjectSpec.Load("/nonexistent/x.bpf.o"));
        Assert.Equal(Errno.ENOENT, e.Errno);
    }

    [Fact]
    public void CorpusInvalidObjectsOpenOrFailCleanly()
    {
        string dir = Path.Combine(SharedData.Require("corpus/objects"), "invalid");
        foreach (var file in Directory.EnumerateFiles(dir).Order(StringComparer.Ordinal))
            OpensOrFailsCleanly(File.ReadAllBytes(file), Path.GetFileName(file));
    }
}
