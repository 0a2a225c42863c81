using System.Globalization;

namespace Ebpf.Runtime.Helpers;

/// <summary>
/// The runtime's tracefs ring: bpf_trace_printk lines in trace_pipe format
/// (<c>"           &lt;comm&gt;-&lt;pid&gt;     [000] ....1   123.456789: bpf_trace_printk: msg"</c>).
/// Bounded: the oldest lines are dropped when full, as the kernel's ring overwrites.
/// Readers either snapshot or drain (trace_pipe consumes).
/// </summary>
public sealed class TraceBuffer
{
    /// <summary>The number of lines kept when no <see cref="Capacity"/> is given.</summary>
    public const int DefaultCapacity = 65536;

    private readonly Queue<string> _lines = new();
    private readonly Lock _lock = new();
    private readonly long _bootTimestamp = System.Diagnostics.Stopwatch.GetTimestamp();

    /// <summary>How many lines the buffer keeps before the oldest are dropped (counted in <see cref="Overruns"/>).</summary>
    public int Capacity { get; init; } = DefaultCapacity;

    /// <summary>Raised after each line is added (hosts streaming the log).</summary>
    public event Action<string>? LineWritten;

    /// <summary>Lines dropped because the buffer was full.</summary>
    public long Overruns { get; private set; }

    /// <summary>Appends one event in trace_pipe format.</summary>
    public void Write(TaskModel task, string eventName, string message)
    {
        var elapsed = System.Diagnostics.Stopwatch.GetElapsedTime(_bootTimestamp);
        long micros = (long)(elapsed.TotalMicroseconds);
        string line = FormatLine(task.Comm, task.Pid, task.Cpu, micros, eventName, message);
        lock (_lock)
        {
            if (_lines.Count >= Capacity)
            {
                _lines.Dequeue();
                Overruns++;
            }
            _lines.Enqueue(line);
        }
        LineWritten?.Invoke(line);
    }

    /// <summary>The trace_pipe line: comm right-aligned to 16, "-pid" left-aligned to 7, [cpu], flags, secs.usecs.</summary>
    public static string FormatLine(string comm, uint pid, int cpu, long micros, string eventName, string message) =>
        string.Create(CultureInfo.InvariantCulture,
            $"{comm,16}-{pid,-7} [{cpu:D3}] ....1 {micros / 1_000_000,5}.{micros % 1_000_000:D6}: {eventName}: {message}");

    /// <summary>Copies the buffered lines (the "trace" file).</summary>
    public IReadOnlyList<string> Snapshot()
    {
        lock (_lock) return _lines.ToArray();
    }

    /// <summary>Removes and returns the buffered lines (reading "trace_pipe").</summary>
    public IReadOnlyList<string> Drain()
    {
        lock (_lock)
        {
            var lines = _lines.ToArray();
            _lines.Clear();
            return lines;
        }
    }
}
