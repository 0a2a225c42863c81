using System.Collections.Concurrent;

namespace Ebpf.Runtime.ProgramTypes;

/// <summary>
/// Where frames "leave" the in-process network model: a device's transmit queue, its stack
/// (XDP_PASS), a CPU's cpumap queue or an AF_XDP socket's rx ring. The host drains it. Bounded:
/// past <see cref="Capacity"/> frames new ones are counted in <see cref="Dropped"/> and discarded,
/// as a full ring drops, so a long live-frames run cannot exhaust memory.
/// </summary>
public sealed class FrameSink(string name, int capacity = FrameSink.DefaultCapacity)
{
    /// <summary>Frames a sink keeps before it drops new ones (the default ring size of the model).</summary>
    public const int DefaultCapacity = 65536;

    private readonly ConcurrentQueue<byte[]> _frames = new();
    private int _count;
    private long _dropped;
    private long _delivered;

    /// <summary>What the sink is ("eth0 tx", "cpu 1", "xsk 3 rx"), for messages.</summary>
    public string Name { get; } = name;
    /// <summary>Frames it holds at most; more are counted in <see cref="Dropped"/>.</summary>
    public int Capacity { get; } = capacity;
    /// <summary>Frames waiting to be taken.</summary>
    public int Count => Volatile.Read(ref _count);
    /// <summary>Frames accepted since creation (including ones already drained).</summary>
    public long Delivered => Interlocked.Read(ref _delivered);
    /// <summary>Frames discarded because the sink was full.</summary>
    public long Dropped => Interlocked.Read(ref _dropped);

    /// <summary>Queues a copy of <paramref name="frame"/>; false (and counted as dropped) when full.</summary>
    internal bool Deliver(ReadOnlySpan<byte> frame)
    {
        if (Interlocked.Increment(ref _count) > Capacity)
        {
            Interlocked.Decrement(ref _count);
            Interlocked.Increment(ref _dropped);
            return false;
        }
        _frames.Enqueue(frame.ToArray());
        Interlocked.Increment(ref _delivered);
        return true;
    }

    /// <summary>Takes the oldest waiting frame; false when there is none.</summary>
    public bool TryTake(out byte[] frame)
    {
        if (_frames.TryDequeue(out frame!))
        {
            Interlocked.Decrement(ref _count);
            return true;
        }
        return false;
    }

    /// <summary>Takes every queued frame.</summary>
    public List<byte[]> Drain()
    {
        var all = new List<byte[]>();
        while (TryTake(out var f)) all.Add(f);
        return all;
    }
}
