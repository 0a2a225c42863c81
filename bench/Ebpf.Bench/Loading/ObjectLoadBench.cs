using System.Diagnostics;
using Ebpf.Loading;

namespace Ebpf.Bench.Loading;

/// <summary>
/// Time to turn an object into specs (ELF + BTF + .BTF.ext + maps + linking) for large real objects and for the whole
/// corpus. Files are read into memory first, so this measures parsing, not I/O.
/// </summary>
public sealed class ObjectLoadBench : IBenchSuite
{
    public string Name => "loading";
    public string Description => "ObjectSpec.Parse of corpus objects (cilium, falco, whole corpus)";

    public int Run(string[] args)
    {
        string shared = Environment.GetEnvironmentVariable("EBPF_SHARED") is { Length: > 0 } env ? env : FindShared();
        string root = Path.Combine(shared, "corpus", "objects");
        if (!Directory.Exists(root))
        {
            Console.Error.WriteLine($"corpus not found under {root} (set EBPF_SHARED)");
            return 1;
        }
        int iterations = args.Length > 0 && int.TryParse(args[0], out int n) ? n : 20;
        var corpus = Directory.EnumerateFiles(root, "*.o", SearchOption.AllDirectories)
            .Where(p => !p.Contains("/invalid/")).Order(StringComparer.Ordinal)
            .Select(p => (Path: p, Bytes: File.ReadAllBytes(p))).ToList();

        Console.WriteLine($"load average {Ebpf.Bench.Btf.BtfBench.LoadAverage()}");
        Console.WriteLine($"{"object",-34} {"size",9} {"programs",8} {"insns",8} {"median",10} {"MB/s",8} {"thread CPU",12}");
        foreach (var name in new[] { "cilium/bpf_lxc.o", "cilium-core/bpf_host.o", "cilium-core/bpf_lxc.o", "falco/probe.o" })
        {
            var item = corpus.FirstOrDefault(c => c.Path.EndsWith(name, StringComparison.Ordinal));
            if (item.Bytes is null)
                continue;
            Measure(name, [item], iterations);
        }
        Measure($"whole corpus ({corpus.Count} objects)", corpus, Math.Max(3, iterations / 5));
        return 0;
    }

    private static void Measure(string label, List<(string Path, byte[] Bytes)> items, int iterations)
    {
        int programs = 0, insns = 0;
        void Once()
        {
            programs = insns = 0;
            foreach (var (path, bytes) in items)
            {
                var spec = ObjectSpec.Parse(bytes, path);
                programs += spec.Programs.Count;
                insns += spec.Programs.Sum(p => p.Instructions.Length);
            }
        }
        Once(); Once();
        var times = new List<double>();
        var cpu = new List<double>();
        for (int i = 0; i < iterations; i++)
        {
            double cpuStart = Ebpf.Bench.Btf.BtfBench.ThreadCpuMilliseconds();
            var sw = Stopwatch.StartNew();
            Once();
            times.Add(sw.Elapsed.TotalMilliseconds);
            cpu.Add(Ebpf.Bench.Btf.BtfBench.ThreadCpuMilliseconds() - cpuStart);
        }
        times.Sort();
        cpu.Sort();
        double median = times[times.Count / 2];
        long size = items.Sum(i => (long)i.Bytes.Length);
        Console.WriteLine($"{label,-34} {size,9} {programs,8} {insns,8} {median,8:F2}ms {size / 1e6 / (median / 1e3),8:F1} {cpu[cpu.Count / 2],10:F2}ms");
    }

    private static string FindShared()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Ebpf.slnx")))
                return Path.GetFullPath(Path.Combine(dir.FullName, "..", "shared"));
        }
        return "../shared";
    }
}
