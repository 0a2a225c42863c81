using System.Text;
using Ebpf.Abi;
using Ebpf.Collections;
using Ebpf.Loading;

namespace Ebpf.Tests.Iter;

/// <summary>
/// BPF iterators on both backends (tests/fixtures/iter/map_list.bpf.c): the same iter/bpf_map program over the same
/// global data must read back byte-identical from the managed runtime and from this machine's kernel — bpf_seq_printf
/// with integer, padded, signed, hex, char, string and IPv4/IPv6 formats, bpf_seq_write, bpf_seq_printf_btf of
/// iphdr, tcphdr, bpf_insn and in6_addr under all 16 BTF_F_* sets, the final call — whole or in small chunks; an
/// element whose output overflows the 32 KiB buffer is retried and then fails with E2BIG at the same byte on both.
/// (This kernel refuses iter/bpf_map_elem programs at load with EPERM, so bpf_map is the target compared.)
/// </summary>
public class IterDifferentialTests(ITestOutputHelper output)
{
    private const int ItemSize = 72, Items = 16;
    private static string FixturePath => SharedData.Fixture("iter/map_list.bpf.o");

    private static Dictionary<string, (int Offset, int Size)> BssLayout() =>
        Ebpf.Elf.ElfFile.Open(FixturePath).Symbols.Where(s => s.Name is "items" or "shown" or "big" or "errs")
            .ToDictionary(s => s.Name, s => ((int)s.Value, (int)s.Size));

    private static byte[] ItemsImage()
    {
        var rng = new Random(20261207);
        var image = new byte[ItemSize * Items];
        string[] names = ["alpha", "b", "", "gamma-delta-eps", "x9", "naïve", "tab\there", "zz"];
        for (int i = 0; i < Items; i++)
        {
            var item = image.AsSpan(i * ItemSize, ItemSize);
            BitConverter.GetBytes((uint)(i % 4)).CopyTo(item);
            BitConverter.GetBytes((uint)i).CopyTo(item[4..]); // flags: every BTF_F_* combination once
            long number = i switch { 0 => 0, 1 => -1, 2 => int.MaxValue, 3 => long.MinValue, _ => rng.NextInt64(-100000, 100000) };
            BitConverter.GetBytes(number).CopyTo(item[8..]);
            var name = Encoding.UTF8.GetBytes(names[i % names.Length]);
            name.AsSpan(0, Math.Min(15, name.Length)).CopyTo(item[16..]);
            var img = item[32..];
            rng.NextBytes(img);
            if (i % 3 == 0)
                img[10..].Clear(); // mostly-zero images exercise zero suppression and BTF_F_ZERO
        }
        return image;
    }

    private sealed record Outcome(byte[] Text, Errno Error, long[] Errs);

    private static Outcome Run(IBpfBackend backend, uint big, int chunk)
    {
        var layout = BssLayout();
        var extra = new List<BpfMap>();
        try
        {
            // Enough maps on either backend for `shown` elements (the kernel has others too; they are not printed).
            for (int i = 0; i < Items; i++)
                extra.Add(backend.CreateMap(new MapDefinition(MapType.Array, 4, 4, 1, Name: $"iter_pad{i}")));
            using var c = BpfCollection.Load(backend, ObjectSpec.Load(FixturePath));
            var bss = c.Maps.First(kv => kv.Key.EndsWith(".bss", StringComparison.Ordinal)).Value;
            var image = new byte[bss.ValueBufferSize];
            ItemsImage().CopyTo(image, layout["items"].Offset);
            BitConverter.GetBytes((uint)Items).CopyTo(image, layout["shown"].Offset);
            BitConverter.GetBytes(big).CopyTo(image, layout["big"].Offset);
            bss.Update(new byte[4], image);
            using var link = c.Programs["list_maps"].AttachIterator();
            using var it = link.CreateIterator();
            var text = new MemoryStream();
            var buffer = new byte[chunk];
            Errno error = Errno.None;
            try
            {
                int n;
                while ((n = it.Read(buffer)) > 0)
                    text.Write(buffer, 0, n);
            }
            catch (BpfException e)
            {
                error = e.Errno;
            }
            var after = bss.Lookup(new byte[4]);
            var errs = Enumerable.Range(0, Items).Select(i => BitConverter.ToInt64(after, layout["errs"].Offset + i * 8)).ToArray();
            return new Outcome(text.ToArray(), error, errs);
        }
        finally
        {
            foreach (var m in extra)
                m.Dispose();
        }
    }

    [Theory]
    [InlineData(4096)]
    [InlineData(1)]
    [InlineData(37)]
    public void The_same_iterator_reads_identically_from_the_runtime_and_the_kernel(int chunk)
    {
        using var managed = TestBackend.Create(Backends.Managed);
        using var kernel = TestBackend.Create(Backends.Linux);
        var ours = Run(managed.Backend, 0, chunk);
        var theirs = Run(kernel.Backend, 0, chunk);
        output.WriteLine(Encoding.Latin1.GetString(theirs.Text));
        Assert.Equal(Errno.None, theirs.Error);
        Assert.Equal(Errno.None, ours.Error);
        Assert.Equal(Encoding.Latin1.GetString(theirs.Text), Encoding.Latin1.GetString(ours.Text));
        Assert.Equal(theirs.Errs, ours.Errs);
        // Not vacuous: every item printed its lines and the final call its own.
        string text = Encoding.Latin1.GetString(ours.Text);
        Assert.EndsWith("end\n", text);
        Assert.Equal(Items, text.Split('\n').Count(l => l.StartsWith("raw:", StringComparison.Ordinal)));
        Assert.Contains(".saddr = (__be32)", text);
        // Chunked reading gives the bytes of a whole read.
        if (chunk != 4096)
            Assert.Equal(Run(managed.Backend, 0, 4096).Text, ours.Text);
    }

    private static (string Text, long[] Rets) RunErrors(IBpfBackend backend)
    {
        string path = SharedData.Fixture("iter/seq_errors.bpf.o");
        int retsOffset = (int)Ebpf.Elf.ElfFile.Open(path).Symbols.Single(s => s.Name == "rets").Value;
        using var c = BpfCollection.Load(backend, ObjectSpec.Load(path));
        using var link = c.Programs["seq_errors"].AttachIterator();
        using var it = link.CreateIterator();
        string text = Encoding.Latin1.GetString(it.ReadToEnd());
        var bss = c.Maps.First(kv => kv.Key.EndsWith(".bss", StringComparison.Ordinal)).Value.Lookup(new byte[4]);
        return (text, Enumerable.Range(0, 23).Select(i => BitConverter.ToInt64(bss, retsOffset + i * 8)).ToArray());
    }

    /// <summary>bpf_bprintf_prepare's rules (%n, %h, %o, precision, * width, %z, 12 arguments, too few, no NUL, control
    /// characters, a trailing %), data_len checks, and bpf_seq_write/bpf_seq_printf_btf argument errors: the same return
    /// values and the same accepted text on both.</summary>
    [Fact]
    public void Format_rules_and_argument_errors_match_the_kernel()
    {
        using var managed = TestBackend.Create(Backends.Managed);
        using var kernel = TestBackend.Create(Backends.Linux);
        var theirs = RunErrors(kernel.Backend);
        var ours = RunErrors(managed.Backend);
        output.WriteLine(string.Join(", ", theirs.Rets));
        output.WriteLine(theirs.Text);
        Assert.Equal(theirs.Rets, ours.Rets);
        Assert.Equal(theirs.Text, ours.Text);
        Assert.StartsWith("1 2 3 4|\n", ours.Text);
        Assert.Contains(-22L, ours.Rets);
    }

    [Theory]
    [InlineData(4096)]
    [InlineData(100)]
    public void An_element_too_big_for_the_buffer_is_E2BIG_at_the_same_byte_on_both(int chunk)
    {
        using var managed = TestBackend.Create(Backends.Managed);
        using var kernel = TestBackend.Create(Backends.Linux);
        var ours = Run(managed.Backend, 3, chunk);
        var theirs = Run(kernel.Backend, 3, chunk);
        Assert.Equal((Errno)7, theirs.Error);
        Assert.Equal(theirs.Error, ours.Error);
        Assert.Equal(Encoding.Latin1.GetString(theirs.Text), Encoding.Latin1.GetString(ours.Text));
        Assert.Contains("raw:", Encoding.Latin1.GetString(ours.Text)); // elements 0 and 1 came out first
    }
}
