using System.Globalization;

namespace Ebpf.Linux;

/// <summary>Turns bpf_prog_info.load_time (boot-time nanoseconds) into wall-clock time, as bpftool does.</summary>
internal static class KernelClock
{
    public static DateTimeOffset WallTime(ulong bootTimeNs)
    {
        // /proc/uptime is CLOCK_BOOTTIME in seconds: wall(boot) = now - uptime.
        double uptime = 0;
        if (File.Exists("/proc/uptime"))
        {
            var first = File.ReadAllText("/proc/uptime").Split(' ')[0];
            double.TryParse(first, NumberStyles.Float, CultureInfo.InvariantCulture, out uptime);
        }
        var boot = DateTimeOffset.UtcNow - TimeSpan.FromSeconds(uptime);
        return boot + TimeSpan.FromTicks((long)(bootTimeNs / 100));
    }
}
