using System.Runtime.InteropServices;
using System.Text;
using Ebpf.Abi.Helpers;
using Ebpf.Runtime;
using Ebpf.Runtime.Helpers;

namespace Ebpf.Tests.Runtime;

public unsafe class HelperTests
{
    private static long Signed(ulong v) => (long)v;

    /// <summary>Native scratch memory freed at the end of a test.</summary>
    private sealed class Native : IDisposable
    {
        private readonly List<nint> _blocks = new();
        public ulong Bytes(byte[] content)
        {
            nint p = (nint)NativeMemory.AllocZeroed((nuint)Math.Max(1, content.Length));
            content.CopyTo(new Span<byte>((void*)p, content.Length));
            _blocks.Add(p);
            return (ulong)p;
        }
        public ulong Str(string s) => Bytes(Encoding.ASCII.GetBytes(s + "\0"));
        public ulong Zeroed(int size) => Bytes(new byte[size]);
        public static byte[] Read(ulong p, int size) => new Span<byte>((void*)p, size).ToArray();
        public void Dispose() { foreach (var b in _blocks) NativeMemory.Free((void*)b); }
    }

    private static (BpfRuntime, HelperInvocation.Scope) Enter(TaskModel? task = null)
    {
        var rt = new BpfRuntime { CurrentTask = task ?? new TaskModel(42, 40, 1000, 100, "hs2", Cpu: 1) };
        return (rt, new HelperInvocation(rt, null, 0, cookie: 0xc00c1e).Enter());
    }

    [Fact]
    public void Trace_printk_formats_and_writes_trace_pipe_lines()
    {
        var (rt, scope) = Enter();
        using var _ = scope;
        using var mem = new Native();
        ulong fmt = mem.Str("hello world %d");
        Assert.Equal(13UL, PrintHelpers.TracePrintk(fmt, 15, 5, 0, 0));
        ulong fmt2 = mem.Str("%s=%lx %u\n");
        ulong s = mem.Str("key");
        Assert.Equal(28UL, PrintHelpers.TracePrintk(fmt2, 12, s, 0xdeadbeefcafe, 0xffffffff));
        var lines = rt.TraceLog.Snapshot();
        Assert.Equal(2, lines.Count);
        Assert.EndsWith(": bpf_trace_printk: hello world 5", lines[0]);
        Assert.Matches(@"^\s+hs2-42\s+\[001\] \.\.\.\.1\s+\d+\.\d{6}: bpf_trace_printk: hello world 5$", lines[0]);
        Assert.EndsWith("bpf_trace_printk: key=deadbeefcafe 4294967295", lines[1]);
    }

    [Theory]
    [InlineData("%d %d %d %d", 4)]   // more than 3 specifiers
    [InlineData("%hd", 1)]            // h not allowed
    [InlineData("%.2d", 1)]           // precision not allowed
    [InlineData("%o", 1)]
    [InlineData("%z", 1)]
    [InlineData("%pQ", 1)]
    [InlineData("bell\a", 0)]         // control character
    public void Trace_printk_rejects_what_the_kernel_rejects(string format, int _)
    {
        var (rt, scope) = Enter();
        using var __ = scope;
        using var mem = new Native();
        ulong fmt = mem.Str(format);
        Assert.Equal(-(long)Errno.EINVAL, Signed(PrintHelpers.TracePrintk(fmt, (ulong)format.Length + 1, 1, 2, 3)));
        Assert.Empty(rt.TraceLog.Snapshot());
    }

    [Fact]
    public void Trace_printk_needs_nul_inside_fmt_size()
    {
        var (_, scope) = Enter();
        using var __ = scope;
        using var mem = new Native();
        ulong fmt = mem.Str("abc");
        Assert.Equal(-(long)Errno.EINVAL, Signed(PrintHelpers.TracePrintk(fmt, 3, 0, 0, 0)));
        Assert.Equal(3UL, PrintHelpers.TracePrintk(fmt, 4, 0, 0, 0));
    }

    [Fact]
    public void Snprintf_returns_needed_size_and_truncates()
    {
        var (_, scope) = Enter();
        using var __ = scope;
        using var mem = new Native();
        ulong fmt = mem.Str("hello world %d");
        ulong args = mem.Bytes(BitConverter.GetBytes(42UL));
        ulong buf = mem.Bytes(Enumerable.Repeat((byte)0xff, 32).ToArray());
        Assert.Equal(15UL, PrintHelpers.Snprintf(buf, 32, fmt, args, 8));
        Assert.Equal("hello world 42\0"u8.ToArray(), Native.Read(buf, 15));
        ulong small = mem.Bytes(Enumerable.Repeat((byte)0xff, 10).ToArray());
        Assert.Equal(15UL, PrintHelpers.Snprintf(small, 8, fmt, args, 8));
        Assert.Equal("hello w\0\xff\xff"u8.ToArray().Take(8).Concat(new byte[] { 0xff, 0xff }).ToArray(), Native.Read(small, 10));
        Assert.Equal(15UL, PrintHelpers.Snprintf(0, 0, fmt, args, 8));
        Assert.Equal(-(long)Errno.EINVAL, Signed(PrintHelpers.Snprintf(buf, 32, fmt, args, 4)));
        Assert.Equal(-(long)Errno.EINVAL, Signed(PrintHelpers.Snprintf(buf, 32, fmt, 0, 8)));
        Assert.Equal(-(long)Errno.EINVAL, Signed(PrintHelpers.Snprintf(buf, 32, fmt, args, 104)));
    }

    [Fact]
    public void Formatter_renders_ip_and_widths()
    {
        using var mem = new Native();
        ulong ip4 = mem.Bytes([10, 0, 0, 1]);
        ulong ip6 = mem.Bytes([0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
        string Fmt(string f, params ulong[] a) => Encoding.Latin1.GetString(BprintfFormatter.Format(Encoding.ASCII.GetBytes(f), a, 12,
            (p, _) => null, (p, n) => Native.Read(p, n))!);
        Assert.Equal("10.0.0.1 010.000.000.001", Fmt("%pI4 %pi4", ip4, ip4));
        Assert.Equal("2001:0db8:0000:0000:0000:0000:0000:0001", Fmt("%pI6", ip6));
        Assert.Equal("[  -5][-5  ][-0005][+5][ff][FF][-1][18446744073709551615]", Fmt("[%4d][%-4d][%05d][%+d][%x][%X][%lld][%llu]", unchecked((ulong)-5), unchecked((ulong)-5), unchecked((ulong)-5), 5, 255, 255, ulong.MaxValue, ulong.MaxValue));
        Assert.Equal("100%", Fmt("%d%%", 100));
        Assert.Equal("-1 4294967295", Fmt("%d %u", ulong.MaxValue, ulong.MaxValue));
    }

    [Fact]
    public void Trace_vprintk_checks_data_len()
    {
        var (rt, scope) = Enter();
        using var __ = scope;
        using var mem = new Native();
        ulong fmt = mem.Str("%d %d %d %d %d");
        ulong args = mem.Bytes(new ulong[] { 1, 2, 3, 4, 5 }.SelectMany(BitConverter.GetBytes).ToArray());
        Assert.Equal(9UL, PrintHelpers.TraceVprintk(fmt, 15, args, 40, 0));
        Assert.Equal(-(long)Errno.EINVAL, Signed(PrintHelpers.TraceVprintk(fmt, 15, args, 32, 0))); // fewer args than specifiers
        Assert.Equal(-(long)Errno.EINVAL, Signed(PrintHelpers.TraceVprintk(fmt, 15, args, 12, 0)));
        Assert.EndsWith("bpf_trace_printk: 1 2 3 4 5", rt.TraceLog.Snapshot().Single());
    }

    [Fact]
    public void Strncmp_returns_sign_only()
    {
        using var mem = new Native();
        ulong abc = mem.Str("abc");
        Assert.Equal(1UL, PrintHelpers.Strncmp(mem.Str("abd"), 3, abc, 0, 0));
        Assert.Equal(ulong.MaxValue, PrintHelpers.Strncmp(mem.Str("aba"), 3, abc, 0, 0));
        Assert.Equal(ulong.MaxValue, PrintHelpers.Strncmp(mem.Bytes([(byte)'a', (byte)'b', 0]), 3, abc, 0, 0));
        Assert.Equal(0UL, PrintHelpers.Strncmp(mem.Str("abc"), 3, abc, 0, 0));
    }

    [Fact]
    public void Probe_read_over_registered_regions()
    {
        var (rt, scope) = Enter();
        using var __ = scope;
        using var mem = new Native();
        ulong kernel = mem.Str("kernel-string");
        ulong user = mem.Str("abc");
        using var k = rt.ReadableMemory.Register((nint)kernel, 14, AddressSpace.Kernel);
        using var u = rt.ReadableMemory.Register((nint)user, 4, AddressSpace.User);
        ulong dst = mem.Bytes(Enumerable.Repeat((byte)0xff, 8).ToArray());
        Assert.Equal(0UL, ProbeReadHelpers.ProbeReadKernel(dst, 6, kernel, 0, 0));
        Assert.Equal("kernel"u8.ToArray(), Native.Read(dst, 6));
        Assert.Equal(-(long)Errno.ERANGE, Signed(ProbeReadHelpers.ProbeReadKernel(dst, 4, 0, 0, 0)));
        Assert.Equal(new byte[8].Take(4), Native.Read(dst, 4));
        Assert.Equal(-(long)Errno.ERANGE, Signed(ProbeReadHelpers.ProbeReadKernel(dst, 4, user, 0, 0)));
        Assert.Equal(-(long)Errno.EFAULT, Signed(ProbeReadHelpers.ProbeReadKernel(dst, 16, kernel, 0, 0))); // runs past the region
        Assert.Equal(-(long)Errno.EFAULT, Signed(ProbeReadHelpers.ProbeReadUser(dst, 4, 0, 0, 0)));
        Assert.Equal(-(long)Errno.EFAULT, Signed(ProbeReadHelpers.ProbeReadUser(dst, 4, kernel, 0, 0)));

        new Span<byte>((void*)dst, 8).Fill(0xff);
        Assert.Equal(4UL, ProbeReadHelpers.ProbeReadUserStr(dst, 8, user, 0, 0));
        Assert.Equal(new byte[] { 0x61, 0x62, 0x63, 0, 0xff, 0xff, 0xff, 0xff }, Native.Read(dst, 8));
        Assert.Equal(2UL, ProbeReadHelpers.ProbeReadUserStr(dst, 2, user, 0, 0));
        Assert.Equal(new byte[] { 0x61, 0 }, Native.Read(dst, 2));
        Assert.Equal(0UL, ProbeReadHelpers.ProbeReadKernelStr(dst, 0, kernel, 0, 0));
        Assert.Equal(-(long)Errno.ERANGE, Signed(ProbeReadHelpers.ProbeReadKernelStr(dst, 8, 0, 0, 0)));
        Assert.Equal(new byte[8], Native.Read(dst, 8));
        Assert.Equal(4UL, ProbeReadHelpers.ProbeReadStr(dst, 8, user, 0, 0)); // compat picks user
    }

    [Fact]
    public void Current_task_helpers()
    {
        var (_, scope) = Enter(new TaskModel(7, 5, 1000, 2000, "a-very-long-command-name"));
        using var __ = scope;
        using var mem = new Native();
        Assert.Equal((5UL << 32) | 7, TaskHelpers.GetCurrentPidTgid(0, 0, 0, 0, 0));
        Assert.Equal((2000UL << 32) | 1000, TaskHelpers.GetCurrentUidGid(0, 0, 0, 0, 0));
        ulong buf = mem.Bytes(Enumerable.Repeat((byte)0xff, 20).ToArray());
        Assert.Equal(0UL, TaskHelpers.GetCurrentComm(buf, 20, 0, 0, 0));
        Assert.Equal(Encoding.ASCII.GetBytes("a-very-long-com").Concat(new byte[5]).ToArray(), Native.Read(buf, 20));
        Assert.Equal(0xc00c1eUL, TaskHelpers.GetAttachCookie(0, 0, 0, 0, 0));
    }

    [Fact]
    public void Invocation_context_is_per_thread_and_nested()
    {
        var rt = new BpfRuntime();
        var t1 = new TaskModel(1, 1, 0, 0, "one");
        var t2 = new TaskModel(2, 2, 0, 0, "two");
        Assert.Null(HelperInvocation.Current);
        using (new HelperInvocation(rt, null, 0, t1).Enter())
        {
            ulong fromOtherThread = 0;
            var th = new Thread(() =>
            {
                using (new HelperInvocation(rt, null, 0, t2).Enter())
                    fromOtherThread = TaskHelpers.GetCurrentPidTgid(0, 0, 0, 0, 0);
            });
            th.Start();
            th.Join();
            Assert.Equal((2UL << 32) | 2, fromOtherThread);
            using (new HelperInvocation(rt, null, 0, t2).Enter())
                Assert.Equal((2UL << 32) | 2, TaskHelpers.GetCurrentPidTgid(0, 0, 0, 0, 0));
            Assert.Equal((1UL << 32) | 1, TaskHelpers.GetCurrentPidTgid(0, 0, 0, 0, 0));
        }
        Assert.Null(HelperInvocation.Current);
        Assert.Equal(-(long)Errno.EINVAL, Signed(TaskHelpers.GetCurrentPidTgid(0, 0, 0, 0, 0)));
    }

    [Fact]
    public void Csum_diff_matches_kernel_observations()
    {
        using var mem = new Native();
        ulong to = mem.Bytes([1, 2, 3, 4]);
        Assert.Equal(1540UL, ChecksumHelpers.CsumDiff(0, 0, to, 4, 0));
        Assert.Equal(65535UL, ChecksumHelpers.CsumDiff(to, 4, to, 4, 0));
        Assert.Equal(516UL, ChecksumHelpers.CsumDiff(0, 0, to, 3, 0));
        Assert.Equal(1541UL, ChecksumHelpers.CsumDiff(0, 0, to, 4, 0x10000));
        Assert.Equal(77UL, ChecksumHelpers.CsumDiff(0, 0, 0, 0, 77));
    }

    private sealed class Packet(byte[] bytes) : IPacketBuffer
    {
        public Span<byte> Data => bytes;
    }

    [Fact]
    public void L3_csum_replace_updates_ipv4_checksum_for_ttl_change()
    {
        // IPv4 header with TTL 64, protocol UDP; checksum field at offset 10.
        byte[] ip = [0x45, 0, 0, 0x24, 0, 0, 0x40, 0, 0x40, 0x11, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2];
        WriteIpChecksum(ip);
        var rt = new BpfRuntime();
        var inv = new HelperInvocation(rt, null, 0) { PacketState = new Packet(ip) };
        using var _ = inv.Enter();
        ushort oldWord = (ushort)(ip[8] | (ip[9] << 8)); // ttl|proto as loaded (little-endian u16)
        ip[8] = 63;
        ushort newWord = (ushort)(ip[8] | (ip[9] << 8));
        Assert.Equal(0UL, ChecksumHelpers.L3CsumReplace(0, 10, oldWord, newWord, 2));
        byte[] expected = (byte[])ip.Clone();
        WriteIpChecksum(expected);
        Assert.Equal(expected[10..12], ip[10..12]);
        Assert.Equal(-(long)Errno.EINVAL, Signed(ChecksumHelpers.L3CsumReplace(0, 10, 0, 0, 3)));
        Assert.Equal(-(long)Errno.EINVAL, Signed(ChecksumHelpers.L3CsumReplace(0, 10, 0, 0, 0x10)));
        Assert.Equal(-(long)Errno.EFAULT, Signed(ChecksumHelpers.L3CsumReplace(0, 19, 0, 0, 2)));
        Assert.Equal(-(long)Errno.EINVAL, Signed(ChecksumHelpers.L3CsumReplace(0, 10, 1, 0, 0)));
    }

    [Fact]
    public void L4_csum_replace_respects_mangled_zero()
    {
        byte[] udp = [0, 1, 0, 2, 0, 8, 0, 0];
        var rt = new BpfRuntime();
        using var _ = new HelperInvocation(rt, null, 0) { PacketState = new Packet(udp) }.Enter();
        Assert.Equal(0UL, ChecksumHelpers.L4CsumReplace(0, 6, 1, 2, ChecksumHelpers.MarkMangled0 | 4));
        Assert.Equal(new byte[] { 0, 0 }, udp[6..8]); // zero checksum untouched without ENFORCE
        Assert.Equal(-(long)Errno.EINVAL, Signed(ChecksumHelpers.L4CsumReplace(0, 6, 1, 2, 0x100 | 4)));
    }

    private static void WriteIpChecksum(byte[] ip)
    {
        ip[10] = ip[11] = 0;
        uint sum = 0;
        for (int i = 0; i < 20; i += 2) sum += (uint)(ip[i] << 8 | ip[i + 1]);
        while (sum >> 16 != 0) sum = (sum & 0xffff) + (sum >> 16);
        ushort c = (ushort)~sum;
        ip[10] = (byte)(c >> 8);
        ip[11] = (byte)c;
    }

    [Fact]
    public void Spin_lock_excludes_concurrent_holders()
    {
        using var mem = new Native();
        ulong value = mem.Zeroed(16); // [lock u32][pad][counter u64]
        Parallel.For(0, 4, _ =>
        {
            for (int i = 0; i < 20000; i++)
            {
                LockHelpers.SpinLock(value, 0, 0, 0, 0);
                ulong* counter = (ulong*)(value + 8);
                *counter = *counter + 1;
                LockHelpers.SpinUnlock(value, 0, 0, 0, 0);
            }
        });
        Assert.Equal(80000UL, *(ulong*)(value + 8));
    }

    [Fact]
    public void Clocks_are_monotonic_and_registry_resolves_ids()
    {
        ulong a = TimeHelpers.KtimeGetNs(0, 0, 0, 0, 0);
        ulong b = TimeHelpers.KtimeGetNs(0, 0, 0, 0, 0);
        Assert.True(b >= a);
        Assert.True(TimeHelpers.KtimeGetCoarseNs(0, 0, 0, 0, 0) % (1_000_000_000UL / TimeHelpers.Hz) == 0);
        var rt = new BpfRuntime();
        Assert.Equal("trace_printk", rt.Helpers.Find(6)!.Name);
        Assert.Equal(182, rt.Helpers.FindByName("bpf_strncmp")!.Id);
        Assert.Equal(Errno.EINVAL, Assert.Throws<BpfException>(() => rt.Helpers.Add(5, "x", (_, _, _, _, _) => 0, new HelperPrototype(HelperId.Unspec, HelperReturnKind.Integer, []))).Errno);
        rt.Helpers.Add(HelperRegistry.FirstHostId, "host_add", (x, y, _, _, _) => x + y, new HelperPrototype(HelperId.Unspec, HelperReturnKind.Integer, [new(HelperArgKind.Anything), new(HelperArgKind.Anything)]));
        Assert.Equal(5UL, rt.Helpers.Find(HelperRegistry.FirstHostId)!.Function(2, 3, 0, 0, 0));
        Assert.Equal(Errno.EEXIST, Assert.Throws<BpfException>(() => rt.Helpers.Add(HelperRegistry.FirstHostId, "again", (_, _, _, _, _) => 0, new HelperPrototype(HelperId.Unspec, HelperReturnKind.Integer, []))).Errno);
    }
}
