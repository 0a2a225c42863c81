using System.Text;
using Ebpf.Abi;
using Ebpf.Collections;
using Ebpf.Loading;
using Ebpf.Runtime;

namespace Ebpf.Tests.Iter;

/// <summary>
/// iter/bpf_map_elem in the managed runtime (tests/fixtures/iter/map_elem.bpf.c; this machine's kernel refuses the
/// program type at load with EPERM, so these are checked against the kernel's rules, not its output): every element
/// shown once with its key and value, writes through the value reaching the map, the final call with NULL key and
/// value, the link's checks (EBADF without a map, EINVAL for a map type the target cannot walk, EACCES when the
/// verified accesses exceed the map's sizes), a retried element, and a pinned link read as `cat` reads it.
/// </summary>
public class MapElemIteratorTests
{
    private const int ValueSize = 72;
    private static ObjectSpec Spec => ObjectSpec.Load(SharedData.Fixture("iter/map_elem.bpf.o"));

    private static byte[] Value(long number, string name, byte[] image)
    {
        var v = new byte[ValueSize];
        BitConverter.GetBytes(0u).CopyTo(v, 0);      // iphdr
        BitConverter.GetBytes(1u).CopyTo(v, 4);      // BTF_F_COMPACT
        BitConverter.GetBytes(number).CopyTo(v, 8);
        Encoding.ASCII.GetBytes(name).CopyTo(v, 16);
        image.CopyTo(v, 32);
        return v;
    }

    private static (BpfRuntime Runtime, BpfCollection Objects, BpfMap Map) Setup(MapType type, uint valueSize = ValueSize)
    {
        var runtime = new BpfRuntime();
        var c = runtime.Load(Spec);
        var map = runtime.Backend.CreateMap(new MapDefinition(type, 4, valueSize, 4, Name: "elems"));
        if (valueSize == ValueSize)
            for (uint k = 0; k < 4; k++)
            {
                var image = new byte[40];
                image[0] = 0x45; image[12] = 10; image[15] = (byte)k; image[16] = 192; image[19] = 1;
                var value = Value(100 + k, $"n{k}", image);
                // A per-CPU map takes one value per possible CPU (the iterator shows them side by side).
                var all = new byte[map.ValueBufferSize];
                for (int at = 0; at < all.Length; at += ValueSize)
                    value.CopyTo(all, at);
                map.Update(BitConverter.GetBytes(k), all);
            }
        return (runtime, c, map);
    }

    [Fact]
    public void Every_element_is_shown_once_then_the_final_call_and_value_writes_reach_the_map()
    {
        var (runtime, c, map) = Setup(MapType.Array);
        using (c)
        using (map)
        {
            using var link = c.Programs["dump_elems"].AttachIterator(map);
            using var it = link.CreateIterator();
            string text = Encoding.Latin1.GetString(it.ReadToEnd(7));
            var lines = text.Split('\n');
            Assert.Equal("key   |number|name", lines[0]);
            Assert.Equal("0     |   100|n0|64 64 64 n0 %", lines[1]);
            Assert.Equal("00100 +100  100 0 69.0.0.0 000.000.000.000", lines[2]); // %pI4 of image, %pi4 of image + 4
            Assert.Contains("3     |   103|n3|67 67 67 n3 %", lines);
            Assert.Contains("(struct iphdr){.ihl = (__u8)0x5,.version = (__u8)0x4,", text);
            Assert.EndsWith("end: seq_num 3\n", text); // seq_num counts the elements after the first
            Assert.Equal(4, lines.Count(l => l.StartsWith("raw:", StringComparison.Ordinal)));
            Assert.Equal(1100L, BitConverter.ToInt64(map.Lookup(BitConverter.GetBytes(0u)), 8)); // v->number += 1000
            Assert.Equal(0, it.Read(new byte[16])); // after the final call: end of file
            // A new session starts over, and sees the updated values.
            using var again = link.CreateIterator();
            Assert.Contains("0     |  1100|n0|", Encoding.Latin1.GetString(again.ReadToEnd()));
        }
    }

    [Theory]
    [InlineData(MapType.Hash)]
    [InlineData(MapType.LruHash)]
    [InlineData(MapType.PercpuArray)]
    [InlineData(MapType.PercpuHash)]
    public void Hash_and_per_cpu_maps_are_walked_too(MapType type)
    {
        var (runtime, c, map) = Setup(type);
        using (c)
        using (map)
        {
            using var link = c.Programs["dump_elems"].AttachIterator(map);
            using var it = link.CreateIterator();
            string text = Encoding.Latin1.GetString(it.ReadToEnd());
            for (int k = 0; k < 4; k++)
                Assert.Contains($"{k}     |   {100 + k}|n{k}|", text);
            Assert.EndsWith("end: seq_num 3\n", text);
        }
    }

    [Fact]
    public void An_open_iterator_holds_its_link_and_map_after_every_handle_is_closed()
    {
        var (runtime, c, map) = Setup(MapType.Hash);
        BpfIterator it;
        using (c)
        {
            using var link = c.Programs["dump_elems"].AttachIterator(map);
            it = link.CreateIterator();
        }
        map.Dispose();
        uint mapId = runtime.GetIds(Abi.ObjectKind.Map).Last();
        using (it)
            Assert.EndsWith("end: seq_num 3\n", Encoding.Latin1.GetString(it.ReadToEnd()));
        // The session was the last holder: the link, its program and the map are gone with it.
        Assert.Empty(runtime.GetIds(Abi.ObjectKind.Link));
        Assert.DoesNotContain(mapId, runtime.GetIds(Abi.ObjectKind.Map));
    }

    [Fact]
    public void The_checked_interpreter_reads_the_same_as_the_verified_run()
    {
        string Read(bool alwaysChecked)
        {
            var runtime = new BpfRuntime();
            using var c = runtime.Load(Spec, new ObjectLoadOptions { AlwaysChecked = alwaysChecked });
            using var map = runtime.Backend.CreateMap(new MapDefinition(MapType.Array, 4, ValueSize, 3, Name: "elems"));
            map.Update(BitConverter.GetBytes(1u), Value(7, "ck", new byte[40]));
            Assert.Equal(alwaysChecked ? Ebpf.Execution.ExecutionMode.Checked : Ebpf.Execution.ExecutionMode.Unchecked,
                c.Programs["dump_elems"].Program.ExecutionMode);
            using var link = c.Programs["dump_elems"].AttachIterator(map);
            using var it = link.CreateIterator();
            return Encoding.Latin1.GetString(it.ReadToEnd());
        }
        string verified = Read(false);
        Assert.Contains("1     |     7|ck|", verified);
        Assert.Equal(verified, Read(true));
    }

    /// <summary>Sessions read on two threads while a third deletes and re-adds the hash map's elements: every element line
    /// is whole (a value is never seen torn or freed), and each session ends with its final call.</summary>
    [Fact]
    public void Sessions_read_concurrently_with_deletes_and_updates()
    {
        var (runtime, c, map) = Setup(MapType.Hash);
        using (c)
        using (map)
        {
            using var link = c.Programs["dump_elems"].AttachIterator(map);
            int stop = 0, sessions = 0;
            Exception? failure = null;
            var writer = new Thread(() =>
            {
                var image = new byte[40];
                for (uint i = 0; Volatile.Read(ref stop) == 0; i++)
                {
                    uint k = i % 4;
                    map.Delete(BitConverter.GetBytes(k));
                    map.Update(BitConverter.GetBytes(k), Value(100 + k, $"n{k}", image));
                }
            });
            var readers = Enumerable.Range(0, 2).Select(_ => new Thread(() =>
            {
                try
                {
                    for (int round = 0; round < 200; round++)
                    {
                        using var it = link.CreateIterator();
                        string text = Encoding.Latin1.GetString(it.ReadToEnd(64));
                        Assert.EndsWith("\n", text);
                        Assert.Contains("end: seq_num ", text);
                        foreach (var line in text.Split('\n').Where(l => l.Length > 0 && char.IsDigit(l[0]) && l.Contains('|')))
                            Assert.Matches(@"^[0-3] +\| *\d+\|n[0-3]\|[0-9a-f]+ [0-9A-F]+ [0-9a-f]+ n[0-3] %$", line);
                        Interlocked.Increment(ref sessions);
                    }
                }
                catch (Exception e)
                {
                    failure = e;
                }
            })).ToArray();
            writer.Start();
            foreach (var r in readers) r.Start();
            foreach (var r in readers) r.Join();
            Volatile.Write(ref stop, 1);
            writer.Join();
            Assert.Null(failure);
            Assert.Equal(400, sessions);
        }
    }

    [Fact]
    public void The_link_refuses_as_bpf_iter_attach_map_does()
    {
        var runtime = new BpfRuntime();
        using var c = runtime.Load(Spec);
        var prog = c.Programs["dump_elems"];
        Assert.Equal(Errno.EBADF, Assert.Throws<BpfException>(() => prog.AttachIterator()).Errno);
        using var queue = runtime.Backend.CreateMap(new MapDefinition(MapType.Queue, 0, 72, 4, Name: "q"));
        Assert.Equal(Errno.EINVAL, Assert.Throws<BpfException>(() => prog.AttachIterator(queue)).Errno);
        using var small = runtime.Backend.CreateMap(new MapDefinition(MapType.Array, 4, 16, 4, Name: "small"));
        Assert.Equal(Errno.EACCES, Assert.Throws<BpfException>(() => prog.AttachIterator(small)).Errno);
        using var smallKey = runtime.Backend.CreateMap(new MapDefinition(MapType.Hash, 2, 72, 4, Name: "smallkey"));
        Assert.Equal(Errno.EACCES, Assert.Throws<BpfException>(() => prog.AttachIterator(smallKey)).Errno);
    }

    [Fact]
    public void A_program_returning_1_stops_the_read_before_that_element_which_the_next_read_shows()
    {
        var (runtime, c, map) = Setup(MapType.Array);
        using (c)
        using (map)
        {
            var bss = c.Maps.First(kv => kv.Key.EndsWith(".bss", StringComparison.Ordinal)).Value;
            var image = bss.Lookup(new byte[4]);
            BitConverter.GetBytes(2u).CopyTo(image, 0); // mode 2 (mode is the first .bss variable)
            bss.Update(new byte[4], image);
            using var link = c.Programs["dump_elems"].AttachIterator(map);
            using var it = link.CreateIterator();
            var buffer = new byte[65536];
            string first = Encoding.Latin1.GetString(buffer, 0, it.Read(buffer));
            Assert.Contains("1     |   101|", first);
            Assert.DoesNotContain("2     |", first);
            string rest = Encoding.Latin1.GetString(it.ReadToEnd());
            Assert.StartsWith("2     |   102|", rest);
            Assert.EndsWith("end: seq_num 3\n", rest);
        }
    }

    [Fact]
    public void A_pinned_iterator_link_reads_like_cat_on_a_bpftool_pinned_iterator()
    {
        var (runtime, c, map) = Setup(MapType.Array);
        using (c)
        using (map)
        {
            using (var link = c.Programs["dump_elems"].AttachIterator(map))
                runtime.Backend.Pin(link, "/sys/fs/bpf/elems_iter");
            using var first = runtime.Backend.OpenPinnedIterator("/sys/fs/bpf/elems_iter");
            string a = Encoding.Latin1.GetString(first.ReadToEnd());
            using var second = runtime.Backend.OpenPinnedIterator("/sys/fs/bpf/elems_iter");
            string b = Encoding.Latin1.GetString(second.ReadToEnd());
            Assert.Contains("0     |   100|n0|", a);
            Assert.Contains("0     |  1100|n0|", b); // each open is a new session (and the first one's writes stuck)
            runtime.Backend.Unpin("/sys/fs/bpf/elems_iter");
        }
    }
}
