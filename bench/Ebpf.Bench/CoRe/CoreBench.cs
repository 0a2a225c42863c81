using System.Diagnostics;
using Ebpf.CoRe;
using Ebpf.Isa;
using Ebpf.Loading;

namespace Ebpf.Bench.CoRe;

/// <summary>
/// CO-RE relocation of a large object set against vmlinux, side by side with the min_core_btf (BTFGen) work on the
/// same inputs: every cilium object of the shared corpus (cilium/, cilium-core/, cilium-examples/, bpf_cilium_test/)
/// plus the CO-RE scenario programs of tests/fixtures/core. Each figure is the median of several runs of the whole
/// set; the first (cold) run, which builds vmlinux's name index, is reported separately. bpftool gen min_core_btf and
/// our CLI's `ebpf gen min_core_btf` are both timed the same way on the same inputs: one whole process per run.
/// Usage: core [runs] [corpus-objects-dir] [vmlinux].
/// </summary>
public sealed class CoreBench : IBenchSuite
{
    public string Name => "core";
    public string Description => "CO-RE relocation of the cilium corpus against vmlinux vs min_core_btf on the same inputs (median ms)";

    private static readonly string[] CiliumDirs = ["cilium", "cilium-core", "cilium-examples", "bpf_cilium_test"];

    public int Run(string[] args)
    {
        int runs = args.Length > 0 && int.TryParse(args[0], out int r) ? Math.Max(r, 1) : 7;
        string root = args.Length > 1 ? args[1] : Path.Combine(FindUp("shared"), "corpus", "objects");
        string vmlinuxPath = args.Length > 2 ? args[2] : "/sys/kernel/btf/vmlinux";
        if (!Directory.Exists(root) || !File.Exists(vmlinuxPath))
        {
            Console.Error.WriteLine($"need {root} and {vmlinuxPath}");
            return 1;
        }
        var files = CiliumDirs.SelectMany(d => Directory.EnumerateFiles(Path.Combine(root, d), "*.o")).Order(StringComparer.Ordinal).ToList();
        string scenarios = Path.Combine(FindUp("tests"), "fixtures", "core");
        files.AddRange(Directory.EnumerateFiles(scenarios, "*.bpf.o", SearchOption.AllDirectories).Order(StringComparer.Ordinal));
        var objects = new List<(string Path, ObjectSpec Spec)>();
        foreach (string f in files)
        {
            try
            {
                var spec = ObjectSpec.Load(f);
                foreach (var p in spec.Programs)
                    p.EnsureResolved();
                objects.Add((f, spec));
            }
            catch (BpfException e)
            {
                Console.WriteLine($"  skipped {Path.GetFileName(f)}: {e.Message}");
            }
        }
        var withRelocs = objects.Where(o => o.Spec.Btf is not null && o.Spec.Programs.Any(p => p.CoreRelocations.Count > 0)).ToList();
        int relocations = objects.Sum(o => o.Spec.Programs.Sum(p => p.CoreRelocations.Count));
        int insns = objects.Sum(o => o.Spec.Programs.Sum(p => p.Instructions.Length));
        int ciliumRelocations = objects.Where(o => o.Path.StartsWith(root, StringComparison.Ordinal)).Sum(o => o.Spec.Programs.Sum(p => p.CoreRelocations.Count));
        Console.WriteLine($"{objects.Count} objects ({objects.Count(o => o.Path.StartsWith(root, StringComparison.Ordinal))} cilium), {insns} instructions, " +
            $"{relocations} CO-RE relocations ({ciliumRelocations} in cilium objects) in {withRelocs.Count} objects; {runs} runs; load average {Btf.BtfBench.LoadAverage()}");

        var vmlinux = Ebpf.Btf.BtfSpec.LoadVmlinux(vmlinuxPath);
        Console.WriteLine($"  vmlinux: {vmlinux.MaxTypeId} types");
        // Cold: the first relocation against this vmlinux builds its essential-name index.
        var cold = Stopwatch.StartNew();
        int resolved = RelocateAll(withRelocs, vmlinux);
        Console.WriteLine($"  relocate (cold, builds the name index) {cold.Elapsed.TotalMilliseconds,8:F1} ms wall, {resolved} relocations");
        Report("relocate all (warm)", runs, () => RelocateAll(withRelocs, vmlinux));
        Report("relocate: cilium only", runs, () => RelocateAll(withRelocs.Where(o => o.Path.StartsWith(root, StringComparison.Ordinal)).ToList(), vmlinux));
        byte[] min = [];
        Report("min_core_btf (ours)", runs, () => min = MinimalCoreBtf.Generate(vmlinux, withRelocs.Select(o => o.Spec)));
        Console.WriteLine($"  min_core_btf output: {min.Length} bytes from {new FileInfo(vmlinuxPath).Length} bytes");
        // What bpftool's process does end to end: read and parse vmlinux, index it, resolve, write.
        Report("parse vmlinux + min_core_btf", Math.Min(runs, 5), () => MinimalCoreBtf.Generate(Ebpf.Btf.BtfSpec.LoadVmlinux(vmlinuxPath), withRelocs.Select(o => o.Spec)));
        // Both tools timed the same way: one whole process per run (start, parse vmlinux, resolve, write), wall clock.
        var objectPaths = withRelocs.Select(o => o.Path).ToList();
        string? bpftool = new[] { "/usr/sbin/bpftool", "/usr/bin/bpftool", "/usr/local/sbin/bpftool" }.FirstOrDefault(File.Exists);
        TimeMinCoreBtfProcess("min_core_btf (bpftool process)", runs, bpftool, [], vmlinuxPath, objectPaths);
        string cli = Path.Combine(FindUp("src"), "Ebpf.Cli", "bin", "Release", "net10.0", "Ebpf.Cli.dll");
        TimeMinCoreBtfProcess("min_core_btf (ebpf CLI process)", runs, File.Exists(cli) ? "dotnet" : null, [cli], vmlinuxPath, objectPaths);
        return 0;
    }

    /// <summary>Resolves and patches every relocation of every program (on copies of the instructions), one relocator per object.</summary>
    private static int RelocateAll(List<(string Path, ObjectSpec Spec)> objects, Ebpf.Btf.BtfSpec vmlinux)
    {
        int count = 0;
        var targets = new CoreTargets(new CoreTargetBtf("vmlinux", vmlinux));
        foreach (var (_, spec) in objects)
        {
            var relocator = new CoreRelocator(spec.Btf!, targets);
            foreach (var prog in spec.Programs)
            {
                if (prog.CoreRelocations.Count == 0)
                    continue;
                var insns = (Instruction[])prog.Instructions.Clone();
                try
                {
                    relocator.Apply(prog.Name, insns, prog.CoreRelocations.Select(c => new CoreRelocation(c.InstructionIndex, c.TypeId, c.AccessString, c.Kind)).ToList());
                }
                catch (BpfException)
                {
                    // Scenario programs written to fail against some target may fail against vmlinux too: still timed.
                }
                count += prog.CoreRelocations.Count;
            }
        }
        return count;
    }

    /// <summary>
    /// Times one `… gen min_core_btf VMLINUX OUT OBJ…` process per run, wall clock from start to exit: how a user
    /// meets either tool. <paramref name="program"/> null means the tool is not available here.
    /// </summary>
    private static void TimeMinCoreBtfProcess(string what, int runs, string? program, string[] prefix, string vmlinux, List<string> objects)
    {
        if (program is null)
        {
            Console.WriteLine($"  {what}: not available (bpftool not installed, or the CLI not built in Release)");
            return;
        }
        string output = Path.Combine(Path.GetTempPath(), $"core-bench-{Environment.ProcessId}.btf");
        try
        {
            var times = new double[runs];
            for (int i = 0; i < runs; i++)
            {
                var psi = new ProcessStartInfo(program) { RedirectStandardError = true, RedirectStandardOutput = true };
                foreach (string a in prefix.Concat(["gen", "min_core_btf", vmlinux, output]).Concat(objects))
                    psi.ArgumentList.Add(a);
                var sw = Stopwatch.StartNew();
                using var p = Process.Start(psi)!;
                var stdout = p.StandardOutput.ReadToEndAsync();
                string err = p.StandardError.ReadToEnd();
                p.WaitForExit();
                _ = stdout.Result;
                times[i] = sw.Elapsed.TotalMilliseconds;
                if (p.ExitCode != 0)
                {
                    Console.WriteLine($"  {what} failed: {err.Trim().Split('\n').LastOrDefault()}");
                    return;
                }
            }
            Array.Sort(times);
            Console.WriteLine($"  {what,-32} median {times[runs / 2],8:F1} ms wall (min {times[0]:F1}, max {times[^1]:F1}); output {new FileInfo(output).Length} bytes");
        }
        finally
        {
            File.Delete(output);
        }
    }

    private static void Report(string what, int runs, Action action)
    {
        action();
        var times = new double[runs];
        var cpu = new double[runs];
        for (int i = 0; i < runs; i++)
        {
            double c0 = Btf.BtfBench.ThreadCpuMilliseconds();
            var sw = Stopwatch.StartNew();
            action();
            times[i] = sw.Elapsed.TotalMilliseconds;
            cpu[i] = Btf.BtfBench.ThreadCpuMilliseconds() - c0;
        }
        Array.Sort(times);
        Array.Sort(cpu);
        Console.WriteLine($"  {what,-32} median {times[runs / 2],8:F2} ms wall, {cpu[runs / 2],8:F2} ms thread CPU (wall min {times[0]:F2}, max {times[^1]:F2})");
    }

    private static string FindUp(string name)
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (Directory.Exists(Path.Combine(dir.FullName, name)))
                return Path.Combine(dir.FullName, name);
        }
        return name;
    }
}
