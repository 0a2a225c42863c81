using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Diagnostics;
using Ebpf.Abi;
using Ebpf.Runtime.Maps;
using Ebpf.Runtime.Memory;
using static Ebpf.Tests.Runtime.Maps.MapTestUtil;

namespace Ebpf.Tests.Runtime.Maps;

/// <summary>Concurrency stress: each test runs ≈1 s of mixed operations and checks invariants that torn state would break.</summary>
public unsafe class MapStressTests
{
    private const int Threads = 4;
    private static readonly TimeSpan Duration = TimeSpan.FromMilliseconds(800);

    /// <summary>A 64-byte value whose every word is derived from (key, seq): any mix of two writes fails the check.</summary>
    private static void Fill(Span<byte> v, uint key, uint seq)
    {
        for (int i = 0; i < v.Length / 4; i++)
            BinaryPrimitives.WriteUInt32LittleEndian(v[(i * 4)..], i == 0 ? key : i == 1 ? seq : (key * 2654435761u) ^ (seq + (uint)i) * 40503u);
    }

    private static bool Valid(ReadOnlySpan<byte> v, uint key)
    {
        if (BinaryPrimitives.ReadUInt32LittleEndian(v) != key) return false;
        uint seq = BinaryPrimitives.ReadUInt32LittleEndian(v[4..]);
        for (int i = 2; i < v.Length / 4; i++)
            if (BinaryPrimitives.ReadUInt32LittleEndian(v[(i * 4)..]) != ((key * 2654435761u) ^ (seq + (uint)i) * 40503u)) return false;
        return true;
    }

    private static void RunThreads(Action<int, Random, Func<bool>> body)
    {
        var sw = Stopwatch.StartNew();
        var errors = new ConcurrentQueue<Exception>();
        var threads = Enumerable.Range(0, Threads).Select(t => new Thread(() =>
        {
            try { body(t, new Random(t * 31 + 1), () => sw.Elapsed < Duration); }
            catch (Exception e) { errors.Enqueue(e); }
        })).ToList();
        threads.ForEach(t => t.Start());
        threads.ForEach(t => t.Join());
        if (!errors.IsEmpty) throw new AggregateException(errors);
    }

    [Theory]
    [InlineData(MapType.Hash, MapFlags.None)]
    [InlineData(MapType.LruHash, MapFlags.None)]
    [InlineData(MapType.LruHash, MapFlags.NoCommonLru)]
    public void HashValuesNeverTornAndCountNeverAboveMax(MapType type, MapFlags flags)
    {
        using var m = Make<HashMap>(type, 4, 64, 128, flags);
        uint keySpace = 512;
        long ops = 0;
        RunThreads((t, rnd, running) =>
        {
            var v = new byte[64];
            uint seq = 0;
            while (running())
            {
                uint key = (uint)rnd.Next((int)keySpace);
                int op = rnd.Next(10);
                if (op < 4)
                {
                    Fill(v, key, ++seq);
                    var e = m.UpdateElem(U32(key), v);
                    Assert.True(e == Errno.None || (e == Errno.E2BIG && type == MapType.Hash), e.ToString());
                }
                else if (op < 6)
                {
                    var e = m.DeleteElem(U32(key));
                    Assert.True(e is Errno.None or Errno.ENOENT);
                }
                else if (op < 8)
                {
                    if (m.TryLookup(U32(key), v)) Assert.True(Valid(v, key), "host lookup saw a torn value");
                }
                else
                {
                    EpochManager.Enter();
                    try
                    {
                        byte* p = m.ProgramLookup((byte*)&key, t);
                        if (p != null)
                        {
                            var snap = new ReadOnlySpan<byte>(p, 64).ToArray();
                            Thread.SpinWait(20); // let writers replace/delete meanwhile
                            Assert.True(Valid(snap, key), "program lookup saw a torn value");
                            Assert.True(new ReadOnlySpan<byte>(p, 64).SequenceEqual(snap), "value changed under a reader");
                        }
                    }
                    finally { EpochManager.Exit(); }
                }
                Assert.True(m.Count <= (int)m.MaxEntries, $"count {m.Count} above max {m.MaxEntries}");
                Interlocked.Increment(ref ops);
            }
        });
        Assert.True(ops > 1000);
        var keys = m.Keys();
        Assert.Equal(m.Count, keys.Count);
        Assert.True(keys.Count <= (int)m.MaxEntries);
        var val = new byte[64];
        foreach (var k in keys)
        {
            m.Lookup(k, val);
            Assert.True(Valid(val, BitConverter.ToUInt32(k)));
        }
        Assert.Equal(keys.Count, keys.Select(Convert.ToHexString).Distinct().Count());
    }

    [Fact]
    public void RingBufferRecordsFromManyProducersArriveWholeAndInOrder()
    {
        using var rb = Make<RingBufMap>(MapType.Ringbuf, 0, 0, 16384);
        using var reader = new RingBufferReader(rb);
        var done = 0;
        var lastSeq = new long[Threads];
        Array.Fill(lastSeq, -1);
        long delivered = 0;
        long committed = 0;
        var consumer = new Thread(() =>
        {
            int Check(ReadOnlySpan<byte> d)
            {
                int producer = d[0];
                uint seq = BinaryPrimitives.ReadUInt32LittleEndian(d[4..]);
                Assert.True(seq > lastSeq[producer], "records of one producer out of order");
                lastSeq[producer] = seq;
                for (int i = 8; i < d.Length; i++)
                    if (d[i] != (byte)(seq + i)) throw new Xunit.Sdk.XunitException("corrupted record");
                Assert.Equal(8 + (int)(seq % 97), d.Length);
                delivered++;
                return 0;
            }
            while (Volatile.Read(ref done) == 0) reader.Poll(Check, 5);
            reader.Consume(Check);
        });
        consumer.Start();
        RunThreads((t, rnd, running) =>
        {
            uint seq = 0;
            while (running())
            {
                seq++;
                int len = 8 + (int)(seq % 97);
                byte* p = rb.Reserve((ulong)len, 0);
                if (p == null) { Thread.Yield(); continue; }
                p[0] = (byte)t;
                *(uint*)(p + 4) = seq;
                for (int i = 8; i < len; i++) p[i] = (byte)(seq + i);
                if (rnd.Next(8) == 0) rb.Discard(p, 0);
                else { rb.Submit(p, 0); Interlocked.Increment(ref committed); }
            }
        });
        Volatile.Write(ref done, 1);
        consumer.Join();
        Assert.Equal(Interlocked.Read(ref committed), delivered);
        Assert.Equal(rb.ProducerPosition, rb.ConsumerPosition);
    }

    [Fact]
    public void QueueNeverLosesOrDuplicates()
    {
        using var q = Make<QueueStackMap>(MapType.Queue, 0, 8, 64);
        var popped = new ConcurrentBag<ulong>();
        long pushed = 0;
        RunThreads((t, rnd, running) =>
        {
            var v = new byte[8];
            ulong n = 0;
            while (running())
            {
                if (t % 2 == 0)
                {
                    ulong val = ((ulong)t << 40) | n;
                    if (q.UpdateElem(default, U64(val)) == Errno.None) { n++; Interlocked.Increment(ref pushed); }
                }
                else if (q.TryPop(v)) popped.Add(BitConverter.ToUInt64(v));
            }
        });
        var rest = new byte[8];
        while (q.TryPop(rest)) popped.Add(BitConverter.ToUInt64(rest));
        Assert.Equal(pushed, popped.Count);
        Assert.Equal(popped.Count, popped.Distinct().Count());
        foreach (var producer in popped.GroupBy(v => v >> 40))
        {
            var seqs = producer.Select(v => v & 0xffffffffff).OrderBy(v => v).ToList();
            Assert.Equal((ulong)seqs.Count - 1, seqs[^1]); // 0..n-1, none missing
        }
    }

    [Fact]
    public void SpinLockedArrayUpdatesAreAtomicUnderFLock()
    {
        using var m = Make<ArrayMap>(MapType.Array, 4, 64, 4, spinLock: 0);
        RunThreads((t, rnd, running) =>
        {
            var v = new byte[64];
            uint seq = 0;
            while (running())
            {
                uint key = (uint)rnd.Next(4);
                if (rnd.Next(2) == 0)
                {
                    // word 0 is the lock; fill words 1.. with one seq value
                    for (int i = 4; i < 64; i += 4) BinaryPrimitives.WriteUInt32LittleEndian(v.AsSpan(i), ++seq + (uint)t * 100000000u);
                    for (int i = 8; i < 64; i += 4) BinaryPrimitives.WriteUInt32LittleEndian(v.AsSpan(i), BinaryPrimitives.ReadUInt32LittleEndian(v.AsSpan(4)));
                    m.Update(U32(key), v, MapUpdateFlags.Lock);
                }
                else
                {
                    m.Lookup(U32(key), v, MapUpdateFlags.Lock);
                    uint w = BinaryPrimitives.ReadUInt32LittleEndian(v.AsSpan(4));
                    for (int i = 8; i < 64; i += 4) Assert.Equal(w, BinaryPrimitives.ReadUInt32LittleEndian(v.AsSpan(i)));
                }
            }
        });
    }

    [Fact]
    public void PercpuHashConcurrentProgramUpdatesKeepPerCpuSlotsSeparate()
    {
        using var m = Make<HashMap>(MapType.PercpuHash, 4, 8, 16);
        int cpus = BpfCpu.PossibleCount;
        var counts = new long[Threads];
        RunThreads((t, rnd, running) =>
        {
            if (t >= cpus) return; // one thread per CPU slot
            uint key = 1;
            while (running())
            {
                EpochManager.Enter();
                try
                {
                    byte* p = m.ProgramLookup((byte*)&key, t);
                    if (p == null)
                    {
                        ulong zero = 0;
                        long r = m.ProgramUpdate((byte*)&key, (byte*)&zero, (ulong)MapUpdateFlags.NoExist, t);
                        Assert.True(r is 0 or -(long)Errno.EEXIST);
                        continue;
                    }
                    (*(ulong*)p)++;
                    counts[t]++;
                }
                finally { EpochManager.Exit(); }
            }
        });
        var all = new byte[8 * cpus];
        m.Lookup(U32(1), all);
        for (int c = 0; c < Math.Min(cpus, Threads); c++)
            Assert.Equal((ulong)counts[c], BitConverter.ToUInt64(all, 8 * c));
    }
}
