using System.Buffers.Binary;
using Ebpf.Abi;
using Ebpf.Runtime;
using Ebpf.Runtime.Helpers;
using Ebpf.Runtime.Objects;
using Ebpf.Runtime.ProgramTypes;

namespace Ebpf.Tests.Runtime;

/// <summary>
/// test_run context construction, checked through a host-side "program" that reads the context
/// the way a BPF program's rewritten loads do (user-visible scalars in place, pointers from the
/// internal slots).
/// </summary>
public unsafe class TestRunTests
{
    private sealed class DelegateExecutor(Func<nint, ulong> body) : IProgramExecutor
    {
        public ulong Run(ProgramObject program, nint context) => body(context);
    }

    private static (BpfRuntime, BpfProgram) Setup(ProgramType type, Func<nint, ulong> body)
    {
        var rt = new BpfRuntime { Executor = new DelegateExecutor(body) };
        return (rt, RuntimeTestPrograms.Load(rt, type));
    }

    private static uint U32(nint ctx, int off) => *(uint*)(ctx + off);
    private static ulong U64(nint ctx, int off) => *(ulong*)(ctx + off);

    /// <summary>A 50-byte IPv4/UDP frame to aa:aa:… like the reference observations.</summary>
    private static byte[] Ipv4Frame(int size = 50)
    {
        var f = new byte[size];
        f.AsSpan(0, 6).Fill(0xaa);
        f[12] = 0x08; f[13] = 0x00;
        f[14] = 0x45; f[16] = 0; f[17] = (byte)(size - 14);
        f[22] = 64; f[23] = 17;
        f[26] = 10; f[29] = 1; // saddr 10.0.0.1
        f[30] = 10; f[33] = 2; // daddr 10.0.0.2
        return f;
    }

    [Fact]
    public void Xdp_sees_packet_between_data_and_data_end_with_kernel_headroom()
    {
        ulong seenLen = 0, headroom = 0; uint ifindex = 0; byte first = 0;
        var (rt, prog) = Setup(ProgramType.Xdp, ctx =>
        {
            ulong data = U64(ctx, ProgramTypeInfo.XdpDataSlot), end = U64(ctx, ProgramTypeInfo.XdpDataEndSlot);
            seenLen = end - data;
            headroom = data - U64(ctx, ProgramTypeInfo.XdpDataMetaSlot);
            ifindex = U32(ctx, 12);
            first = *(byte*)data;
            (*(byte*)data)++;
            return 2;
        });
        var frame = Ipv4Frame();
        var r = rt.TestRun(prog, new TestRunOptions { DataIn = frame, DataSizeOut = 0, Repeat = 5 });
        Assert.Equal(2u, r.ReturnValue);
        Assert.Equal(50ul, seenLen);
        Assert.Equal(0ul, headroom); // data_meta == data
        Assert.Equal(1u, ifindex);   // lo
        Assert.Equal(0xaa + 4, first);
        Assert.Equal(0xaa + 5, r.DataOut![0]); // same packet across repeats
        Assert.Equal(50, r.DataSizeOut);
    }

    [Fact]
    public void Xdp_ctx_in_metadata_and_ctx_out()
    {
        ulong meta = 0, len = 0;
        var (rt, prog) = Setup(ProgramType.Xdp, ctx =>
        {
            meta = U64(ctx, ProgramTypeInfo.XdpDataSlot) - U64(ctx, ProgramTypeInfo.XdpDataMetaSlot);
            len = U64(ctx, ProgramTypeInfo.XdpDataEndSlot) - U64(ctx, ProgramTypeInfo.XdpDataSlot);
            return 1;
        });
        var ctx = new byte[24];
        BinaryPrimitives.WriteUInt32LittleEndian(ctx, 8);
        BinaryPrimitives.WriteUInt32LittleEndian(ctx.AsSpan(4), 40);
        BinaryPrimitives.WriteUInt32LittleEndian(ctx.AsSpan(12), 1);
        var r = rt.TestRun(prog, new TestRunOptions { DataIn = Ipv4Frame(), ContextIn = ctx, ContextSizeOut = 24, DataSizeOut = 0 });
        Assert.Equal(8ul, meta);
        Assert.Equal(32ul, len);
        Assert.Equal(Errno.None, r.Error);
        Assert.Equal(8u, BinaryPrimitives.ReadUInt32LittleEndian(r.ContextOut));
        Assert.Equal(40u, BinaryPrimitives.ReadUInt32LittleEndian(r.ContextOut.AsSpan(4)));
        Assert.Equal(1u, BinaryPrimitives.ReadUInt32LittleEndian(r.ContextOut.AsSpan(12)));
        Assert.Equal(50, r.DataSizeOut); // meta + linear + frags (10 bytes beyond data_end go to a frag)
    }

    [Theory]
    [InlineData(0, 0, 4, 0, 0, Errno.EINVAL)]   // data_meta != 0
    [InlineData(0, 60, 0, 0, 0, Errno.EINVAL)]  // data_end > data_size_in
    [InlineData(20, 10, 0, 0, 0, Errno.EINVAL)] // data > data_end
    [InlineData(2, 40, 0, 0, 0, Errno.EINVAL)]  // metadata not 4-aligned
    [InlineData(0, 40, 0, 77, 0, Errno.ENODEV)] // unknown ingress device
    [InlineData(0, 40, 0, 0, 1, Errno.EINVAL)]  // rx queue without ingress
    [InlineData(0, 40, 0, 1, 1, Errno.EINVAL)]  // lo has one queue
    public void Xdp_ctx_in_errors(uint data, uint dataEnd, uint dataMeta, uint ingress, uint rxq, Errno expected)
    {
        var (rt, prog) = Setup(ProgramType.Xdp, _ => 0);
        var ctx = new byte[24];
        BinaryPrimitives.WriteUInt32LittleEndian(ctx, data);
        BinaryPrimitives.WriteUInt32LittleEndian(ctx.AsSpan(4), dataEnd);
        BinaryPrimitives.WriteUInt32LittleEndian(ctx.AsSpan(8), dataMeta);
        BinaryPrimitives.WriteUInt32LittleEndian(ctx.AsSpan(12), ingress);
        BinaryPrimitives.WriteUInt32LittleEndian(ctx.AsSpan(16), rxq);
        Assert.Equal(expected, Assert.Throws<BpfException>(() => rt.TestRun(prog, new TestRunOptions { DataIn = Ipv4Frame(), ContextIn = ctx })).Errno);
    }

    [Fact]
    public void Xdp_generic_errors()
    {
        var (rt, prog) = Setup(ProgramType.Xdp, _ => 0);
        Errno Run(TestRunOptions o) => Assert.Throws<BpfException>(() => rt.TestRun(prog, o)).Errno;
        Assert.Equal(Errno.EINVAL, Run(new TestRunOptions { DataIn = new byte[13] }));
        Assert.Equal(Errno.EINVAL, Run(new TestRunOptions { DataIn = Ipv4Frame(), Flags = (TestRunFlags)1 }));
        Assert.Equal(Errno.EINVAL, Run(new TestRunOptions { DataIn = Ipv4Frame(), BatchSize = 1 }));
        Assert.Equal(Errno.E2BIG, Run(new TestRunOptions { DataIn = Ipv4Frame(), ContextIn = [.. new byte[24], 0, 1] }));
    }

    [Fact]
    public void Xdp_only_ctx_out_gives_empty_linear_part_and_big_packets_become_frags()
    {
        ulong len = 99;
        var (rt, prog) = Setup(ProgramType.Xdp, ctx => { len = U64(ctx, ProgramTypeInfo.XdpDataEndSlot) - U64(ctx, ProgramTypeInfo.XdpDataSlot); return 0; });
        var r = rt.TestRun(prog, new TestRunOptions { DataIn = Ipv4Frame(), ContextSizeOut = 24, DataSizeOut = 0 });
        Assert.Equal(0ul, len);
        Assert.Equal(50, r.DataOut!.Length);
        rt.TestRun(prog, new TestRunOptions { DataIn = new byte[5000] });
        Assert.Equal((ulong)XdpContext.MaxLinear, len);
    }

    [Fact]
    public void Data_out_too_small_is_ENOSPC_with_full_size_and_no_ctx_out()
    {
        var (rt, prog) = Setup(ProgramType.Xdp, _ => 3);
        var ctx = new byte[24];
        BinaryPrimitives.WriteUInt32LittleEndian(ctx.AsSpan(4), 50);
        var r = rt.TestRun(prog, new TestRunOptions { DataIn = Ipv4Frame(), DataSizeOut = 20, ContextIn = ctx, ContextSizeOut = 24 });
        Assert.Equal(Errno.ENOSPC, r.Error);
        Assert.Equal(50, r.DataSizeOut);
        Assert.Equal(20, r.DataOut!.Length);
        Assert.Equal(3u, r.ReturnValue);
        Assert.Null(r.ContextOut);
        // Only ctx_out: the whole packet is frags, and 20 bytes cannot hold them (-ENOSPC, nothing written).
        Assert.Equal(Errno.ENOSPC, Assert.Throws<BpfException>(() => rt.TestRun(prog, new TestRunOptions { DataIn = Ipv4Frame(), DataSizeOut = 20, ContextSizeOut = 24 })).Errno);
    }

    [Fact]
    public void Socket_filter_consumes_ethernet_header()
    {
        uint len = 0, pktType = 9, protocol = 0, ifindex = 0, wireLen = 9, family = 0, saddr = 0, state = 0; byte first = 0;
        var (rt, prog) = Setup(ProgramType.SocketFilter, ctx =>
        {
            len = U32(ctx, 0); pktType = U32(ctx, 4); protocol = U32(ctx, 16); ifindex = U32(ctx, 40); wireLen = U32(ctx, 160);
            first = *(byte*)U64(ctx, ProgramTypeInfo.SkbDataSlot);
            ulong sk = U64(ctx, 168);
            family = *(uint*)(sk + 4); saddr = *(uint*)(sk + 24); state = *(uint*)(sk + 72);
            var skb = (SkbContext)HelperInvocation.Current!.PacketState!;
            Assert.Equal(0x45, skb.Packet[0]);
            return 0;
        });
        var r = rt.TestRun(prog, new TestRunOptions { DataIn = Ipv4Frame(), DataSizeOut = 0 });
        Assert.Equal(36u, len);
        Assert.Equal(3u, pktType);
        Assert.Equal(0x0008u, protocol);
        Assert.Equal(1u, ifindex);
        Assert.Equal(0u, wireLen);
        Assert.Equal(0x45, first);
        Assert.Equal(2u, family);
        Assert.Equal(0x0100000au, saddr); // 10.0.0.1 in network order
        Assert.Equal(7u, state);
        // data_out: 14 zero bytes then L3
        Assert.Equal(50, r.DataOut!.Length);
        Assert.All(r.DataOut[..14], b => Assert.Equal(0, b));
        Assert.Equal(0x45, r.DataOut[14]);
    }

    [Fact]
    public void Sched_cls_sees_l2_and_ctx_round_trip()
    {
        uint len = 0, wire = 0, mark = 0; ulong dataLen = 0;
        var (rt, prog) = Setup(ProgramType.SchedCls, ctx =>
        {
            len = U32(ctx, 0); wire = U32(ctx, 160); mark = U32(ctx, 8);
            dataLen = U64(ctx, ProgramTypeInfo.SkbDataEndSlot) - U64(ctx, ProgramTypeInfo.SkbDataSlot);
            *(uint*)(ctx + 8) = mark + 1;       // mark
            *(uint*)(ctx + 44) = 7;             // tc_index: not copied back
            *(uint*)(ctx + 48) = 0x11223344;    // cb[0]
            return 0;
        });
        var ctxIn = new byte[192];
        BinaryPrimitives.WriteUInt32LittleEndian(ctxIn.AsSpan(8), 41);
        BinaryPrimitives.WriteUInt32LittleEndian(ctxIn.AsSpan(176), 1234); // gso_size kept
        var r = rt.TestRun(prog, new TestRunOptions { DataIn = Ipv4Frame(), ContextIn = ctxIn, ContextSizeOut = 192, DataSizeOut = 0 });
        Assert.Equal(50u, len);
        Assert.Equal(50ul, dataLen);
        Assert.Equal(50u, wire);
        Assert.Equal(41u, mark);
        var o = r.ContextOut!;
        Assert.Equal(42u, BinaryPrimitives.ReadUInt32LittleEndian(o.AsSpan(8)));
        Assert.Equal(0u, BinaryPrimitives.ReadUInt32LittleEndian(o.AsSpan(44)));
        Assert.Equal(0x11223344u, BinaryPrimitives.ReadUInt32LittleEndian(o.AsSpan(48)));
        Assert.Equal(1u, BinaryPrimitives.ReadUInt32LittleEndian(o.AsSpan(40)));
        Assert.Equal(50u, BinaryPrimitives.ReadUInt32LittleEndian(o.AsSpan(160)));
        Assert.Equal(1234u, BinaryPrimitives.ReadUInt32LittleEndian(o.AsSpan(176)));
        Assert.Equal(0xaa, r.DataOut![0]);
    }

    [Theory]
    [InlineData(0, 1u)]      // len: not settable
    [InlineData(16, 1u)]     // protocol
    [InlineData(44, 1u)]     // tc_index
    [InlineData(160, 1u)]    // wire_len < len
    [InlineData(164, 65536u)] // gso_segs too large
    public void Skb_ctx_in_rejects_fields_the_kernel_rejects(int offset, uint value)
    {
        var (rt, prog) = Setup(ProgramType.SchedCls, _ => 0);
        var ctx = new byte[192];
        BinaryPrimitives.WriteUInt32LittleEndian(ctx.AsSpan(offset), value);
        Assert.Equal(Errno.EINVAL, Assert.Throws<BpfException>(() => rt.TestRun(prog, new TestRunOptions { DataIn = Ipv4Frame(), ContextIn = ctx })).Errno);
    }

    [Fact]
    public void Skb_errors()
    {
        var (rt, prog) = Setup(ProgramType.SchedCls, _ => 0);
        Errno Run(TestRunOptions o) => Assert.Throws<BpfException>(() => rt.TestRun(prog, o)).Errno;
        Assert.Equal(Errno.EINVAL, Run(new TestRunOptions { DataIn = Ipv4Frame()[..14] })); // IPv4 without header
        Assert.Equal(Errno.EINVAL, Run(new TestRunOptions { DataIn = new byte[3713] }));
        Assert.Equal(Errno.EINVAL, Run(new TestRunOptions { DataIn = Ipv4Frame(), Flags = (TestRunFlags)1 }));
        Assert.Equal(Errno.EINVAL, Run(new TestRunOptions { DataIn = Ipv4Frame(), Cpu = 1 }));
        var ctx = new byte[192];
        BinaryPrimitives.WriteUInt32LittleEndian(ctx.AsSpan(40), 99);
        Assert.Equal(Errno.ENODEV, Run(new TestRunOptions { DataIn = Ipv4Frame(), ContextIn = ctx }));
        var ok = new byte[14]; ok[12] = 0x12; ok[13] = 0x34;
        rt.TestRun(prog, new TestRunOptions { DataIn = ok });
        rt.TestRun(prog, new TestRunOptions { DataIn = new byte[3712] });
    }

    [Fact]
    public void Types_without_test_run_are_ENOTSUPP()
    {
        var (rt, prog) = Setup(ProgramType.Kprobe, _ => 0);
        Assert.Equal(Errno.ENOTSUPP, Assert.Throws<BpfException>(() => rt.TestRun(prog, new TestRunOptions())).Errno);
    }

    [Fact]
    public void Xdp_adjust_helpers_follow_kernel_limits()
    {
        var results = new List<long>();
        var (rt, prog) = Setup(ProgramType.Xdp, ctx =>
        {
            results.Add((long)PacketHelpers.XdpAdjustHead((ulong)ctx, unchecked((ulong)-216), 0, 0, 0));
            results.Add((long)PacketHelpers.XdpAdjustHead((ulong)ctx, 216, 0, 0, 0));   // back
            results.Add((long)PacketHelpers.XdpAdjustHead((ulong)ctx, unchecked((ulong)-217), 0, 0, 0));
            results.Add((long)PacketHelpers.XdpAdjustHead((ulong)ctx, 27, 0, 0, 0));
            results.Add((long)PacketHelpers.XdpAdjustMeta((ulong)ctx, unchecked((ulong)-3), 0, 0, 0));
            results.Add((long)PacketHelpers.XdpAdjustMeta((ulong)ctx, unchecked((ulong)-8), 0, 0, 0));
            results.Add((long)PacketHelpers.XdpAdjustTail((ulong)ctx, 3480, 0, 0, 0));
            results.Add((long)PacketHelpers.XdpAdjustTail((ulong)ctx, 1, 0, 0, 0));
            return 0;
        });
        var r = rt.TestRun(prog, new TestRunOptions { DataIn = Ipv4Frame(40), DataSizeOut = 0 });
        Assert.Equal(new long[] { 0, 0, -(long)Errno.EINVAL, -(long)Errno.EINVAL, -(long)Errno.EACCES, 0, 0, -(long)Errno.EINVAL }, results);
        Assert.Equal(8 + 3520, r.DataOut!.Length);
    }

    [Fact]
    public void Skb_load_and_store_bytes_and_redirect()
    {
        var (rt, prog) = Setup(ProgramType.SchedCls, ctx =>
        {
            ulong buf = (ulong)System.Runtime.InteropServices.NativeMemory.AllocZeroed(4);
            try
            {
                Assert.Equal(0ul, PacketHelpers.SkbLoadBytes((ulong)ctx, 12, buf, 2, 0));
                Assert.Equal(0x08, *(byte*)buf);
                Assert.Equal(-(long)Errno.EFAULT, (long)PacketHelpers.SkbLoadBytes((ulong)ctx, 49, buf, 2, 0));
                Assert.Equal(0, *(byte*)buf); // zeroed on error
                *(byte*)buf = 0x99;
                Assert.Equal(0ul, PacketHelpers.SkbStoreBytes((ulong)ctx, 0, buf, 1, 0));
                Assert.Equal(-(long)Errno.EINVAL, (long)PacketHelpers.SkbStoreBytes((ulong)ctx, 0, buf, 1, 4));
                return PacketHelpers.Redirect(5, 0, 0, 0, 0);
            }
            finally { System.Runtime.InteropServices.NativeMemory.Free((void*)buf); }
        });
        var r = rt.TestRun(prog, new TestRunOptions { DataIn = Ipv4Frame(), DataSizeOut = 0 });
        Assert.Equal(7u, r.ReturnValue);
        Assert.Equal(0x99, r.DataOut![0]);
    }
}
