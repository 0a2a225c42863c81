using Ebpf.Collections;
using Ebpf.Loading;
using Ebpf.Runtime;
using Ebpf.Xdp;

namespace Ebpf.Demo;

/// <summary>
/// Step 6 of the demo: three independent XDP programs share one device through libxdp's dispatcher — a counter
/// (priority 10), a filter (20) and a sampler (30) — while four threads inject traffic; the filter is replaced live
/// by a stricter one (each change an atomic swap of the whole set), and the device's status is printed as
/// xdp-loader prints it.
/// </summary>
internal static class XdpMultiprogDemo
{
    private static readonly int[] FrameSizes = [60, 100, 200];

    /// <summary>What the step measured (the Examples test checks the same numbers).</summary>
    public sealed record Numbers(long Injected, ulong Counted, ulong DroppedFirst, ulong DroppedSecond, ulong Seen, ulong Sampled, string Status);

    public static Numbers Run(string examples, TextWriter output)
    {
        output.WriteLine("\n== 6. XDP multi-program: counter, filter and sampler on one device through a dispatcher");
        var runtime = new BpfRuntime();
        int ifindex = (int)runtime.Network.AddDevice("demo0").Ifindex;
        string Obj(string name) => Path.Combine(examples, name + ".bpf.o");

        using var counter = XdpProgram.FromFile(Obj("xdp_counter"));
        using var filter64 = Filter(Obj("xdp_filter"), 64);
        using var sampler = XdpProgram.FromFile(Obj("xdp_sampler"));
        using (var mp = XdpMultiprog.Attach(runtime.Backend, ifindex, [sampler, filter64, counter]))
            output.WriteLine($"   dispatcher {mp.MainProgram.Id} runs: {string.Join(" -> ", mp.Programs.Select(p => $"{p.Name} ({p.Priority})"))}");
        Serve(runtime, output, "filter drops < 64 B");

        // The live replacement: the 128-byte filter joins (a new dispatcher with four programs is swapped in), then the
        // 64-byte one leaves (another swap). Every frame runs one complete set.
        // Two more threads keep injecting during the replacement.
        using var filter128 = Filter(Obj("xdp_filter"), 128);
        long duringSwap = 0;
        using (var swapping = new CancellationTokenSource())
        {
            var traffic = Enumerable.Range(0, 2).Select(t => Task.Run(() =>
            {
                for (int i = 0; !swapping.IsCancellationRequested; i++, Interlocked.Increment(ref duringSwap))
                    runtime.Network.Inject("demo0", new byte[FrameSizes[(i + t) % FrameSizes.Length]]);
            })).ToArray();
            XdpMultiprog.Attach(runtime.Backend, ifindex, [filter128]).Dispose();
            XdpMultiprog.Detach(runtime.Backend, ifindex, [filter64.Id]);
            swapping.Cancel();
            Task.WaitAll(traffic);
        }
        output.WriteLine($"   filter replaced live: 128-byte minimum ({duringSwap} frames injected during the two swaps)");
        Serve(runtime, output, "filter drops < 128 B");

        string status;
        using (var state = XdpMultiprog.Query(runtime.Backend, ifindex))
        {
            var text = new StringWriter();
            XdpStatusText.Write(text, [("demo0", state)]);
            status = text.ToString();
        }
        output.Write(status);
        var numbers = new Numbers(2 * 12_000 + duringSwap,
            Global(counter, "frames"), Global(filter64, "dropped"), Global(filter128, "dropped"),
            Global(sampler, "seen"), Global(sampler, "sampled"), status);
        output.WriteLine($"   {numbers.Injected} frames injected; counter saw {numbers.Counted}; filters dropped {numbers.DroppedFirst} + {numbers.DroppedSecond}; " +
            $"sampler saw {numbers.Seen} and sampled {numbers.Sampled}");
        return numbers;
    }

    private static XdpProgram Filter(string path, uint minLength)
    {
        var spec = ObjectSpec.Load(path);
        var rodata = spec.Maps.Single(m => m.SectionName == ".rodata");
        BitConverter.GetBytes(minLength).CopyTo(rodata.InitialValue!, 0);
        return XdpProgram.FromObject(spec);
    }

    /// <summary>Four threads inject 3 × 1000 frames of 60, 100 and 200 bytes each.</summary>
    private static void Serve(BpfRuntime runtime, TextWriter output, string phase)
    {
        var passed = new int[FrameSizes.Length];
        Parallel.For(0, 4, _ =>
        {
            for (int i = 0; i < 1000; i++)
                for (int s = 0; s < FrameSizes.Length; s++)
                    if (runtime.Network.Inject("demo0", new byte[FrameSizes[s]]).Frames[0].Verdict == 2u) // XDP_PASS
                        Interlocked.Increment(ref passed[s]);
        });
        output.WriteLine($"   {phase,-24} passed: " + string.Join(", ", FrameSizes.Select((size, s) => $"{size} B {passed[s]}/4000")));
    }

    private static ulong Global(XdpProgram program, string variable)
    {
        var bss = program.Collection!.Maps.First(m => m.Key.EndsWith(".bss", StringComparison.Ordinal)).Value;
        var value = bss.Lookup(BitConverter.GetBytes(0u));
        // Each object's .bss holds its counters in declaration order (8 bytes each).
        int offset = variable is "bytes" or "sampled" ? 8 : 0;
        return BitConverter.ToUInt64(value, offset);
    }
}
