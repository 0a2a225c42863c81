using System.Diagnostics;
using Ebpf.Collections;
using Ebpf.Loading;
using Ebpf.Runtime;
using Ebpf.Xdp;

namespace Ebpf.Bench.Xdp;

/// <summary>
/// <c>xdp</c>: frames through a managed device (VirtualNetwork.Inject, one frame per call, one thread) with no
/// program, one program attached directly (no dispatcher), and a dispatcher with 1, 3 and 10 components (each the
/// 2-instruction plain_pass of tests/fixtures/xdp/dispatcher/run_config.bpf.o, chaining on XDP_PASS); the net cost per
/// component is the slope between 3 and 10. Then the latency of adding a component to a 3-program set (a new dispatcher
/// built, linked, pinned and swapped in) and of removing it. JIT. Median of rounds, thread CPU time.
/// Args: [rounds] (default 5).
/// </summary>
public sealed class XdpBench : IBenchSuite
{
    public string Name => "xdp";
    public string Description => "frames/s through a device with 0/1/3/10 dispatcher components vs a direct program; attach/swap latency";

    public int Run(string[] args)
    {
        int rounds = args.Length > 0 && int.TryParse(args[0], out var r) ? r : 5;
        string dir = FixtureDirectory();
        XdpProgram Pass() => XdpProgram.FromObject(ObjectSpec.Load(Path.Combine(dir, "run_config.bpf.o")), "plain_pass");
        var frame = new byte[64];
        Console.WriteLine($"xdp: median of {rounds} rounds; thread CPU time per injected 64-byte frame");
        Console.WriteLine($"{"case",-58} {"ns/frame",9} {"Mframes/s",10}");

        var rt = new BpfRuntime();
        int ifindex = (int)rt.Network.AddDevice("bench0").Ifindex;
        double none = Report("device, no program", rounds, n => Inject(rt, frame, n));

        using (var direct = Pass())
        {
            using var mp = XdpMultiprog.Attach(rt.Backend, ifindex, [direct], new XdpMultiprogOptions { SkipDispatcher = true });
            Report("one program attached directly (no dispatcher)", rounds, n => Inject(rt, frame, n));
            XdpMultiprog.DetachAll(rt.Backend, ifindex);
        }
        var costs = new Dictionary<int, double>();
        foreach (int count in new[] { 1, 3, 10 })
        {
            var programs = Enumerable.Range(0, count).Select(_ => Pass()).ToList();
            XdpMultiprog.Attach(rt.Backend, ifindex, programs).Dispose();
            costs[count] = Report($"dispatcher with {count} component{(count == 1 ? "" : "s")}", rounds, n => Inject(rt, frame, n));
            XdpMultiprog.DetachAll(rt.Backend, ifindex);
            programs.ForEach(p => p.Dispose());
        }
        Console.WriteLine($"{"net cost per component (3 -> 10 slope)",-58} {(costs[10] - costs[3]) / 7,9:F1}");
        Console.WriteLine($"{"device overhead (no program)",-58} {none,9:F1}");

        // Attach/swap latency: one component joins a 3-program set, then leaves (each a full dispatcher swap).
        var set = Enumerable.Range(0, 3).Select(_ => Pass()).ToList();
        XdpMultiprog.Attach(rt.Backend, ifindex, set).Dispose();
        var extra = Pass();
        XdpMultiprog.Attach(rt.Backend, ifindex, [extra]).Dispose(); // load it once; later swaps re-attach it
        XdpMultiprog.Detach(rt.Backend, ifindex, [extra.Id]);
        var attach = new List<double>();
        var detach = new List<double>();
        for (int i = 0; i < Math.Max(rounds, 5) * 4; i++)
        {
            long t0 = Stopwatch.GetTimestamp();
            XdpMultiprog.Attach(rt.Backend, ifindex, [extra]).Dispose();
            long t1 = Stopwatch.GetTimestamp();
            XdpMultiprog.Detach(rt.Backend, ifindex, [extra.Id]);
            long t2 = Stopwatch.GetTimestamp();
            attach.Add(Stopwatch.GetElapsedTime(t0, t1).TotalMicroseconds);
            detach.Add(Stopwatch.GetElapsedTime(t1, t2).TotalMicroseconds);
        }
        attach.Sort();
        detach.Sort();
        Console.WriteLine($"{"add a 4th component (new dispatcher swapped in), µs wall",-58} {attach[attach.Count / 2],9:F0}");
        Console.WriteLine($"{"remove it again (swap back to 3), µs wall",-58} {detach[detach.Count / 2],9:F0}");
        return 0;
    }

    private static void Inject(BpfRuntime rt, byte[] frame, int n)
    {
        for (int i = 0; i < n; i++)
            rt.Network.Inject("bench0", frame);
    }

    private static string FixtureDirectory()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
        {
            string candidate = Path.Combine(d.FullName, "tests", "fixtures", "xdp", "dispatcher");
            if (File.Exists(Path.Combine(candidate, "run_config.bpf.o")))
                return candidate;
        }
        throw new FileNotFoundException("tests/fixtures/xdp/dispatcher/run_config.bpf.o not found above " + AppContext.BaseDirectory);
    }

    private static double Report(string name, int rounds, Action<int> body, int n = 200_000)
    {
        var warm = Stopwatch.StartNew();
        while (warm.ElapsedMilliseconds < 300) body(Math.Max(1, n / 20));
        var samples = new double[rounds];
        for (int i = 0; i < rounds; i++)
        {
            long c0 = ThreadCpuClock.Nanoseconds();
            body(n);
            samples[i] = (ThreadCpuClock.Nanoseconds() - c0) / (double)n;
        }
        Array.Sort(samples);
        double median = samples[rounds / 2];
        Console.WriteLine($"{name,-58} {median,9:F1} {1000.0 / median,10:F2}");
        return median;
    }
}
