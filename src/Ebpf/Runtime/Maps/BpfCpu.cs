namespace Ebpf.Runtime.Maps;

/// <summary>
/// The runtime's notion of a CPU. Per-CPU maps keep <see cref="PossibleCount"/> slots
/// (= <see cref="Environment.ProcessorCount"/>). A thread's CPU is a number assigned on first use
/// (round robin modulo the count) or set explicitly by an engine (test_run's cpu, a hook).
/// </summary>
public static class BpfCpu
{
    /// <summary>
    /// The number of possible CPUs: per-CPU maps hold this many value slots and CPU numbers run below it.
    /// </summary>
    public static int PossibleCount { get; } = Math.Max(1, Environment.ProcessorCount);

    // The thread-static lives in a class without static initialisation, so reading it needs no class-init check.
    private static class Slot
    {
        [ThreadStatic] public static int CpuPlusOne;
    }
    private static int s_next;

    /// <summary>The calling thread's CPU index in [0, PossibleCount).</summary>
    public static int Current
    {
        get
        {
            int c = Slot.CpuPlusOne;
            if (c == 0)
            {
                c = (int)((uint)Interlocked.Increment(ref s_next) % (uint)PossibleCount) + 1;
                Slot.CpuPlusOne = c;
            }
            return c - 1;
        }
    }

    /// <summary>Pins the calling thread to <paramref name="cpu"/> (taken modulo <see cref="PossibleCount"/>).</summary>
    public static void SetCurrent(int cpu) => Slot.CpuPlusOne = (int)((uint)cpu % (uint)PossibleCount) + 1;
}
