using System.Buffers.Binary;
using Ebpf.Abi;
using Ebpf.Loading;
using Ebpf.Runtime;
using Ebpf.Runtime.Maps;
using Ebpf.Runtime.Objects;

namespace Ebpf.Tests.Runtime;

/// <summary>clang-built programs loaded from their objects and run through BPF_PROG_TEST_RUN in the checked interpreter.</summary>
public class EndToEndTests
{
    private static ObjectSpec Spec(string name) => ObjectSpec.Load(SharedData.Fixture($"runtime/{name}.bpf.o"));

    private static byte[] Frame(ushort etherType, int size = 60)
    {
        var f = new byte[size];
        f.AsSpan(0, 6).Fill(0xaa);
        f[12] = (byte)(etherType >> 8);
        f[13] = (byte)etherType;
        if (etherType == 0x0800)
        {
            f[14] = 0x45;
            f[16] = 0; f[17] = (byte)(size - 14);
            f[22] = 64; f[23] = 17; // UDP
        }
        return f;
    }

    [Fact]
    public void Xdp_program_counts_packets_in_a_hash_map()
    {
        var rt = new BpfRuntime();
        using var coll = rt.Load(Spec("xdp_count"));
        var prog = coll.Programs["xdp_count"];
        var r = rt.TestRun(prog, new TestRunOptions { DataIn = Frame(0x0800), Repeat = 3 });
        Assert.Equal(2u, r.ReturnValue); // XDP_PASS
        rt.TestRun(prog, new TestRunOptions { DataIn = Frame(0x86dd) });
        var counts = coll.Maps["counts"].Map.Maps!;
        var value = new byte[8];
        counts.Lookup(BitConverter.GetBytes(0x0800u), value);
        Assert.Equal(3ul, BitConverter.ToUInt64(value));
        counts.Lookup(BitConverter.GetBytes(0x86ddu), value);
        Assert.Equal(1ul, BitConverter.ToUInt64(value));
        Assert.Equal([coll.Maps["counts"].Id], prog.GetInfo().MapIds);
        Assert.Equal(coll.Btf!.Id, prog.GetInfo().BtfId);
        Assert.Equal("af91aefebd0ba4b9", prog.GetInfo().TagHex); // what Linux 6.18 reports for this object (bpftool prog load)
        Assert.Equal(coll.Btf.Id, coll.Maps["counts"].GetInfo().BtfId);
        // A runt frame: the program's bounds check drops it (data_end - data = 14 is fine, so cut via ctx).
        var ctx = new byte[24];
        BinaryPrimitives.WriteUInt32LittleEndian(ctx.AsSpan(4), 10);
        Assert.Equal(1u, rt.TestRun(prog, new TestRunOptions { DataIn = Frame(0x0800), ContextIn = ctx }).ReturnValue); // XDP_DROP
    }

    [Fact]
    public void Socket_filter_sees_l3_and_len_without_ethernet()
    {
        var rt = new BpfRuntime();
        using var coll = rt.Load(Spec("socket_filter"));
        var prog = coll.Programs["udp_only"];
        Assert.Equal(46u, rt.TestRun(prog, new TestRunOptions { DataIn = Frame(0x0800) }).ReturnValue);
        var tcp = Frame(0x0800);
        tcp[23] = 6;
        Assert.Equal(0u, rt.TestRun(prog, new TestRunOptions { DataIn = tcp }).ReturnValue);
        Assert.Equal(0u, rt.TestRun(prog, new TestRunOptions { DataIn = Frame(0x1234) }).ReturnValue);
    }

    [Fact]
    public void Tail_call_chain_with_global_data_and_printk()
    {
        var rt = new BpfRuntime();
        using var coll = rt.Load(Spec("tail_call"));
        var jmp = coll.Maps["jmp"].Map.ProgramSlots!;
        jmp.Set(1, coll.Programs["stage1"].Program);
        jmp.Set(2, coll.Programs["stage2"].Program);
        var r = rt.TestRun(coll.Programs["entry"], new TestRunOptions { DataIn = Frame(0x0800) });
        Assert.Equal(102u, r.ReturnValue); // stage2: 2 + bonus (from .rodata)
        var bss = coll.Maps.Values.Single(m => m.Map.Name.Contains("bss")).Map.Maps!;
        var visits = new byte[8];
        bss.Lookup(new byte[4], visits);
        Assert.Equal(11ul, BitConverter.ToUInt64(visits));
        Assert.EndsWith("bpf_trace_printk: stage2 visits=11", rt.TraceLog.Snapshot().Single());
        Assert.True(coll.Maps.Values.Single(m => m.Map.Name.Contains("rodata")).Map.IsFrozen);
        // Without slot 2 stage1 falls through and returns 1.
        jmp.Delete(2);
        Assert.Equal(1u, rt.TestRun(coll.Programs["entry"], new TestRunOptions { DataIn = Frame(0x0800) }).ReturnValue);
    }

    [Fact]
    public void Ringbuf_records_are_read_by_the_host()
    {
        var rt = new BpfRuntime();
        using var coll = rt.Load(Spec("ringbuf"));
        var f = Frame(0x0800, 42);
        f[0] = 0x5a;
        Assert.Equal(2u, rt.TestRun(coll.Programs["produce"], new TestRunOptions { DataIn = f }).ReturnValue);
        var ring = (RingBufMap)coll.Maps["events"].Map.Maps!;
        var records = new List<(uint, uint)>();
        using var reader = new RingBufferReader(ring);
        reader.Consume(data => { records.Add((BitConverter.ToUInt32(data), BitConverter.ToUInt32(data[4..]))); return 0; });
        Assert.Equal([(42u, 0x5au), (7u, 9u)], records);
    }

    [Fact]
    public void Concurrent_test_runs_share_maps_without_losing_counts()
    {
        var rt = new BpfRuntime();
        using var coll = rt.Load(Spec("xdp_count"));
        var prog = coll.Programs["xdp_count"];
        rt.TestRun(prog, new TestRunOptions { DataIn = Frame(0x0800) }); // creates the element (BPF_NOEXIST race avoided)
        Parallel.For(0, 4, t =>
        {
            var frame = Frame(t % 2 == 0 ? (ushort)0x0800 : (ushort)0x0806);
            for (int i = 0; i < 50; i++)
                Assert.Equal(2u, rt.TestRun(prog, new TestRunOptions { DataIn = frame, Repeat = 20 }).ReturnValue);
        });
        var counts = coll.Maps["counts"].Map.Maps!;
        var value = new byte[8];
        counts.Lookup(BitConverter.GetBytes(0x0800u), value);
        Assert.Equal(1ul + 2 * 50 * 20, BitConverter.ToUInt64(value)); // atomic adds from parallel invocations
        Assert.True(counts.TryLookup(BitConverter.GetBytes(0x0806u), value));
        Assert.InRange(BitConverter.ToUInt64(value), 2ul * 50 * 20 - 1, 2ul * 50 * 20); // first two inserts may race on BPF_NOEXIST
    }

    [Fact]
    public void Loop_and_for_each_callbacks()
    {
        var rt = new BpfRuntime();
        // Linux 6.18 accepts this object, and so does our verifier (callbacks are verified from their first insn).
        using var coll = rt.Load(Spec("callbacks"));
        Assert.True(coll.Programs["callbacks"].Program.Verification!.Accepted);
        var values = coll.Maps["values"].Map.Maps!;
        values.Update(BitConverter.GetBytes(0u), BitConverter.GetBytes(5ul));
        values.Update(BitConverter.GetBytes(1u), BitConverter.GetBytes(7ul));
        values.Update(BitConverter.GetBytes(2u), BitConverter.GetBytes(0xfful)); // stops here
        values.Update(BitConverter.GetBytes(3u), BitConverter.GetBytes(1000ul));
        Assert.Equal(2u, rt.TestRun(coll.Programs["callbacks"], new TestRunOptions { DataIn = Frame(0x0800) }).ReturnValue);
        var result = coll.Maps["result"].Map.Maps!;
        ulong Get(uint k) { var v = new byte[8]; result.Lookup(BitConverter.GetBytes(k), v); return BitConverter.ToUInt64(v); }
        Assert.Equal(55ul, Get(0)); // 1 + … + 10
        Assert.Equal(10ul, Get(1));
        Assert.Equal(12ul, Get(2));
        Assert.Equal(3ul, Get(3));  // visited includes the element whose callback returned 1
    }

    [Fact]
    public void Cli_batch_tail_calls_through_pinned_prog_array_and_tracelog()
    {
        string obj = SharedData.Fixture("runtime/tail_call.bpf.o");
        string pkt = Path.GetTempFileName();
        string batch = Path.GetTempFileName();
        try
        {
            File.WriteAllBytes(pkt, Frame(0x0800));
            File.WriteAllText(batch, $"""
                prog loadall {obj} /sys/fs/bpf/tc pinmaps /sys/fs/bpf/tcmaps
                map update pinned /sys/fs/bpf/tcmaps/jmp key 1 0 0 0 value pinned /sys/fs/bpf/tc/stage1
                map update pinned /sys/fs/bpf/tcmaps/jmp key 2 0 0 0 value pinned /sys/fs/bpf/tc/stage2
                map dump pinned /sys/fs/bpf/tcmaps/jmp
                prog run pinned /sys/fs/bpf/tc/entry data_in {pkt} data_out -
                prog tracelog
                """);
            var r = CliRunner.Run("batch", "file", batch);
            Assert.True(r.ExitCode == 0, r.Stdout + r.Stderr);
            // jmp has BTF (u32 → u32): bpftool's formatted dump, values are program ids.
            Assert.Matches(@"\[\{\n        ""key"": 1,\n        ""value"": \d+\n    \},\{\n        ""key"": 2,\n        ""value"": \d+\n    \}\n\]\n", r.Stdout);
            Assert.Contains("0000000\taaaa aaaa aaaa", r.Stdout);
            Assert.Matches(@"Return value: 102, duration: \d+ns", r.Stdout);
            Assert.Contains("bpf_trace_printk: stage2 visits=11", r.Stdout);
            var json = CliRunner.Run("-j", "batch", "file", batch);
            Assert.True(json.ExitCode == 0, json.Stderr);
            Assert.Contains("\"retval\":102", json.Stdout);
            Assert.Contains("\"data_out\":[170,170,", json.Stdout);
        }
        finally
        {
            File.Delete(pkt);
            File.Delete(batch);
        }
    }

    [Fact]
    public void Map_outlives_its_handle_while_the_program_lives()
    {
        var rt = new BpfRuntime();
        var coll = rt.Load(Spec("xdp_count"));
        var prog = coll.Programs["xdp_count"].Duplicate();
        coll.Dispose();
        Assert.Single(rt.GetIds(ObjectKind.Map));
        rt.TestRun(prog, new TestRunOptions { DataIn = Frame(0x0800) }); // still uses the map
        Assert.Single(rt.GetIds(ObjectKind.Btf)); // the program holds the object's BTF
        prog.Dispose();
        Assert.Empty(rt.GetIds(ObjectKind.Map));
        Assert.Empty(rt.GetIds(ObjectKind.Program));
        Assert.Empty(rt.GetIds(ObjectKind.Btf));
    }

    [Fact]
    public void Bad_objects_fail_cleanly_and_leave_no_ids()
    {
        void Check(Action<ObjectSpec> edit, Errno expected, string name = "tail_call")
        {
            var rt = new BpfRuntime();
            var spec = Spec(name);
            edit(spec);
            var e = Assert.Throws<BpfException>(() => rt.Load(spec));
            Assert.Equal(expected, e.Errno);
            Assert.Empty(rt.GetIds(ObjectKind.Map));
            Assert.Empty(rt.GetIds(ObjectKind.Program));
            Assert.Empty(rt.GetIds(ObjectKind.Btf));
            Assert.Empty(rt.Pins.List(recursive: true));
        }
        Check(s => s.FindMap("jmp")!.Type = (MapType)99, Errno.EINVAL);
        Check(s => s.FindMap("jmp")!.KeySize = 8, Errno.EINVAL);
        Check(s => s.FindMap("jmp")!.MaxEntries = 0, Errno.EINVAL);
        Check(s => s.Maps.Single(m => m.Name.Contains("bss")).InitialValue = new byte[64], Errno.EINVAL);
        Check(s => s.Programs[0].Type = ProgramType.Unspec, Errno.EINVAL);
        Check(s => s.FindMap("counts")!.ValueSize = 0, Errno.EINVAL, "xdp_count");
    }

    [Fact]
    public void Pinned_by_name_maps_are_reused()
    {
        var rt = new BpfRuntime();
        var spec = Spec("xdp_count");
        spec.FindMap("counts")!.Pinning = MapPinning.ByName;
        using var first = rt.Load(spec);
        using var second = rt.Load(spec);
        Assert.Equal(first.Maps["counts"].Id, second.Maps["counts"].Id);
        var other = Spec("xdp_count");
        other.FindMap("counts")!.Pinning = MapPinning.ByName;
        other.FindMap("counts")!.MaxEntries = 8;
        Assert.Equal(Errno.EINVAL, Assert.Throws<BpfException>(() => rt.Load(other)).Errno);
    }

    [Fact]
    public void Cli_batch_loads_runs_and_dumps()
    {
        string obj = SharedData.Fixture("runtime/xdp_count.bpf.o");
        string pkt = Path.GetTempFileName();
        string batch = Path.GetTempFileName();
        try
        {
            File.WriteAllBytes(pkt, Frame(0x0800));
            File.WriteAllText(batch, $"""
                prog load {obj} /sys/fs/bpf/xc
                prog show pinned /sys/fs/bpf/xc
                prog run pinned /sys/fs/bpf/xc data_in {pkt} repeat 2
                map dump name counts
                map lookup name counts key hex 00 08 00 00
                map update name counts key 1 0 0 0 value 5 0 0 0 0 0 0 0 noexist
                map getnext name counts
                map delete name counts key 1 0 0 0
                """);
            var r = CliRunner.Run("batch", "file", batch);
            Assert.True(r.ExitCode == 0, r.Stdout + r.Stderr);
            Assert.Matches(@"1: xdp  name xdp_count  tag [0-9a-f]{16}  gpl\n\tloaded_at \S+  uid 0\n\txlated \d+B  jited \d+B  memlock \d+B  map_ids 1\n", r.Stdout);
            Assert.Matches(@"Return value: 2, duration \(average\): \d+ns", r.Stdout);
            Assert.Contains("[{\n        \"key\": 2048,\n        \"value\": 2\n    }\n]\n", r.Stdout); // BTF-formatted, as bpftool
            Assert.Contains("processed 8 commands", r.Stdout);
        }
        finally
        {
            File.Delete(pkt);
            File.Delete(batch);
        }
    }
}
