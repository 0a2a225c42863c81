using Ebpf.Abi;
using Ebpf.Runtime.Maps;
using static Ebpf.Tests.Runtime.Maps.MapTestUtil;

namespace Ebpf.Tests.Runtime.Maps;

public unsafe class RingBufTests
{
    private static RingBufMap Ring(uint size = 4096) => Make<RingBufMap>(MapType.Ringbuf, 0, 0, size);

    [Fact]
    public void RecordHeadersAndPositionsMatchTheKernel()
    {
        using var rb = Ring();
        byte* a = rb.Reserve(10, 0);
        Assert.True(a != null);
        Assert.Equal((0x8000000au, 3u), rb.HeaderAt(0));
        rb.Submit(a, 0);
        Assert.Equal((0x0000000au, 3u), rb.HeaderAt(0));
        Assert.Equal(24ul, rb.ProducerPosition);
        byte* b = rb.Reserve(10, 0);
        rb.Discard(b, 0);
        Assert.Equal(0x4000000au, rb.HeaderAt(24).Len);
        Assert.Equal(48ul, rb.ProducerPosition);
        Assert.Equal(0, rb.Output(new byte[5]));
        Assert.Equal(0x5u, rb.HeaderAt(48).Len);
        Assert.Equal(64ul, rb.Query(RingBufMap.QueryAvailData));
        Assert.Equal(64ul, rb.Query(RingBufMap.QueryProdPos));
        Assert.Equal(0ul, rb.Query(RingBufMap.QueryConsPos));
        Assert.Equal(4096ul, rb.Query(RingBufMap.QueryRingSize));
        Assert.Equal(0ul, rb.Query(9));
        rb.SetConsumerPosition(64);
        Assert.Equal(0ul, rb.Query(RingBufMap.QueryAvailData));
    }

    [Theory]
    [InlineData(4080ul, true)]
    [InlineData(4081ul, false)]
    [InlineData(4087ul, false)]
    [InlineData(4088ul, false)]
    [InlineData(4089ul, false)]
    [InlineData(4096ul, false)]
    public void LargestRecordInAnEmpty4kRingIs4080(ulong size, bool fits)
    {
        using var rb = Ring();
        byte* p = rb.Reserve(size, 0);
        Assert.Equal(fits, p != null);
    }

    [Fact]
    public void ReserveAndOutputErrors()
    {
        using var rb = Ring();
        Assert.True(rb.Reserve(8, 1) == null);
        Assert.True(rb.Reserve(uint.MaxValue / 4 + 1ul, 0) == null);
        Assert.Equal(-(long)Errno.EINVAL, rb.Output(new byte[1], 4));
        byte* held = rb.Reserve(2000, 0); // uncommitted: blocks the space behind it
        Assert.True(held != null);
        Assert.True(rb.Reserve(2080, 0) == null);
        Assert.Equal(-(long)Errno.EAGAIN, rb.Output(new byte[2100]));
        rb.Discard(held, 0);
    }

    [Fact]
    public void ConsumerSkipsDiscardedStopsAtBusyAndWraps()
    {
        using var rb = Ring();
        using var reader = new RingBufferReader(rb);
        var got = new List<byte[]>();
        int Cb(ReadOnlySpan<byte> d) { got.Add(d.ToArray()); return 0; }

        for (int round = 0; round < 50; round++)
        {
            byte* a = rb.Reserve(300, 0);
            new Span<byte>(a, 300).Fill((byte)round);
            byte* b = rb.Reserve(100, 0);
            byte* c = rb.Reserve(7, 0);
            new Span<byte>(c, 7).Fill((byte)(round + 100));
            rb.Submit(a, 0);
            rb.Submit(c, 0);              // committed but behind the busy b
            Assert.Equal(1, reader.Consume(Cb));
            rb.Discard(b, 0);
            Assert.Equal(1, reader.Consume(Cb));
        }
        Assert.Equal(100, got.Count);
        for (int round = 0; round < 50; round++)
        {
            Assert.Equal(Enumerable.Repeat((byte)round, 300), got[2 * round]);
            Assert.Equal(Enumerable.Repeat((byte)(round + 100), 7), got[2 * round + 1]);
        }
        Assert.True(rb.ProducerPosition > 4096 * 4); // wrapped several times
        Assert.Equal(rb.ProducerPosition, rb.ConsumerPosition);
    }

    [Fact]
    public void CallbackErrorStopsConsumption()
    {
        using var rb = Ring();
        rb.Output(new byte[1]);
        rb.Output(new byte[1]);
        using var reader = new RingBufferReader(rb);
        Assert.Equal(-5, reader.Consume(_ => -5));
        Assert.Equal(1, reader.Consume(_ => 0));
    }

    [Fact]
    public void WakeupFlags()
    {
        using var rb = Ring();
        long w0 = rb.WakeupCount;
        rb.Output(new byte[4], RingBufMap.NoWakeup);
        Assert.Equal(w0, rb.WakeupCount);
        rb.Output(new byte[4]);            // consumer is at 0, this record is at 16: no wakeup
        Assert.Equal(w0, rb.WakeupCount);
        rb.Output(new byte[4], RingBufMap.ForceWakeup);
        Assert.Equal(w0 + 1, rb.WakeupCount);
        using var reader = new RingBufferReader(rb);
        reader.Consume(_ => 0);
        rb.Output(new byte[4]);            // consumer caught up: this record wakes it
        Assert.Equal(w0 + 2, rb.WakeupCount);
    }

    [Fact]
    public void PollWaitsForAProducer()
    {
        using var rb = Ring();
        using var reader = new RingBufferReader(rb);
        Assert.Equal(0, reader.Poll(_ => 0, 10));
        var t = new Thread(() => { Thread.Sleep(20); rb.Output(new byte[] { 42 }); });
        t.Start();
        int seen = 0;
        long n = 0;
        for (int i = 0; i < 100 && n == 0; i++) n = reader.Poll(d => { seen = d[0]; return 0; }, 1000);
        t.Join();
        Assert.Equal(1, n);
        Assert.Equal(42, seen);
    }

    [Fact]
    public void HostMapCommandsAreNotSupported()
    {
        using var rb = Ring();
        Assert.Equal(Errno.ENOTSUPP, rb.LookupElem(default, default));
        Assert.Equal(Errno.ENOTSUPP, rb.UpdateElem(default, default));
    }
}
