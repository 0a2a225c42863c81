using System.Diagnostics;
using System.Runtime.InteropServices;
using Ebpf.Btf;

namespace Ebpf.Bench.Btf;

/// <summary>
/// Parse, validate, write and C-print the machine's vmlinux BTF; prints the median of several runs
/// (goal: parse under 150 ms). Usage: btf [runs] [path].
/// </summary>
public sealed class BtfBench : IBenchSuite
{
    public string Name => "btf";
    public string Description => "Parse/validate/write/C-print /sys/kernel/btf/vmlinux (median ms)";

    public int Run(string[] args)
    {
        int runs = args.Length > 0 && int.TryParse(args[0], out int r) ? Math.Max(r, 1) : 7;
        string path = args.Length > 1 ? args[1] : "/sys/kernel/btf/vmlinux";
        if (!File.Exists(path))
        {
            Console.Error.WriteLine($"{path} not found");
            return 1;
        }
        byte[] raw = File.ReadAllBytes(path);
        var btf = Ebpf.Btf.BtfSpec.Parse(raw);
        Console.WriteLine($"{path}: {raw.Length / 1024} KiB, {btf.Types.Count} types, {runs} runs, load average {LoadAverage()}");
        long before = GC.GetAllocatedBytesForCurrentThread();
        Ebpf.Btf.BtfSpec.Parse(raw);
        Console.WriteLine($"  parse allocates {(GC.GetAllocatedBytesForCurrentThread() - before) / (1024 * 1024)} MiB");
        Report("parse", runs, () => Ebpf.Btf.BtfSpec.Parse(raw));
        Report("parse + name index", runs, () => Ebpf.Btf.BtfSpec.Parse(raw).FindByName("task_struct"));
        Report("validate", runs, () => BtfValidator.Validate(btf));
        Report("write", runs, () => btf.ToBytes());
        Report("raw dump", Math.Min(runs, 3), () => BtfRawDumper.Dump(btf));
        Report("C print", Math.Min(runs, 3), () => new BtfCPrinter(btf).Print());
        return 0;
    }

    private static void Report(string what, int runs, Action action)
    {
        action(); // warm-up (JIT, tiering)
        var times = new double[runs];
        var threadCpu = new double[runs];
        var cpu = new double[runs];
        var process = Process.GetCurrentProcess();
        for (int i = 0; i < runs; i++)
        {
            process.Refresh();
            var cpuStart = process.TotalProcessorTime;
            double threadStart = ThreadCpuMilliseconds();
            var sw = Stopwatch.StartNew();
            action();
            times[i] = sw.Elapsed.TotalMilliseconds;
            threadCpu[i] = ThreadCpuMilliseconds() - threadStart;
            process.Refresh();
            cpu[i] = (process.TotalProcessorTime - cpuStart).TotalMilliseconds;
        }
        Array.Sort(times);
        Array.Sort(threadCpu);
        Array.Sort(cpu);
        // CPU time is reported too because the wall clock is meaningless on an oversubscribed machine; thread CPU
        // is the parsing thread alone, process CPU adds the (background) GC threads.
        Console.WriteLine($"  {what,-20} median {times[runs / 2],8:F1} ms wall, {threadCpu[runs / 2],8:F1} ms thread CPU, {cpu[runs / 2],8:F1} ms process CPU   (wall min {times[0]:F1}, max {times[^1]:F1})");
    }

    internal static string LoadAverage()
    {
        try
        {
            return string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3));
        }
        catch (IOException)
        {
            return "?";
        }
    }

    /// <summary>CPU time of the calling thread (CLOCK_THREAD_CPUTIME_ID), NaN where that clock is unavailable.</summary>
    internal static double ThreadCpuMilliseconds()
    {
        if (!OperatingSystem.IsLinux())
            return double.NaN;
        return ClockGetTime(3 /* CLOCK_THREAD_CPUTIME_ID */, out var ts) == 0 ? ts.Seconds * 1e3 + ts.Nanoseconds / 1e6 : double.NaN;
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct Timespec
    {
        public long Seconds;
        public long Nanoseconds;
    }

    [DllImport("libc", EntryPoint = "clock_gettime")]
    private static extern int ClockGetTime(int clock, out Timespec ts);
}
