using System.Diagnostics;

namespace Ebpf.Runtime.Helpers;

/// <summary>
/// Clock helpers. Monotonic time is the host's monotonic clock (Stopwatch), as CLOCK_MONOTONIC, unless the
/// runtime has a <see cref="BpfRuntime.Clock"/> of its own (deterministic tests): then every clock helper
/// reads that provider's timestamp, and boot time equals monotonic time (nothing is ever suspended).
/// </summary>
internal static class TimeHelpers
{
    /// <summary>CONFIG_HZ of the modelled kernel (the reference machine uses 250).</summary>
    public const int Hz = 250;

    private static readonly double TicksToNs = 1_000_000_000.0 / Stopwatch.Frequency;

    private static ulong MonotonicNs() =>
        HelperInvocation.Current?.Runtime.Clock is { } clock && clock != TimeProvider.System
            ? ProviderNs(clock)
            : (ulong)(Stopwatch.GetTimestamp() * TicksToNs);

    private static ulong ProviderNs(TimeProvider clock)
    {
        long ticks = clock.GetTimestamp();
        long frequency = clock.TimestampFrequency;
        // Whole seconds and the remainder separately: ticks * 1e9 overflows long after ~292 years of ns ticks.
        return (ulong)(ticks / frequency) * 1_000_000_000UL + (ulong)(ticks % frequency * 1_000_000_000L / frequency);
    }

    private static bool HasCustomClock => HelperInvocation.Current?.Runtime.Clock is { } clock && clock != TimeProvider.System;

    /// <summary>bpf_ktime_get_ns (5): CLOCK_MONOTONIC in ns.</summary>
    public static ulong KtimeGetNs(ulong r1, ulong r2, ulong r3, ulong r4, ulong r5) => MonotonicNs();

    /// <summary>bpf_ktime_get_boot_ns (125): CLOCK_BOOTTIME (includes suspend; the host's uptime clock).</summary>
    public static ulong KtimeGetBootNs(ulong r1, ulong r2, ulong r3, ulong r4, ulong r5) =>
        HasCustomClock ? MonotonicNs() : Math.Max((ulong)Environment.TickCount64 * 1_000_000UL, MonotonicNs());

    /// <summary>bpf_ktime_get_coarse_ns (160): CLOCK_MONOTONIC_COARSE, i.e. monotonic rounded down to a jiffy.</summary>
    public static ulong KtimeGetCoarseNs(ulong r1, ulong r2, ulong r3, ulong r4, ulong r5)
    {
        const ulong tick = 1_000_000_000UL / Hz;
        return MonotonicNs() / tick * tick;
    }

    /// <summary>bpf_jiffies64 (118): monotonic time in jiffies (INITIAL_JIFFIES offset not modelled).</summary>
    public static ulong Jiffies64(ulong r1, ulong r2, ulong r3, ulong r4, ulong r5) => MonotonicNs() / (1_000_000_000UL / Hz);
}
