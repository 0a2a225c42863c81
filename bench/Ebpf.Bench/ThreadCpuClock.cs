using System.Diagnostics;
using System.Runtime.InteropServices;

namespace Ebpf.Bench;

/// <summary>
/// CPU time of the calling thread in ns (CLOCK_THREAD_CPUTIME_ID on Linux, the wall clock elsewhere): on a machine
/// shared with other jobs, wall time mostly measures the scheduler; thread CPU time measures the code. One clock for
/// every suite, so their figures are comparable.
/// </summary>
internal static unsafe partial class ThreadCpuClock
{
    private const int ClockThreadCpuTimeId = 3;

    [StructLayout(LayoutKind.Sequential)]
    private struct TimeSpec
    {
        public long Seconds;
        public long Nanoseconds;
    }

    [LibraryImport("libc", EntryPoint = "clock_gettime")]
    private static partial int ClockGetTime(int clock, TimeSpec* time);

    private static readonly bool s_linux = OperatingSystem.IsLinux();

    public static long Nanoseconds()
    {
        TimeSpec t;
        if (s_linux && ClockGetTime(ClockThreadCpuTimeId, &t) == 0)
            return t.Seconds * 1_000_000_000 + t.Nanoseconds;
        return (long)(Stopwatch.GetTimestamp() * (1e9 / Stopwatch.Frequency));
    }
}
