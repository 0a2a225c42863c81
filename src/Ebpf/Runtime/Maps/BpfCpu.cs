namespace Ebpf.Runtime.Maps;

/// <summary>
/// The runtime's notion of a CPU. Per-CPU maps keep <see cref="PossibleCount"/> slots
/// (= <see cref="Environment.ProcessorCount"/>). A thread's CPU is a number assigned on first use
/// (round robin modulo the count) or set explicitly by an engine (test_run's cpu, a hook).
/// </summary>
public static class BpfCpu
{
    public static int PossibleCount { get; } = Math.Max(1, Environment.ProcessorCount);

    [ThreadStatic] private static int t_cpuPlusOne;
    private static int s_next;

    /// <summary>The calling thread's CPU index in [0, PossibleCount).</summary>
    public static int Current
    {
        get
        {
            int c = t_cpuPlusOne;
            if (c == 0)
            {
                c = (int)((uint)Interlocked.Increment(ref s_next) % (uint)PossibleCount) + 1;
                t_cpuPlusOne = c;
            }
            return c - 1;
        }
    }

    /// <summary>Pins the calling thread to <paramref name="cpu"/> (taken modulo <see cref="PossibleCount"/>).</summary>
    public static void SetCurrent(int cpu) => t_cpuPlusOne = (int)((uint)cpu % (uint)PossibleCount) + 1;
}
