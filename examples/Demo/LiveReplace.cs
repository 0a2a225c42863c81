using Ebpf.Collections;
using Ebpf.Loading;
using Ebpf.Runtime;

namespace Ebpf.Demo;

/// <summary>
/// Step 5 of the demo: an XDP program serving traffic on several threads gets its check() replaced live by an
/// extension (freplace), an fexit program counts its calls, and removing the extension's pinned link brings the
/// original policy back — with no recompilation and no stop.
/// </summary>
internal static class LiveReplace
{
    private static readonly int[] FrameSizes = [60, 100, 200];

    public static void Run(string examples)
    {
        Console.WriteLine("\n== 5. live replacement: freplace check() while four threads serve traffic");
        ObjectSpec Spec(string name) => ObjectSpec.Load(Path.Combine(examples, name + ".bpf.o"));
        var runtime = new BpfRuntime();
        using var target = runtime.Load(Spec("live_filter"));
        var filter = target.Programs["live_filter"];
        using var counter = runtime.Load(Spec("count_check"), filter);
        using var counting = counter.Programs["count_check"].AttachTracing();
        using var strict = runtime.Load(Spec("strict_check"), filter);

        Serve(runtime, filter, "original check(): frames >= 64 bytes pass");
        using (var link = strict.Programs["strict_check"].AttachExtension(filter, "check"))
        {
            runtime.Pins.Pin(link, "/sys/fs/bpf/strict_check");
            Console.WriteLine($"   extension attached (link {link.Id}) and pinned at /sys/fs/bpf/strict_check; the handle is closed");
        }
        Serve(runtime, filter, "strict_check(): frames >= 128 bytes pass");
        runtime.Pins.Unpin("/sys/fs/bpf/strict_check");
        Console.WriteLine("   pin removed: the link's last reference is gone, the extension is detached");
        Serve(runtime, filter, "original check() again");
        Console.WriteLine($"   fexit counter: {Global(counter, "calls")} calls, {Global(counter, "passed")} passed; " +
            $"extension ran {Global(strict, "replaced_calls")} times");
    }

    /// <summary>Four threads send 3 × 1000 frames of 60, 100 and 200 bytes; prints what passed per size.</summary>
    private static void Serve(BpfRuntime runtime, BpfProgram filter, string phase)
    {
        var passed = new int[FrameSizes.Length];
        Parallel.For(0, 4, _ =>
        {
            for (int i = 0; i < 1000; i++)
                for (int s = 0; s < FrameSizes.Length; s++)
                    if (runtime.TestRun(filter, new TestRunOptions { DataIn = new byte[FrameSizes[s]] }).ReturnValue == 2u) // XDP_PASS
                        Interlocked.Increment(ref passed[s]);
        });
        Console.WriteLine($"   {phase,-46} passed: " + string.Join(", ", FrameSizes.Select((size, s) => $"{size} B {passed[s]}/4000")));
    }

    private static ulong Global(BpfCollection collection, string variable)
    {
        var bss = collection.Maps.First(m => m.Key.EndsWith(".bss", StringComparison.Ordinal)).Value;
        var value = bss.Lookup(BitConverter.GetBytes(0u));
        // Both objects keep their counters in .bss in declaration order: calls/passed, or replaced_calls alone.
        int offset = variable == "passed" ? 8 : 0;
        return BitConverter.ToUInt64(value, offset);
    }
}
