using Ebpf.Collections;
using System.Runtime.CompilerServices;
using Ebpf.Abi;
using Ebpf.Runtime.Memory;

namespace Ebpf.Runtime.Maps;

/// <summary>
/// BPF_MAP_TYPE_RINGBUF with the kernel's byte layout: 8-byte record headers
/// (<c>u32 len | BUSY (1&lt;&lt;31) | DISCARD (1&lt;&lt;30)</c>, <c>u32 pg_off</c>), records padded to 8,
/// u64 producer/consumer positions that never wrap. Producers serialize on a lock for reserve only
/// (as the kernel's rb->spinlock); submit/discard is a lock-free header exchange; one consumer
/// (<see cref="RingBufferReader"/>) reads without locks. The data area is allocated twice its size
/// so a record that wraps stays contiguous past the end (the kernel maps the pages twice instead).
/// </summary>
public sealed unsafe class RingBufMap : BpfMapBase
{
    internal const int HeaderSize = 8;
    internal const uint BusyBit = 1u << 31;
    internal const uint DiscardBit = 1u << 30;
    /// <summary>Page offset of the data area from the start of the kernel's struct bpf_ringbuf.</summary>
    internal const uint DataPageOffset = 3;

    internal const ulong NoWakeup = 1, ForceWakeup = 2;
    internal const ulong QueryAvailData = 0, QueryRingSize = 1, QueryConsPos = 2, QueryProdPos = 3;

    private readonly object _reserveLock = new();
    private readonly byte* _data;
    private readonly ulong _mask;
    private long _consumerPos;
    private long _producerPos;
    private long _pendingPos;
    private long _wakeups;
    private readonly ManualResetEventSlim _signal = new(false);

    internal RingBufMap(MapDefinition a) : base(a, a.MaxEntries)
    {
        _mask = a.MaxEntries - 1u;
        _data = NativeBlock.AllocPages((nuint)a.MaxEntries * 2);
    }

    /// <summary>The data area's size in bytes (max_entries, a power of two).</summary>
    public ulong RingSize => _mask + 1;
    /// <summary>How far the consumer has read (bytes since creation).</summary>
    public ulong ConsumerPosition => (ulong)Volatile.Read(ref _consumerPos);
    /// <summary>How far producers have reserved (bytes since creation).</summary>
    public ulong ProducerPosition => (ulong)Volatile.Read(ref _producerPos);
    /// <summary>Consumer notifications sent so far (submit/output wakeups).</summary>
    internal long WakeupCount => Interlocked.Read(ref _wakeups);
    internal ManualResetEventSlim Signal => _signal;
    internal byte* Data => _data;

    private protected override void FreeNative()
    {
        nint p = (nint)_data;
        EpochManager.Retire(() => { NativeBlock.FreePages((byte*)p); _signal.Dispose(); });
    }

    /// <summary>bpf_ringbuf_reserve: pointer to <paramref name="size"/> writable bytes, or null.</summary>
    internal byte* Reserve(ulong size, ulong flags)
    {
        if (flags != 0 || size > uint.MaxValue / 4) return null;
        ulong len = (size + HeaderSize + 7) & ~7ul;
        if (len > _mask + 1) return null;
        lock (_reserveLock)
        {
            ulong cons = (ulong)Volatile.Read(ref _consumerPos);
            ulong prod = (ulong)_producerPos;
            ulong pend = (ulong)_pendingPos;
            // Skip committed records to find the oldest still-busy one.
            while (pend < prod)
            {
                uint hl = Volatile.Read(ref *(uint*)(_data + (pend & _mask)));
                if ((hl & BusyBit) != 0) break;
                pend += ((hl & ~DiscardBit) + HeaderSize + 7) & ~7u;
            }
            _pendingPos = (long)pend;
            ulong newProd = prod + len;
            if (newProd - cons > _mask || newProd - pend > _mask) return null;
            byte* hdr = _data + (prod & _mask);
            *(uint*)(hdr + 4) = (uint)(((prod & _mask) >> 12) + DataPageOffset);
            Volatile.Write(ref *(uint*)hdr, (uint)size | BusyBit);
            Volatile.Write(ref _producerPos, (long)newProd);
            return hdr + HeaderSize;
        }
    }

    /// <summary>bpf_ringbuf_submit / bpf_ringbuf_discard (flags: BPF_RB_NO_WAKEUP / BPF_RB_FORCE_WAKEUP; others ignored).</summary>
    internal void Commit(byte* sample, ulong flags, bool discard)
    {
        byte* hdr = sample - HeaderSize;
        ref uint word = ref Unsafe.AsRef<uint>(hdr);
        uint len = word & ~BusyBit;
        if (discard) len |= DiscardBit;
        Interlocked.Exchange(ref word, len); // release: the data is visible before BUSY clears
        ulong recPos = (ulong)(hdr - _data);
        ulong cons = (ulong)Volatile.Read(ref _consumerPos) & _mask;
        if ((flags & ForceWakeup) != 0 || (cons == recPos && (flags & NoWakeup) == 0)) Wake();
    }

    internal void Submit(byte* sample, ulong flags) => Commit(sample, flags, false);
    internal void Discard(byte* sample, ulong flags) => Commit(sample, flags, true);

    /// <summary>bpf_ringbuf_output: 0, -EINVAL (flags), -EAGAIN (no space).</summary>
    internal long Output(byte* data, ulong size, ulong flags)
    {
        if ((flags & ~(NoWakeup | ForceWakeup)) != 0) return -(long)Errno.EINVAL;
        byte* rec = Reserve(size, 0);
        if (rec == null) return -(long)Errno.EAGAIN;
        Buffer.MemoryCopy(data, rec, (long)size, (long)size);
        Commit(rec, flags, false);
        return 0;
    }

    internal long Output(ReadOnlySpan<byte> data, ulong flags = 0)
    {
        fixed (byte* p = data) return Output(p, (ulong)data.Length, flags);
    }

    /// <summary>bpf_ringbuf_query.</summary>
    internal ulong Query(ulong flags) => flags switch
    {
        QueryAvailData => ProducerPosition - ConsumerPosition,
        QueryRingSize => _mask + 1,
        QueryConsPos => ConsumerPosition,
        QueryProdPos => ProducerPosition,
        _ => 0,
    };

    private void Wake()
    {
        Interlocked.Increment(ref _wakeups);
        _signal.Set();
    }

    /// <summary>
    /// Consumer side: delivers committed records from the consumer position on, skipping discarded
    /// ones, stopping at a busy one. Returns records delivered, or the callback's negative value.
    /// Only one consumer at a time.
    /// </summary>
    internal long ConsumeRecords(RingBufferCallback callback, ref bool stop)
    {
        long n = 0;
        ulong cons = (ulong)Volatile.Read(ref _consumerPos);
        while (true)
        {
            ulong prod = (ulong)Volatile.Read(ref _producerPos);
            if (cons >= prod) break;
            byte* hdr = _data + (cons & _mask);
            uint hl = Volatile.Read(ref *(uint*)hdr);
            if ((hl & BusyBit) != 0) break;
            uint len = hl & ~DiscardBit;
            cons += (len + HeaderSize + 7) & ~7u;
            int rc = 0;
            if ((hl & DiscardBit) == 0)
            {
                rc = callback(new ReadOnlySpan<byte>(hdr + HeaderSize, (int)len));
                n++;
            }
            Volatile.Write(ref _consumerPos, (long)cons);
            if (rc < 0) { stop = true; return rc; }
        }
        return n;
    }

    /// <summary>Moves the consumer position (what a user-space consumer writes into page 0).</summary>
    internal void SetConsumerPosition(ulong pos) => Volatile.Write(ref _consumerPos, (long)pos);

    /// <summary>Raw header of the record at position <paramref name="pos"/> (for tests and tools).</summary>
    internal (uint Len, uint PgOff) HeaderAt(ulong pos)
    {
        byte* h = _data + (pos & _mask);
        return (Volatile.Read(ref *(uint*)h), *(uint*)(h + 4));
    }
}

/// <summary>Ring buffer sample callback: return ≥ 0 to continue, &lt; 0 to stop (the value is returned).</summary>
public delegate int RingBufferCallback(ReadOnlySpan<byte> data);

/// <summary>
/// The host consumer of one or more ring buffers, like libbpf's <c>struct ring_buffer</c>:
/// <see cref="Poll"/> waits for a wakeup (or the timeout) and consumes; <see cref="Consume"/> reads
/// whatever is committed without waiting.
/// </summary>
public sealed class RingBufferReader : IDisposable
{
    private readonly List<RingBufMap> _maps = new();

    /// <summary>
    /// A reader of <paramref name="map"/> (ring_buffer__new); more rings can be added with <see cref="Add"/>.
    /// </summary>
    public RingBufferReader(RingBufMap map) => Add(map);

    /// <summary>ring_buffer__add.</summary>
    public void Add(RingBufMap map)
    {
        ArgumentNullException.ThrowIfNull(map);
        _maps.Add(map);
    }

    /// <summary>ring_buffer__consume: records delivered across all rings, or the callback's negative value.</summary>
    public long Consume(RingBufferCallback callback)
    {
        long total = 0;
        foreach (var m in _maps)
        {
            m.Signal.Reset();
            bool stop = false;
            long n = m.ConsumeRecords(callback, ref stop);
            if (stop) return n;
            total += n;
        }
        return total;
    }

    /// <summary>ring_buffer__poll: consume; if nothing was there, wait up to <paramref name="timeoutMs"/> (−1 = forever) for a wakeup and consume again.</summary>
    public long Poll(RingBufferCallback callback, int timeoutMs)
    {
        long n = Consume(callback);
        if (n != 0) return n;
        if (_maps.Count == 1) _maps[0].Signal.Wait(timeoutMs);
        else WaitHandle.WaitAny(_maps.Select(m => m.Signal.WaitHandle).ToArray(), timeoutMs);
        return Consume(callback);
    }

    /// <summary>Stops reading every ring (the maps themselves stay).</summary>
    public void Dispose() => _maps.Clear();
}
