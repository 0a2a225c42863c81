using System.Buffers.Binary;
using Ebpf.Abi;
using Ebpf.Linux;
using Ebpf.Loading;
using Ebpf.Runtime;
using Ebpf.Runtime.Maps;
using Ebpf.Runtime.Objects;
using Ebpf.Runtime.ProgramTypes;
using Ebpf.Tests.Linux;

namespace Ebpf.Tests.Runtime;

/// <summary>
/// devmap, devmap_hash, cpumap and xskmap (creation, host API, bpf_redirect_map) against the live kernel,
/// and the runtime's network model: the redirect target reported by test_run and live-frames delivery.
/// </summary>
public class RedirectMapTests(ITestOutputHelper output)
{
    private static string FixturePath => SharedData.Fixture("runtime/redirect.bpf.o");
    private static byte[] U32(uint v) => BitConverter.GetBytes(v);
    private static byte[] Val(uint first, int fd = 0) => [.. U32(first), .. BitConverter.GetBytes(fd)];

    private static byte[] Frame(int size = 60)
    {
        var f = new byte[size];
        f.AsSpan(0, 6).Fill(0xaa);
        f[12] = 0x08;
        f[14] = 0x45;
        return f;
    }

    private static Errno Try(Action a)
    {
        try { a(); return Errno.None; }
        catch (BpfException e) { return e.Errno; }
    }

    public static TheoryData<MapType, uint, uint, uint, MapFlags> CreateCases() => new()
    {
        { MapType.Devmap, 4, 4, 4, MapFlags.None },
        { MapType.Devmap, 4, 8, 4, MapFlags.None },
        { MapType.Devmap, 4, 12, 4, MapFlags.None },
        { MapType.Devmap, 4, 4, 4, MapFlags.RdonlyProg },
        { MapType.Devmap, 4, 4, 4, MapFlags.Rdonly },
        { MapType.DevmapHash, 4, 8, 16, MapFlags.None },
        { MapType.DevmapHash, 4, 2, 16, MapFlags.None },
        { MapType.DevmapHash, 4, 4, 4, MapFlags.NoPrealloc },
        { MapType.Cpumap, 4, 4, 2, MapFlags.None },
        { MapType.Cpumap, 4, 8, 2, MapFlags.None },
        { MapType.Cpumap, 4, 6, 2, MapFlags.None },
        { MapType.Cpumap, 4, 4, 257, MapFlags.None },
        { MapType.Cpumap, 4, 4, 2, MapFlags.Rdonly },
        { MapType.Xskmap, 4, 4, 4, MapFlags.None },
        { MapType.Xskmap, 4, 8, 4, MapFlags.None },
        { MapType.Xskmap, 4, 4, 4, MapFlags.Wronly },
    };

    [Theory]
    [MemberData(nameof(CreateCases))]
    public void Creation_rules_and_reported_flags_match_the_kernel(MapType type, uint key, uint value, uint max, MapFlags flags)
    {
        KernelRequirement.Require();
        MapFlags? kernelFlags = null;
        var kernel = Try(() =>
        {
            using var m = KernelMap.Create(new MapCreateAttributes { Type = type, KeySize = key, ValueSize = value, MaxEntries = max, Flags = flags });
            kernelFlags = m.GetInfo().Flags;
        });
        var rt = new BpfRuntime();
        MapFlags? ourFlags = null;
        var ours = Try(() =>
        {
            using var m = rt.CreateMap(new MapDefinition(type, key, value, max, flags));
            ourFlags = m.GetInfo().Flags;
        });
        Assert.Equal(kernel, ours);
        Assert.Equal(kernelFlags, ourFlags); // devmaps gain BPF_F_RDONLY_PROG
    }

    /// <summary>One scripted sequence of host operations; each step's errno (and lookups' values) are compared.</summary>
    private interface IHost
    {
        Errno Update(string map, uint key, byte[] value, MapUpdateFlags flags = MapUpdateFlags.Any);
        (Errno, byte[]?) Lookup(string map, uint key, int size);
        Errno Delete(string map, uint key);
        int ProgramFd(string name);
        uint ProgramId(string name);
    }

    private sealed class KernelHost(BpfCollection c) : IHost
    {
        public Errno Update(string map, uint key, byte[] value, MapUpdateFlags flags) => Try(() => c.Maps[map].Update(U32(key), value, flags));
        public (Errno, byte[]?) Lookup(string map, uint key, int size)
        {
            byte[]? v = null;
            var e = Try(() => v = c.Maps[map].Lookup(U32(key)));
            return (e, v);
        }
        public Errno Delete(string map, uint key) => Try(() => { if (!c.Maps[map].TryDelete(U32(key))) throw new BpfException(Errno.ENOENT, "missing"); });
        public int ProgramFd(string name) => c.Programs[name].Kernel.Fd.Value;
        public uint ProgramId(string name) => c.Programs[name].GetInfo().Id;
    }

    private sealed class RuntimeHost(BpfCollection c) : IHost
    {
        private BpfMapBase M(string map) => c.Maps[map].Map.Maps!;
        public Errno Update(string map, uint key, byte[] value, MapUpdateFlags flags) => M(map).UpdateElem(U32(key), value, flags);
        public (Errno, byte[]?) Lookup(string map, uint key, int size)
        {
            var v = new byte[size];
            var e = M(map).LookupElem(U32(key), v);
            return (e, e == Errno.None ? v : null);
        }
        public Errno Delete(string map, uint key) => M(map).DeleteElem(U32(key));
        public int ProgramFd(string name) => (int)c.Programs[name].Id; // the runtime's "fd" is the id
        public uint ProgramId(string name) => c.Programs[name].Id;
    }

    private static List<string> Script(IHost h)
    {
        var log = new List<string>();
        void Step(string what, Errno e) => log.Add($"{what}: {e}");
        void Look(string what, string map, uint key, int size, bool progIdAt4 = false)
        {
            var (e, v) = h.Lookup(map, key, size);
            string shown = v is null ? "-" : progIdAt4 && v.Length >= 8 && BitConverter.ToUInt32(v, 4) != 0
                ? $"{BitConverter.ToUInt32(v, 0)}/prog{(BitConverter.ToUInt32(v, 4) == h.ProgramId("on_devmap") || BitConverter.ToUInt32(v, 4) == h.ProgramId("on_cpumap") ? "ok" : "?")}"
                : Convert.ToHexString(v);
            log.Add($"{what}: {e} {shown}");
        }
        // devmap (value struct bpf_devmap_val, 8 bytes); ifindex 1 is lo in both worlds.
        Step("dev upd 0->lo", h.Update("tx_port", 0, Val(1)));
        Look("dev get 0", "tx_port", 0, 8, true);
        Step("dev upd noexist", h.Update("tx_port", 0, Val(1), MapUpdateFlags.NoExist));
        Step("dev upd exist empty", h.Update("tx_port", 2, Val(1), MapUpdateFlags.Exist));
        Step("dev upd flags 4", h.Update("tx_port", 0, Val(1), (MapUpdateFlags)4));
        Step("dev upd oob", h.Update("tx_port", 4, Val(1)));
        Step("dev upd no such ifindex", h.Update("tx_port", 1, Val(999_999)));
        Step("dev upd prog", h.Update("tx_port", 1, Val(1, h.ProgramFd("on_devmap"))));
        Look("dev get 1", "tx_port", 1, 8, true);
        Step("dev upd wrong prog", h.Update("tx_port", 1, Val(1, h.ProgramFd("on_cpumap"))));
        Step("dev upd plain xdp prog", h.Update("tx_port", 1, Val(1, h.ProgramFd("redirect"))));
        Step("dev upd ifindex 0 + prog", h.Update("tx_port", 3, Val(0, h.ProgramFd("on_devmap"))));
        Step("dev upd ifindex 0", h.Update("tx_port", 2, Val(0)));
        Look("dev get 2", "tx_port", 2, 8);
        Look("dev get 3", "tx_port", 3, 8);
        Step("dev del oob", h.Delete("tx_port", 9));
        Step("dev del empty", h.Delete("tx_port", 3));
        Step("dev del 0", h.Delete("tx_port", 0));
        Look("dev get 0 after", "tx_port", 0, 8);
        // devmap_hash (4-byte values)
        Step("hash upd 7", h.Update("tx_hash", 7, U32(1)));
        Step("hash upd 7 noexist", h.Update("tx_hash", 7, U32(1), MapUpdateFlags.NoExist));
        Step("hash upd 8 exist", h.Update("tx_hash", 8, U32(1), MapUpdateFlags.Exist));
        Step("hash upd ifindex 0", h.Update("tx_hash", 9, U32(0)));
        Look("hash get 7", "tx_hash", 7, 4);
        Look("hash get 9", "tx_hash", 9, 4);
        Step("hash del missing", h.Delete("tx_hash", 100));
        for (uint k = 20; k < 28; k++)
            Step($"hash fill {k}", h.Update("tx_hash", k, U32(1)));
        // cpumap (struct bpf_cpumap_val, 8 bytes); this machine has CPUs 0-1.
        Step("cpu upd 0", h.Update("cpus", 0, Val(192)));
        Look("cpu get 0", "cpus", 0, 8);
        Step("cpu upd qsize too big", h.Update("cpus", 1, Val(16385)));
        Step("cpu upd oob", h.Update("cpus", 2, Val(192)));
        Step("cpu upd noexist", h.Update("cpus", 1, Val(192), MapUpdateFlags.NoExist));
        Step("cpu upd prog", h.Update("cpus", 1, Val(64, h.ProgramFd("on_cpumap"))));
        Look("cpu get 1", "cpus", 1, 8, true);
        Step("cpu upd devmap prog", h.Update("cpus", 1, Val(64, h.ProgramFd("on_devmap"))));
        Step("cpu upd qsize 0", h.Update("cpus", 0, Val(0)));
        Look("cpu get 0 after", "cpus", 0, 8);
        Step("cpu del oob", h.Delete("cpus", 5));
        Step("cpu del empty", h.Delete("cpus", 0));
        // xskmap: no socket → the host cannot store anything; lookups are not supported.
        Look("xsk get", "xsks", 0, 4);
        Step("xsk upd bad fd", h.Update("xsks", 0, U32(99_999)));
        Step("xsk del oob", h.Delete("xsks", 4));
        Step("xsk del empty", h.Delete("xsks", 0));
        return log;
    }

    [Fact]
    public void Host_update_lookup_delete_match_the_kernel()
    {
        KernelRequirement.Require();
        using var kernel = LinuxKernel.LoadFile(FixturePath);
        var rt = new BpfRuntime();
        using var ours = rt.Load(ObjectSpec.Load(FixturePath));
        var expected = Script(new KernelHost(kernel));
        var actual = Script(new RuntimeHost(ours));
        Assert.Equal(string.Join("\n", expected), string.Join("\n", actual));
    }

    public static TheoryData<uint, uint, ulong> RedirectCases() => new()
    {
        { 0, 0, 0 }, { 0, 1, 2 }, { 0, 3, 1 }, { 0, 9, 2 }, { 0, 3, 4 }, { 0, 3, 8 }, { 0, 3, 8 | 16 }, { 0, 0, 16 }, { 0, 0, 32 },
        { 1, 7, 0 }, { 1, 8, 3 }, { 1, 8, 8 },
        { 2, 0, 0 }, { 2, 1, 2 }, { 2, 5, 1 }, { 2, 0, 8 },
        { 3, 0, 2 }, { 3, 0, 8 }, { 3, 9, 1 },
        { 4, 1, 0 }, { 4, 1, 1 }, { 4, 77, 0 },
        { 5, 0, 3 }, { 5, 0, 7 },
    };

    [Theory]
    [MemberData(nameof(RedirectCases))]
    public void Redirect_map_return_values_match_the_kernel(uint which, uint key, ulong flags)
    {
        KernelRequirement.Require();
        byte[] cfg = [.. U32(which), .. U32(key), .. BitConverter.GetBytes(flags)];
        using var kernel = LinuxKernel.LoadFile(FixturePath);
        kernel.Maps["tx_port"].Update(U32(0), Val(1));
        kernel.Maps["tx_hash"].Update(U32(7), U32(1));
        kernel.Maps["cpus"].Update(U32(0), Val(192));
        kernel.Maps["cfg"].Update(U32(0), cfg);
        var k = kernel.Programs["redirect"].TestRun(new TestRunOptions { DataIn = Frame(), DataSizeOut = 0 });

        var rt = new BpfRuntime();
        using var ours = rt.Load(ObjectSpec.Load(FixturePath));
        ours.Maps["tx_port"].Map.Maps!.Update(U32(0), Val(1));
        ours.Maps["tx_hash"].Map.Maps!.Update(U32(7), U32(1));
        ours.Maps["cpus"].Map.Maps!.Update(U32(0), Val(192));
        ours.Maps["cfg"].Map.Maps!.Update(U32(0), cfg);
        var o = rt.TestRun(ours.Programs["redirect"], new TestRunOptions { DataIn = Frame() });
        Assert.Equal(k.ReturnValue, o.ReturnValue);
        Assert.Equal(o.ReturnValue == 4, o.Redirect is not null);
    }

    private static (BpfRuntime Rt, BpfCollection Coll) Load()
    {
        var rt = new BpfRuntime();
        return (rt, rt.Load(ObjectSpec.Load(FixturePath)));
    }

    private static void Cfg(BpfCollection c, uint which, uint key, ulong flags) =>
        c.Maps["cfg"].Map.Maps!.Update(U32(0), [.. U32(which), .. U32(key), .. BitConverter.GetBytes(flags)]);

    [Fact]
    public void Test_run_reports_the_redirect_target()
    {
        var (rt, c) = Load();
        using var _ = c;
        var eth1 = rt.Devices.Add(5, "eth1");
        c.Maps["tx_port"].Map.Maps!.Update(U32(2), Val(5));
        Cfg(c, 0, 2, 1);
        var r = rt.TestRun(c.Programs["redirect"], new TestRunOptions { DataIn = Frame() });
        Assert.Equal(4u, r.ReturnValue);
        Assert.Equal(new XdpRedirect(MapType.Devmap, c.Maps["tx_port"].Id, 2, 0, c.Maps["tx_port"].Map.Maps), r.Redirect);
        Assert.Same(eth1, ((DevMap)c.Maps["tx_port"].Map.Maps!).RedirectLookup(r.Redirect!.Key)!.Target);
        Cfg(c, 0, 3, 1); // empty slot: fallback XDP_DROP, nothing recorded
        r = rt.TestRun(c.Programs["redirect"], new TestRunOptions { DataIn = Frame() });
        Assert.Equal(1u, r.ReturnValue);
        Assert.Null(r.Redirect);
        Cfg(c, 4, 5, 0); // bpf_redirect(5, 0)
        r = rt.TestRun(c.Programs["redirect"], new TestRunOptions { DataIn = Frame() });
        Assert.Equal(new XdpRedirect(MapType.Unspec, 0, 5, 0, null), r.Redirect);
        Assert.Equal(0, eth1.Transmitted.Count); // a plain test_run never transmits
    }

    [Fact]
    public void Live_frames_are_delivered_to_devices_cpus_and_sockets()
    {
        var (rt, c) = Load();
        using var _ = c;
        var prog = c.Programs["redirect"];
        var eth1 = rt.Devices.Add(5, "eth1", rxQueues: 2);
        var eth2 = rt.Devices.Add(6, "eth2");
        var lo = rt.Devices.Find(1)!;
        var devmap = c.Maps["tx_port"].Map.Maps!;
        devmap.Update(U32(0), Val(5));
        devmap.Update(U32(1), Val(6));
        devmap.Update(U32(2), Val(1));
        var packet = Frame(80);
        packet[20] = 0x5a;
        RuntimeTestRunResult Live(uint repeat, byte[]? ctx = null, uint batch = 0) =>
            rt.TestRun(prog, new TestRunOptions { DataIn = packet, Repeat = repeat, Flags = TestRunFlags.XdpLiveFrames, ContextIn = ctx, BatchSize = batch });

        Cfg(c, 0, 1, 0); // devmap slot 1 → eth2, 5 frames
        var r = Live(5);
        Assert.Equal(0u, r.ReturnValue);
        Assert.Equal(new XdpLiveFrameStats(5, 0, 0, 5, 0), r.LiveFrames);
        Assert.All(eth2.Transmitted.Drain(), f => Assert.Equal(packet, f));
        Cfg(c, 0, 0, 8 | 16); // broadcast, excluding the ingress device (lo)
        r = Live(2);
        Assert.Equal(2, eth1.Transmitted.Drain().Count);
        Assert.Equal(2, eth2.Transmitted.Drain().Count);
        Assert.Equal(0, lo.Transmitted.Count);
        Cfg(c, 0, 0, 8); // broadcast including lo
        Live(1);
        Assert.Single(lo.Transmitted.Drain());
        eth1.Transmitted.Drain(); eth2.Transmitted.Drain();
        Cfg(c, 5, 0, 3); // XDP_TX: back out of the ingress device (eth1 via ctx_in)
        byte[] ctxIn = [.. U32(0), .. U32((uint)packet.Length), .. U32(0), .. U32(5), .. U32(1), .. U32(0)];
        r = Live(3, ctxIn);
        Assert.Equal(3, eth1.Transmitted.Drain().Count);
        Assert.Equal(3, r.LiveFrames!.Transmitted);
        Cfg(c, 5, 0, 2); // XDP_PASS → the stack of the ingress device
        Live(4);
        Assert.Equal(4, lo.Received.Drain().Count);
        Cfg(c, 5, 0, 1); // XDP_DROP
        Assert.Equal(new XdpLiveFrameStats(2, 0, 0, 0, 2), Live(2).LiveFrames);
        // cpumap → the CPU's queue
        c.Maps["cpus"].Map.Maps!.Update(U32(1), Val(128));
        Cfg(c, 2, 1, 0);
        Live(3);
        Assert.Equal(3, rt.Devices.CpuQueue(1).Drain().Count);
        // xskmap: only a socket bound to the ingress device and queue receives.
        var sock = rt.Devices.AddXskSocket(5, 1);
        var other = rt.Devices.AddXskSocket(5, 0);
        c.Maps["xsks"].Map.Maps!.Update(U32(0), U32(sock.Id));
        c.Maps["xsks"].Map.Maps!.Update(U32(1), U32(other.Id));
        Assert.Equal(Errno.EOPNOTSUPP, c.Maps["xsks"].Map.Maps!.LookupElem(U32(0), new byte[4]));
        Cfg(c, 3, 0, 0);
        r = Live(2, ctxIn); // ingress eth1 queue 1
        Assert.Equal(2, sock.Received.Drain().Count);
        Assert.Equal(2, r.LiveFrames!.Redirected);
        Cfg(c, 3, 1, 0);
        r = Live(2, ctxIn); // socket on queue 0: dropped
        Assert.Equal(0, other.Received.Count);
        Assert.Equal(2, r.LiveFrames!.Dropped);
        // frames counter: one run per frame
        var bss = c.Maps.Values.Single(m => m.Map.Name.EndsWith(".bss", StringComparison.Ordinal)).Map.Maps!;
        var v = new byte[8];
        bss.Lookup(U32(0), v);
        Assert.Equal(5ul + 2 + 1 + 3 + 4 + 2 + 3 + 2 + 2, BitConverter.ToUInt64(v));
    }

    [Fact]
    public void Live_frames_argument_rules_match_the_kernel()
    {
        KernelRequirement.Require();
        using var kernel = LinuxKernel.LoadFile(FixturePath);
        // Like with like: our runtime behaves as the running kernel (its probed profile), so a kernel build that lacks
        // live frames is compared with a runtime that lacks them too.
        var profile = Ebpf.Linux.Probes.LiveKernelProfile.Current;
        bool live = profile.HasFeature(Ebpf.Abi.Profiles.KernelFeature.XdpLiveFrames);
        var rt = new BpfRuntime { Profile = profile };
        using var c = rt.Load(ObjectSpec.Load(FixturePath));
        byte[] cfg = [.. U32(5), .. U32(0), .. BitConverter.GetBytes(1ul)]; // XDP_DROP
        kernel.Maps["cfg"].Update(U32(0), cfg);
        c.Maps["cfg"].Map.Maps!.Update(U32(0), cfg);
        byte[] ctx = [.. U32(0), .. U32(60), .. new byte[16]];
        var cases = new (string What, TestRunOptions K, TestRunOptions O)[]
        {
            ("ok", new() { DataIn = Frame(), Repeat = 3, Flags = TestRunFlags.XdpLiveFrames, DataSizeOut = 0 },
                   new() { DataIn = Frame(), Repeat = 3, Flags = TestRunFlags.XdpLiveFrames }),
            ("batch 256", new() { DataIn = Frame(), Flags = TestRunFlags.XdpLiveFrames, BatchSize = 256, DataSizeOut = 0 },
                   new() { DataIn = Frame(), Flags = TestRunFlags.XdpLiveFrames, BatchSize = 256 }),
            ("batch 257", new() { DataIn = Frame(), Flags = TestRunFlags.XdpLiveFrames, BatchSize = 257, DataSizeOut = 0 },
                   new() { DataIn = Frame(), Flags = TestRunFlags.XdpLiveFrames, BatchSize = 257 }),
            ("ctx + ctx_out", new() { DataIn = Frame(), ContextIn = ctx, ContextSizeOut = 24, Flags = TestRunFlags.XdpLiveFrames, DataSizeOut = 0 },
                   new() { DataIn = Frame(), ContextIn = ctx, ContextSizeOut = 24, Flags = TestRunFlags.XdpLiveFrames }),
            ("ctx only", new() { DataIn = Frame(), ContextIn = ctx, ContextSizeOut = 0, Flags = TestRunFlags.XdpLiveFrames, DataSizeOut = 0 },
                   new() { DataIn = Frame(), ContextIn = ctx, Flags = TestRunFlags.XdpLiveFrames }),
            ("largest linear", new() { DataIn = Frame(XdpLiveFramesMax), Flags = TestRunFlags.XdpLiveFrames, DataSizeOut = 0 },
                   new() { DataIn = Frame(XdpLiveFramesMax), Flags = TestRunFlags.XdpLiveFrames }),
            ("one byte more", new() { DataIn = Frame(XdpLiveFramesMax + 1), Flags = TestRunFlags.XdpLiveFrames, DataSizeOut = 0 },
                   new() { DataIn = Frame(XdpLiveFramesMax + 1), Flags = TestRunFlags.XdpLiveFrames }),
            ("data_out", new() { DataIn = Frame(), Flags = TestRunFlags.XdpLiveFrames, DataSizeOut = 128 },
                   new() { DataIn = Frame(), Flags = TestRunFlags.XdpLiveFrames, DataSizeOut = 128 }),
        };
        foreach (var (what, k, o) in cases)
        {
            uint kr = 0, or = 0;
            byte[]? kOut = null, oOut = null;
            var ke = Try(() => { var res = kernel.Programs["redirect"].TestRun(k); kr = res.ReturnValue; kOut = res.DataOut; });
            var oe = Try(() => { var res = rt.TestRun(c.Programs["redirect"], o); or = res.ReturnValue; oOut = res.DataOut; });
            if (!live)
            {
                // This kernel refuses the flag outright (the profile's probe saw it): every case must be refused by both.
                output.WriteLine($"{what}: kernel {ke}, ours {oe} (kernel {profile.KernelRelease} has no XDP live frames)");
                Assert.True(ke != Errno.None && oe != Errno.None, $"{what}: kernel {ke}, ours {oe}");
                continue;
            }
            Assert.True(ke == oe, $"{what}: kernel {ke}, ours {oe}");
            Assert.True(kr == or, $"{what}: kernel retval {kr}, ours {or}");
            if (k.DataSizeOut > 0 && ke == Errno.None)
                Assert.Equal(Convert.ToHexString(kOut!), Convert.ToHexString(oOut!));
        }
        if (!live)
            return;
        // Frames processed = repeat (the program counts its runs in .bss).
        kernel.Maps["cfg"].Update(U32(0), cfg);
        var kbss = kernel.Maps.Single(m => m.Key.EndsWith(".bss", StringComparison.Ordinal)).Value;
        ulong before = BitConverter.ToUInt64(kbss.Lookup(U32(0)));
        kernel.Programs["redirect"].TestRun(new() { DataIn = Frame(), Repeat = 70, Flags = TestRunFlags.XdpLiveFrames, BatchSize = 16, DataSizeOut = 0 });
        ulong after = BitConverter.ToUInt64(kbss.Lookup(U32(0)));
        var obss = c.Maps.Values.Single(m => m.Map.Name.EndsWith(".bss", StringComparison.Ordinal)).Map.Maps!;
        var v = new byte[8];
        obss.Lookup(U32(0), v);
        ulong oBefore = BitConverter.ToUInt64(v);
        rt.TestRun(c.Programs["redirect"], new() { DataIn = Frame(), Repeat = 70, Flags = TestRunFlags.XdpLiveFrames, BatchSize = 16 });
        obss.Lookup(U32(0), v);
        Assert.Equal(after - before, BitConverter.ToUInt64(v) - oBefore);
    }

    /// <summary>4096 − (256 + sizeof(xdp_page_head) = 112) − 320 = 3408 [6.18 observed].</summary>
    private const int XdpLiveFramesMax = 4096 - (256 + 112) - 320;
}
