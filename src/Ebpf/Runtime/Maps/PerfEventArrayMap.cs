using Ebpf.Collections;
using System.Buffers.Binary;
using Ebpf.Abi;

namespace Ebpf.Runtime.Maps;

/// <summary>
/// BPF_MAP_TYPE_PERF_EVENT_ARRAY: slot i holds the BPF-output event of CPU i (a
/// <see cref="PerfEventBuffer"/>, installed by a <see cref="PerfEventReader"/>). bpf_perf_event_output
/// writes a PERF_RECORD_SAMPLE with the raw data into the buffer selected by the flags' index
/// (BPF_F_CURRENT_CPU = this CPU): unknown flag bits → EINVAL, index ≥ max_entries → E2BIG,
/// empty slot → ENOENT, an event bound to another CPU → EOPNOTSUPP, a full buffer → ENOSPC and the
/// loss is counted and reported to the consumer. Host: delete clears a slot; lookup → ENOTSUPP.
/// </summary>
public sealed unsafe class PerfEventArrayMap : BpfMapBase
{
    internal const ulong CurrentCpu = 0xffffffff;
    internal const ulong IndexMask = 0xffffffff;

    private readonly PerfEventBuffer?[] _slots;

    internal PerfEventArrayMap(MapDefinition a) : base(a, a.MaxEntries) => _slots = new PerfEventBuffer?[a.MaxEntries];

    /// <summary>Installs an event buffer at <paramref name="index"/> (the analogue of storing a perf event fd).</summary>
    internal void SetBuffer(uint index, PerfEventBuffer? buffer)
    {
        if (index >= (uint)_slots.Length) Check(Errno.E2BIG, "update");
        Volatile.Write(ref _slots[index], buffer);
    }

    internal PerfEventBuffer? GetBuffer(uint index) => index < (uint)_slots.Length ? Volatile.Read(ref _slots[index]) : null;

    /// <summary>bpf_perf_event_output (base variant): 0 or a negative errno. <paramref name="flags"/> bits above 31 are rejected.</summary>
    internal long Output(ulong flags, byte* data, ulong size, int cpu)
    {
        if ((flags & ~IndexMask) != 0) return -(long)Errno.EINVAL;
        ulong index = flags & IndexMask;
        if (index == CurrentCpu) index = (ulong)cpu;
        if (index >= (ulong)_slots.Length) return -(long)Errno.E2BIG;
        var buf = Volatile.Read(ref _slots[index]);
        if (buf is null) return -(long)Errno.ENOENT;
        if (buf.Cpu != cpu) return -(long)Errno.EOPNOTSUPP;
        return buf.Write(data, size);
    }

    internal long Output(ulong flags, ReadOnlySpan<byte> data, int cpu)
    {
        fixed (byte* p = data) return Output(flags, p, (ulong)data.Length, cpu);
    }

    private protected override Errno DeleteCore(ReadOnlySpan<byte> key)
    {
        uint index = BinaryPrimitives.ReadUInt32LittleEndian(key);
        if (index >= (uint)_slots.Length) return Errno.E2BIG; // fd_array_map_delete_elem
        return Interlocked.Exchange(ref _slots[index], null) is null ? Errno.ENOENT : Errno.None;
    }

    private protected override Errno GetNextKeyCore(ReadOnlySpan<byte> key, Span<byte> nextKey) =>
        FdArrayKeys.Next(key, nextKey, (uint)_slots.Length);

    private protected override void FreeNative() => Array.Clear(_slots);
}

/// <summary>
/// One CPU's perf ring (data pages of a BPF-output perf event): records are
/// <c>struct perf_event_header { u32 type = PERF_RECORD_SAMPLE (9); u16 misc; u16 size; } u32 raw_size; u8 raw[]</c>
/// padded to 8. Multiple producers serialize on a lock; one consumer.
/// </summary>
public sealed unsafe class PerfEventBuffer : IDisposable
{
    internal const uint PerfRecordSample = 9;
    internal const uint PerfRecordLost = 2;

    private readonly object _lock = new();
    private readonly byte[] _ring;
    private readonly ulong _mask;
    private ulong _head;   // producer
    private ulong _tail;   // consumer
    private ulong _lost;

    internal PerfEventBuffer(int cpu, int pageCount)
    {
        if (pageCount <= 0 || (pageCount & (pageCount - 1)) != 0)
            throw new BpfException(Errno.EINVAL, $"perf buffer page count {pageCount} must be a power of 2");
        Cpu = cpu;
        _ring = new byte[pageCount * 4096];
        _mask = (ulong)_ring.Length - 1;
    }

    /// <summary>The CPU index this ring belongs to.</summary>
    public int Cpu { get; }
    internal ManualResetEventSlim Signal { get; } = new(false);
    /// <summary>Samples dropped because the ring was full, counted until reported as PERF_RECORD_LOST.</summary>
    public ulong LostCount { get { lock (_lock) return _lost; } }

    internal long Write(byte* data, ulong size)
    {
        ulong rec = (8 + 4 + size + 7) & ~7ul;
        if (rec > 0xffff || rec > (ulong)_ring.Length) return -(long)Errno.E2BIG;
        lock (_lock)
        {
            if (_head - _tail + rec > (ulong)_ring.Length)
            {
                _lost++;
                return -(long)Errno.ENOSPC;
            }
            Span<byte> hdr = stackalloc byte[12];
            BinaryPrimitives.WriteUInt32LittleEndian(hdr, PerfRecordSample);
            BinaryPrimitives.WriteUInt16LittleEndian(hdr[4..], 0);
            BinaryPrimitives.WriteUInt16LittleEndian(hdr[6..], (ushort)rec);
            BinaryPrimitives.WriteUInt32LittleEndian(hdr[8..], (uint)size);
            Put(_head, hdr);
            Put(_head + 12, new ReadOnlySpan<byte>(data, (int)size));
            _head += rec;
        }
        Signal.Set();
        return 0;
    }

    private void Put(ulong pos, ReadOnlySpan<byte> src)
    {
        int off = (int)(pos & _mask);
        int first = Math.Min(src.Length, _ring.Length - off);
        src[..first].CopyTo(_ring.AsSpan(off));
        src[first..].CopyTo(_ring.AsSpan(0));
    }

    private void Get(ulong pos, Span<byte> dst)
    {
        int off = (int)(pos & _mask);
        int first = Math.Min(dst.Length, _ring.Length - off);
        _ring.AsSpan(off, first).CopyTo(dst);
        _ring.AsSpan(0, dst.Length - first).CopyTo(dst[first..]);
    }

    /// <summary>Reads every pending record: lost notifications first, then samples.</summary>
    internal int Drain(PerfSampleCallback sample, PerfLostCallback? lost)
    {
        int n = 0;
        ulong lostNow;
        lock (_lock) { lostNow = _lost; _lost = 0; }
        if (lostNow != 0) { lost?.Invoke(Cpu, lostNow); n++; }
        byte[]? scratch = null;
        Span<byte> hdr = stackalloc byte[12];
        while (true)
        {
            ulong head, tail;
            lock (_lock) { head = _head; tail = _tail; }
            if (tail >= head) break;
            Get(tail, hdr);
            uint recSize = BinaryPrimitives.ReadUInt16LittleEndian(hdr[6..]);
            int raw = (int)BinaryPrimitives.ReadUInt32LittleEndian(hdr[8..]);
            if (scratch is null || scratch.Length < raw) scratch = new byte[Math.Max(raw, 64)];
            Get(tail + 12, scratch.AsSpan(0, raw));
            lock (_lock) _tail = tail + recSize;
            sample(Cpu, scratch.AsSpan(0, raw));
            n++;
        }
        return n;
    }

    /// <summary>Releases the ring's wake-up event.</summary>
    public void Dispose() => Signal.Dispose();
}

/// <summary>Receives one sample: the CPU ring it came from and its raw bytes (valid only during the call).</summary>
public delegate void PerfSampleCallback(int cpu, ReadOnlySpan<byte> data);
/// <summary>Receives a lost-samples notification: the CPU ring and how many samples were dropped.</summary>
public delegate void PerfLostCallback(int cpu, ulong lostCount);

/// <summary>
/// Host consumer of a perf event array, like libbpf's perf_buffer: creates one
/// <see cref="PerfEventBuffer"/> of <c>pageCount</c> pages per CPU index &lt; min(max_entries, CPUs),
/// installs it in the map, and delivers samples and lost counts.
/// </summary>
public sealed class PerfEventReader : IDisposable
{
    private readonly PerfEventArrayMap _map;
    private readonly PerfEventBuffer[] _buffers;

    /// <summary>
    /// Installs a ring of <paramref name="pageCount"/> pages for each CPU index of <paramref name="map"/>
    /// (perf_buffer__new).
    /// </summary>
    public PerfEventReader(PerfEventArrayMap map, int pageCount = 8)
    {
        _map = map;
        int n = (int)Math.Min(map.MaxEntries, (uint)BpfCpu.PossibleCount);
        _buffers = new PerfEventBuffer[n];
        for (int i = 0; i < n; i++)
        {
            _buffers[i] = new PerfEventBuffer(i, pageCount);
            map.SetBuffer((uint)i, _buffers[i]);
        }
    }

    /// <summary>One ring per CPU index, in index order.</summary>
    public IReadOnlyList<PerfEventBuffer> Buffers => _buffers;

    /// <summary>perf_buffer__consume: records (samples + lost notifications) delivered.</summary>
    public int Consume(PerfSampleCallback sample, PerfLostCallback? lost = null)
    {
        int n = 0;
        foreach (var b in _buffers)
        {
            b.Signal.Reset();
            n += b.Drain(sample, lost);
        }
        return n;
    }

    /// <summary>perf_buffer__poll: consume; if nothing, wait up to <paramref name="timeoutMs"/> for a sample and consume again.</summary>
    public int Poll(PerfSampleCallback sample, PerfLostCallback? lost, int timeoutMs)
    {
        int n = Consume(sample, lost);
        if (n != 0) return n;
        WaitHandle.WaitAny(_buffers.Select(b => b.Signal.WaitHandle).ToArray(), timeoutMs);
        return Consume(sample, lost);
    }

    /// <summary>Removes the rings from the map (when it still holds them) and frees them.</summary>
    public void Dispose()
    {
        for (int i = 0; i < _buffers.Length; i++)
        {
            if (!_map.IsFreed && _map.GetBuffer((uint)i) == _buffers[i]) _map.SetBuffer((uint)i, null);
            _buffers[i].Dispose();
        }
    }
}
