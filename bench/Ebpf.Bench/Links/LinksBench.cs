using System.Diagnostics;
using System.Runtime.InteropServices;
using Ebpf.Loading;
using Ebpf.Runtime;
using Ebpf.Runtime.Links;

namespace Ebpf.Bench.Links;

/// <summary>
/// <c>links</c>: what function slots, extensions and trampolines cost. The target (tests/fixtures/links/target.bpf.o,
/// an XDP program calling two global functions) run through test_run's repeat loop: loaded without slots (the code
/// as it ran before slots existed), with slots and nothing attached, with an extension replacing check(), and with
/// fentry+fexit on check(); then attach+detach latency of an extension. JIT and interpreter. Median of rounds,
/// thread CPU time (min printed too). Args: [rounds] (default 5).
/// </summary>
public sealed class LinksBench : IBenchSuite
{
    public string Name => "links";
    public string Description => "call cost of slotted functions: nothing attached, extension, fentry+fexit; attach/detach latency";

    public int Run(string[] args)
    {
        int rounds = args.Length > 0 && int.TryParse(args[0], out var r) ? r : 5;
        string dir = FixtureDirectory();
        ObjectSpec Spec(string name) => ObjectSpec.Load(Path.Combine(dir, name + ".bpf.o"));
        var packet = new byte[64];
        Console.WriteLine($"links: median of {rounds} rounds; ns/op = thread CPU time per target run (test_run repeat)");
        Console.WriteLine($"{"case",-60} {"ns/op",9} {"min",9}");
        foreach (bool jit in new[] { true, false })
        {
            string engine = jit ? "JIT" : "interpreter";
            var plain = new BpfRuntime { JitEnabled = jit, FunctionSlots = false };
            using (var before = plain.Load(Spec("target")))
            {
                var serve = before.Programs["serve"];
                Report($"{engine}: target without slots (before this change)", rounds, n => plain.TestRun(serve, new TestRunOptions { DataIn = packet, Repeat = (uint)n }));
            }
            var rt = new BpfRuntime { JitEnabled = jit };
            using var target = rt.Load(Spec("target"));
            var t = target.Programs["serve"];
            Report($"{engine}: target with slots, nothing attached", rounds, n => rt.TestRun(t, new TestRunOptions { DataIn = packet, Repeat = (uint)n }));
            using var ext = rt.Load(Spec("ext"), t);
            using (ext.Programs["new_check"].AttachExtension(t, "check"))
                Report($"{engine}: check() replaced by an extension", rounds, n => rt.TestRun(t, new TestRunOptions { DataIn = packet, Repeat = (uint)n }), 200_000);
            using var trace = rt.Load(Spec("trace"), t);
            using (trace.Programs["on_entry"].AttachTracing())
            using (trace.Programs["on_exit"].AttachTracing())
                Report($"{engine}: check() with fentry + fexit", rounds, n => rt.TestRun(t, new TestRunOptions { DataIn = packet, Repeat = (uint)n }), 200_000);
            Report($"{engine}: attach + detach an extension (latency)", rounds, n =>
            {
                for (int i = 0; i < n; i++)
                    ext.Programs["new_check"].AttachExtension(t, "check").Dispose();
            }, 2_000);
        }
        return 0;
    }

    private static string FixtureDirectory()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
        {
            string candidate = Path.Combine(d.FullName, "tests", "fixtures", "links");
            if (File.Exists(Path.Combine(candidate, "target.bpf.o")))
                return candidate;
        }
        throw new FileNotFoundException("tests/fixtures/links/target.bpf.o not found above " + AppContext.BaseDirectory);
    }

    private static void Report(string name, int rounds, Action<int> body, int n = 2_000_000)
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
        Console.WriteLine($"{name,-60} {samples[rounds / 2],9:F1} {samples[0],9:F1}");
    }

}
