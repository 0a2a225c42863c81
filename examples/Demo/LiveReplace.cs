using Ebpf.Collections;
using Ebpf.Loading;
using Ebpf.Runtime;

namespace Ebpf.Demo;

/// <summary>
/// Step 5 of the demo: an XDP program serving traffic on four threads. An fentry program counts the calls of its
/// check(); an extension (freplace) replaces check() live — after the fentry steps aside, since a function is either
/// extended or traced (EBUSY) — and another fentry, on the extension itself, counts what it serves; removing the
/// extension's pinned link brings the original policy back. No recompilation, no stop.
/// </summary>
public static class LiveReplace
{
    private static readonly int[] FrameSizes = [60, 100, 200];
    private const int Threads = 4, Rounds = 1000;

    /// <summary>Frames served per phase: threads × rounds × sizes.</summary>
    public const int FramesPerPhase = Threads * Rounds * 3;

    /// <summary>What the story counted: frames passed per phase and size, and the three programs' counters.</summary>
    public sealed record Counters(int[][] Passed, Errno TracedWhileExtending, ulong CheckCalls, ulong CheckLongFrames,
        ulong ExtensionRuns, ulong ExtensionCallsSeenByFentry);

    public static Counters Run(string examples, string pinRoot = "/sys/fs/bpf")
    {
        Console.WriteLine($"\n== 5. live replacement: freplace check() while {Threads} threads serve traffic");
        ObjectSpec Spec(string name) => ObjectSpec.Load(Path.Combine(examples, name + ".bpf.o"));
        var runtime = new BpfRuntime();
        using var target = runtime.Load(Spec("live_filter"));
        var filter = target.Programs["live_filter"];
        using var counter = runtime.Load(Spec("count_check"), filter);
        var countCheck = counter.Programs["count_check"];
        using var strict = runtime.Load(Spec("strict_check"), filter);
        var passed = new int[3][];

        var fentry = countCheck.AttachTracing();
        Console.WriteLine($"   fentry count_check attached to check() (link {fentry.Id})");
        passed[0] = Serve(runtime, filter, "original check(): frames >= 64 bytes pass");

        // The kernel's rule: an extension and fentry/fexit never share a function.
        var busy = AttachError(() => strict.Programs["strict_check"].AttachExtension(filter, "check"));
        Console.WriteLine($"   freplace check() while fentry traces it: {busy} (a function is either extended or traced)");
        fentry.Dispose();
        string pin = pinRoot + "/strict_check";
        using (var link = strict.Programs["strict_check"].AttachExtension(filter, "check"))
        {
            runtime.Pins.Pin(link, pin);
            Console.WriteLine($"   fentry detached; extension attached (link {link.Id}) and pinned at {pin}; the handle is closed");
        }
        using var onExtension = runtime.Load(Spec("count_replaced"), strict.Programs["strict_check"]);
        using (onExtension.Programs["count_replaced"].AttachTracing())
            passed[1] = Serve(runtime, filter, "strict_check(): frames >= 128 bytes pass");
        runtime.Pins.Unpin(pin);
        Console.WriteLine("   pin removed: the link's last reference is gone, the extension is detached");

        // A tracing program loaded against a BPF program attaches once in its life (§2.5): count with a new load.
        using var counterAgain = runtime.Load(Spec("count_check"), filter);
        using (counterAgain.Programs["count_check"].AttachTracing())
            passed[2] = Serve(runtime, filter, "original check() again");
        var counters = new Counters(passed, busy,
            Global(counter, 0) + Global(counterAgain, 0), Global(counter, 8) + Global(counterAgain, 8), Global(strict, 0), Global(onExtension, 0));
        Console.WriteLine($"   fentry on check(): {counters.CheckCalls} calls ({counters.CheckLongFrames} of frames >= 64 B); " +
            $"extension ran {counters.ExtensionRuns} times, fentry on the extension saw {counters.ExtensionCallsSeenByFentry}");
        return counters;
    }

    private static Errno AttachError(Func<BpfLink> attach)
    {
        try
        {
            attach().Dispose();
            return Errno.None;
        }
        catch (BpfException e)
        {
            return e.Errno;
        }
    }

    /// <summary>The threads send rounds × 3 frames of 60, 100 and 200 bytes each; prints and returns what passed per size.</summary>
    private static int[] Serve(BpfRuntime runtime, BpfProgram filter, string phase)
    {
        var passed = new int[FrameSizes.Length];
        Parallel.For(0, Threads, new ParallelOptions { MaxDegreeOfParallelism = Threads }, _ =>
        {
            for (int i = 0; i < Rounds; i++)
                for (int s = 0; s < FrameSizes.Length; s++)
                    if (runtime.TestRun(filter, new TestRunOptions { DataIn = new byte[FrameSizes[s]] }).ReturnValue == 2u) // XDP_PASS
                        Interlocked.Increment(ref passed[s]);
        });
        Console.WriteLine($"   {phase,-46} passed: " + string.Join(", ", FrameSizes.Select((size, s) => $"{size} B {passed[s]}/{Threads * Rounds}")));
        return passed;
    }

    /// <summary>A u64 of the object's .bss (its counters, in declaration order).</summary>
    private static ulong Global(BpfCollection collection, int offset)
    {
        var bss = collection.Maps.First(m => m.Key.EndsWith(".bss", StringComparison.Ordinal)).Value;
        return BitConverter.ToUInt64(bss.Lookup(BitConverter.GetBytes(0u)), offset);
    }
}
