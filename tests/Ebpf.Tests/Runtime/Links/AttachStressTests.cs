using System.Diagnostics;
using Ebpf.Runtime;
using Ebpf.Runtime.Links;
using Ebpf.Runtime.Trampolines;
using static Ebpf.Tests.Runtime.Links.LinkFixtures;

namespace Ebpf.Tests.Runtime.Links;

/// <summary>
/// Attach/detach atomicity under load: 8 threads run the target while extensions attach and detach. Every result
/// must be wholly one function's (the original check(), new_check or minus_check), and no call may enter an extension
/// after its link's release returned. EBPF_LINKS_STRESS_CYCLES sets the number of attach/detach cycles (default
/// 10,000; the issue's full run is 100,000).
/// </summary>
public class AttachStressTests(ITestOutputHelper output)
{
    private static int Cycles => int.TryParse(Environment.GetEnvironmentVariable("EBPF_LINKS_STRESS_CYCLES"), out int n) && n > 0 ? n : 10_000;

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Eight_threads_see_only_whole_functions_while_extensions_come_and_go(bool jit)
    {
        var rt = new BpfRuntime { JitEnabled = jit };
        using var target = rt.Load(Spec("target"));
        var serve = target.Programs["serve"];
        Assert.Equal(jit, serve.Program.IsJitCompiled);
        using var ext = rt.Load(Spec("ext"), serve);
        using var other = rt.Load(SpecWith("ext_variants", "minus_check"), serve);
        var extensions = new[] { ext.Programs["new_check"], other.Programs["minus_check"] };
        uint minus = unchecked((uint)(FrameLength - 1000));
        long enteredBefore = TrampolineDiagnostics.CallsEnteredAfterRelease;

        int cycles = Cycles;
        var stop = new CancellationTokenSource();
        long[] seen = new long[4]; // original, new_check, minus_check, torn
        var runners = Enumerable.Range(0, 8).Select(_ => Task.Factory.StartNew(() =>
        {
            var options = new TestRunOptions { DataIn = new byte[FrameLength] };
            long o = 0, n = 0, m = 0, torn = 0;
            while (!stop.IsCancellationRequested)
            {
                uint r = rt.TestRun(serve, options).ReturnValue;
                if (r == Original) o++;
                else if (r == Extended) n++;
                else if (r == minus) m++;
                else torn++;
            }
            Interlocked.Add(ref seen[0], o);
            Interlocked.Add(ref seen[1], n);
            Interlocked.Add(ref seen[2], m);
            Interlocked.Add(ref seen[3], torn);
        }, TestContext.Current.CancellationToken, TaskCreationOptions.LongRunning, TaskScheduler.Default)).ToArray();

        var sw = Stopwatch.StartNew();
        try
        {
            for (int i = 0; i < cycles; i++)
            {
                using var link = extensions[i & 1].AttachExtension(serve, "check");
            }
        }
        finally
        {
            stop.Cancel();
            await Task.WhenAll(runners);
        }
        sw.Stop();
        output.WriteLine($"{(jit ? "JIT" : "interpreter")}: {cycles} attach/detach cycles in {sw.Elapsed.TotalSeconds:F2} s " +
            $"({sw.Elapsed.TotalMicroseconds / cycles:F1} µs per cycle); runs: original {seen[0]}, new_check {seen[1]}, minus_check {seen[2]}, torn {seen[3]}");
        Assert.Equal(0, seen[3]);
        Assert.Equal(enteredBefore, TrampolineDiagnostics.CallsEnteredAfterRelease);
        Assert.True(seen[0] > 0 && seen[1] + seen[2] > 0, "both the original and an extension ran");
        Assert.Equal(Original, Run(rt, serve));
        Assert.False(serve.Program.IsExtended);
        Assert.Equal(0, rt.Trampolines.Count);
    }
}
