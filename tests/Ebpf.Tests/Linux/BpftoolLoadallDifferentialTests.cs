using Ebpf.Abi;
using Ebpf.Cli.Commands.Runtime;
using Ebpf.Elf;
using Ebpf.Linux;
using Ebpf.Loading;

namespace Ebpf.Tests.Linux;

/// <summary>
/// Two loaders, one kernel: every corpus object that libbpf (through `bpftool prog loadall`) loads here must
/// load through BpfCollection too, with the same programs as the same types and as many maps. Like with like: both run now,
/// on this kernel; nothing is compared with a recording.
///
/// bpftool runs in a private mount namespace with its own bpffs on /sys/fs/bpf: libbpf pins maps declared
/// with pinning ByName under /sys/fs/bpf, and those pins must neither touch the machine's bpffs nor
/// outlive the run (the namespace's mounts vanish with it). Objects whose sections libbpf cannot type
/// ("failed to guess program type") are tried again with one explicit type, the corpus table's, given to
/// both loaders; the objects bpftool still refuses are left out and listed: the assertion is one-way (what
/// libbpf loads, we load).
/// </summary>
public class BpftoolLoadallDifferentialTests(ITestOutputHelper output)
{
    private const string Bpftool = "/usr/sbin/bpftool";

    // One shell for all objects: mount a private bpffs, loadall each object (argument OBJ, or OBJ=TYPE for an
    // explicit type), list what it pinned (pin name = libbpf's program name, full length; the show line gives
    // the type), then remount a fresh bpffs.
    private const string Script = """
        mount -t bpf bpf /sys/fs/bpf || exit 90
        for a in "$@"; do
          o=${a%%=*}; t=${a#"$o"}; t=${t#=}
          if [ -n "$t" ]; then
            err=$(BPFTOOL prog loadall "$o" /sys/fs/bpf/p type "$t" 2>&1 >/dev/null)
          else
            err=$(BPFTOOL prog loadall "$o" /sys/fs/bpf/p 2>&1 >/dev/null)
          fi
          if [ $? -eq 0 ]; then
            printf 'OK\t%s\n' "$o"
            for f in /sys/fs/bpf/p/*; do
              [ -e "$f" ] && printf 'PROG\t%s\t%s\n' "${f##*/}" "$(BPFTOOL prog show pinned "$f" | head -n 1)"
            done
            # Again with pinmaps, only to list the maps libbpf made (pinmaps clashes with maps pinned by name,
            # so it is not part of the verdict).
            umount /sys/fs/bpf && mount -t bpf bpf /sys/fs/bpf || exit 92
            BPFTOOL prog loadall "$o" /sys/fs/bpf/p ${t:+type "$t"} pinmaps /sys/fs/bpf/m >/dev/null 2>&1 \
              && printf 'MAPS\t%s\n' "$(ls /sys/fs/bpf/m | tr '\n' ' ')"
          else
            printf 'FAIL\t%s\t%s\n' "$o" "$(printf '%s\n' "$err" | grep -v '^Warning: bpftool is now\|^If it used to work\|^$' | tr '\t' ' ' | head -n 2 | tr '\n' ' ')"
          fi
          umount /sys/fs/bpf && mount -t bpf bpf /sys/fs/bpf || exit 91
        done
        """;

    /// <summary>
    /// bpftool's `type` words for the kernel program types the corpus table lists, for objects whose sections
    /// libbpf cannot type: the same explicit type then goes to both loaders.
    /// </summary>
    private static readonly Dictionary<string, string> ExplicitTypeWords = new(StringComparer.Ordinal)
    {
        ["socket_filter"] = "socket", ["xdp"] = "xdp", ["sched_cls"] = "classifier", ["sched_act"] = "action",
        ["kprobe"] = "kprobe", ["tracepoint"] = "tracepoint", ["raw_tracepoint"] = "raw_tracepoint",
        ["perf_event"] = "perf_event", ["cgroup_skb"] = "cgroup/skb", ["cgroup_sock"] = "cgroup/sock",
    };

    private sealed record BpftoolResult(string Object, bool Loaded, string Error, Dictionary<string, string> ProgramTypes)
    {
        /// <summary>The maps libbpf created (pinmaps names: its own, e.g. "obj_name.rodata" for global data).</summary>
        public string[]? Maps { get; set; }
    }

    [Fact]
    public void Every_object_bpftool_loads_loads_through_the_Linux_backend()
    {
        KernelRequirement.Require();
        if (!File.Exists(Bpftool))
            Requirement.Missing(Requirement.Bpftool, $"bpftool not found at {Bpftool}: the libbpf side of this comparison is missing");
        PrivateMountNamespace.Require("bpftool must run in a private mount namespace (libbpf pins under /sys/fs/bpf)");
        if (!Directory.Exists(BpfFs.DefaultMount))
            Requirement.Missing(Requirement.Kernel, $"{BpfFs.DefaultMount} does not exist (no sysfs): libbpf's default pin root is missing");
        string root = SharedData.Require("corpus/objects");
        var objects = SharedData.CorpusObjects(includeInvalid: true).Select(p => Path.GetRelativePath(root, p)).ToList();

        var bpftool = RunBpftool(root, objects);
        Assert.Equal(objects.Count, bpftool.Count); // every object got a verdict: the script ran to the end
        var explicitTypes = RetryWithExplicitTypes(root, bpftool);

        using var pins = new TemporaryBpfFs();
        int bpftoolPrograms = 0, ourObjects = 0, ourPrograms = 0, mapsCompared = 0;
        var differences = new List<string>();
        foreach (var r in bpftool)
        {
            string path = Path.Combine(root, r.Object);
            if (!r.Loaded)
                continue; // left out (listed below); loading these too would double the run for no assertion
            bpftoolPrograms += r.ProgramTypes.Count;
            ProgramType? type = explicitTypes.TryGetValue(r.Object, out var t0) ? t0 : null;
            if (!TryLoad(path, r.ProgramTypes.Keys.ToHashSet(StringComparer.Ordinal), type, pins.Path, out var loaded, out int mapCount, out string problem))
            {
                differences.Add($"{r.Object}: bpftool loads it ({r.ProgramTypes.Count} programs), we do not: {problem}");
                continue;
            }
            ourObjects++;
            ourPrograms += loaded.Count;
            if (r.Maps is not null)
            {
                mapsCompared++;
                if (mapCount != r.Maps.Length)
                    differences.Add($"{r.Object}: libbpf creates {r.Maps.Length} maps [{string.Join(' ', r.Maps)}], we create {mapCount}");
            }
            foreach (var (name, bpftoolType) in r.ProgramTypes)
            {
                if (!loaded.TryGetValue(name, out var ourType))
                    differences.Add($"{r.Object}: program {name} loaded by bpftool, not by us");
                else if (!BpftoolFormat.TryParseType(bpftoolType, out ProgramType t) || t != ourType)
                    differences.Add($"{r.Object}: program {name} is {bpftoolType} for libbpf, {BpftoolFormat.TypeName(ourType)} for us");
            }
        }

        var refused = bpftool.Where(r => !r.Loaded).ToList();
        output.WriteLine($"bpftool loads {bpftool.Count - refused.Count} of {objects.Count} objects ({bpftoolPrograms} programs); we load {ourObjects} of those ({ourPrograms} programs)");
        output.WriteLine($"map counts compared for {mapsCompared} objects (libbpf's pinmaps listing)");
        output.WriteLine($"{explicitTypes.Count} objects have sections libbpf cannot type: tried again with the corpus table's type passed to both "
            + $"(bpftool then loads {bpftool.Count(r => r.Loaded && explicitTypes.ContainsKey(r.Object))})");
        output.WriteLine($"left out: {refused.Count} objects bpftool refuses here:");
        foreach (var g in refused.GroupBy(r => Classify(r.Error)).OrderByDescending(g => g.Count()))
            output.WriteLine($"  {g.Count(),3}  {g.Key}  e.g. {g.First().Object}");
        foreach (var d in differences)
            output.WriteLine($"DIFF {d}");
        Assert.True(bpftool.Count(r => r.Loaded) > 0, "bpftool loaded no object at all: the comparison compared nothing");
        // README: "64/64 objects" — every object bpftool loads here, we load (the count is the machine's).
        Assert.Equal(bpftool.Count(r => r.Loaded), ourObjects);
        Assert.Equal(bpftoolPrograms, ourPrograms);
        Assert.Empty(differences);
    }

    /// <summary>Loads an object through BpfCollection, the programs named in FILTER; its program types by name.</summary>
    private static bool TryLoad(string path, HashSet<string> filter, ProgramType? type, string bpffs, out Dictionary<string, ProgramType> loaded, out int mapCount, out string problem)
    {
        loaded = [];
        mapCount = 0;
        problem = "";
        // A fresh pin root per object, as the bpftool side remounts its bpffs (a directory: the mount's own
        // maps.debug/progs.debug cannot be removed).
        string pinPath = Path.Combine(bpffs, "pins");
        Directory.CreateDirectory(pinPath);
        try
        {
            var elf = ElfFile.Open(path);
            var spec = ObjectSpec.Parse(elf.Image, path);
            spec.Name = ObjectSpec.ObjectNameFromPath(path);
            if (type is { } explicitType)
            {
                foreach (var p in spec.Programs)
                    p.Type = explicitType;
            }
            var options = new ObjectLoadOptions
            {
                Elf = elf,
                PinRoot = pinPath, // maps with pinning ByName, as libbpf pins them (under its own root)
                ProgramFilter = p => filter.Contains(p.Name),
            };
            using var c = LinuxKernel.Load(spec, options);
            mapCount = c.Maps.Count;
            foreach (var (name, p) in c.Programs)
                loaded[name] = spec.Programs.First(s => s.Name == name).Type;
            return true;
        }
        catch (BpfException e)
        {
            problem = e.Message.Split('\n')[0];
            return false;
        }
        finally
        {
            Directory.Delete(pinPath, recursive: true);
        }
    }

    /// <summary>
    /// Objects bpftool refused only for want of a type whose programs the corpus table lists with one type:
    /// run again with that type; their results replace the first ones. Returns the type used per object.
    /// </summary>
    private static Dictionary<string, ProgramType> RetryWithExplicitTypes(string root, List<BpftoolResult> results)
    {
        string tsv = SharedData.Require("corpus/kernel_verdicts.tsv");
        var types = new Dictionary<string, ProgramType>(StringComparer.Ordinal);
        var tableTypes = File.ReadLines(tsv).Skip(1).Select(l => l.Split('\t')).Where(c => c.Length > 3)
            .GroupBy(c => c[0], c => c[3]).ToDictionary(g => g.Key, g => g.Distinct().ToList(), StringComparer.Ordinal);
        var retry = new List<string>();
        foreach (var r in results.Where(r => !r.Loaded && r.Error.Contains("failed to guess program type", StringComparison.Ordinal)))
        {
            if (tableTypes.TryGetValue(r.Object, out var names) && names is [var name]
                && ExplicitTypeWords.TryGetValue(name, out var word) && BpftoolFormat.TryParseType(name, out ProgramType type))
            {
                types[r.Object] = type;
                retry.Add($"{r.Object}={word}");
            }
        }
        if (retry.Count == 0)
            return types;
        foreach (var again in RunBpftool(root, retry))
            results[results.FindIndex(r => r.Object == again.Object)] = again;
        return types;
    }

    private static List<BpftoolResult> RunBpftool(string root, List<string> objects)
    {
        var run = PrivateMountNamespace.Run(Script.Replace("BPFTOOL", Bpftool, StringComparison.Ordinal), objects, TimeSpan.FromMinutes(5), root);
        if (run.ExitCode != 0)
            Assert.Fail($"the bpftool script failed (exit {run.ExitCode}): {run.Stderr}");
        string stdout = run.Stdout;
        var results = new List<BpftoolResult>();
        foreach (var line in stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            var f = line.Split('\t');
            switch (f[0])
            {
                case "OK":
                    results.Add(new BpftoolResult(f[1], true, "", new Dictionary<string, string>(StringComparer.Ordinal)));
                    break;
                case "FAIL":
                    results.Add(new BpftoolResult(f[1], false, f.Length > 2 ? f[2].Trim() : "", []));
                    break;
                case "MAPS":
                    results[^1].Maps = f.Length > 1 ? f[1].Split(' ', StringSplitOptions.RemoveEmptyEntries) : null;
                    break;
                case "PROG" when f.Length >= 3:
                    // "12: kprobe  name kprobe_execve  tag …": the type is the word after the id.
                    var words = f[2].Split(' ', StringSplitOptions.RemoveEmptyEntries);
                    results[^1].ProgramTypes[f[1]] = words.Length > 1 ? words[1] : "?";
                    break;
            }
        }
        return results;
    }

    /// <summary>A short reason for the summary of what bpftool refused.</summary>
    private static string Classify(string error) =>
        error.Contains("legacy map definitions", StringComparison.Ordinal) ? "legacy 'maps' section (unsupported since libbpf 1.0)"
        : error.Contains("failed to guess program type", StringComparison.Ordinal) ? "section libbpf cannot type (needs an explicit type)"
        : error.Contains("is static and not supported", StringComparison.Ordinal) ? "static entry programs (unsupported by libbpf)"
        : error.Contains("BPF program load failed", StringComparison.Ordinal) ? "a program the kernel rejects"
        : error.Contains("failed to create", StringComparison.Ordinal) ? "a map the kernel refuses as declared"
        : error.Length > 90 ? error[..90] : error;
}
