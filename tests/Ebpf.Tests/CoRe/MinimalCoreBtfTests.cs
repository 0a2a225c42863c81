using System.Diagnostics;
using Ebpf.Btf;
using Ebpf.CoRe;
using Ebpf.Loading;
using BtfData = Ebpf.Btf.BtfSpec;

namespace Ebpf.Tests.CoRe;

/// <summary>
/// `gen min_core_btf` (BTFGen): every relocation resolves against the minimal BTF exactly as against the full one,
/// and the minimal BTF holds the same types as bpftool's for the same inputs.
/// </summary>
public class MinimalCoreBtfTests(ITestOutputHelper output)
{
    private const string VmlinuxPath = "/sys/kernel/btf/vmlinux";

    private static List<string> Objects()
    {
        var list = new List<string> { SharedData.Fixture("core/vmlinux_reads.bpf.o") };
        string corpus = SharedData.Require("corpus/objects/cilium-examples");
        list.Add(Path.Combine(corpus, "tcprtt_bpf_bpfel.o"));
        list.Add(Path.Combine(corpus, "tcprtt_sockops_bpf_bpfel.o"));
        return list;
    }

    private static BtfData Vmlinux()
    {
        if (!File.Exists(VmlinuxPath))
            Requirement.Missing(Requirement.Vmlinux, $"{VmlinuxPath} not present");
        return BtfData.LoadVmlinux();
    }

    /// <summary>Every relocation's outcome against <paramref name="target"/>: value, "poison" or the error.</summary>
    private static List<string> Outcomes(IEnumerable<ObjectSpec> specs, BtfData target)
    {
        var outcomes = new List<string>();
        foreach (var spec in specs)
        {
            var relocator = new CoreRelocator(spec.Btf!, CoreTargets.Custom("t", target));
            foreach (var prog in spec.Programs)
                for (int i = 0; i < prog.CoreRelocations.Count; i++)
                {
                    var r = prog.CoreRelocations[i];
                    string outcome;
                    try
                    {
                        var res = relocator.Resolve(prog.Name, i, new CoreRelocation(r.InstructionIndex, r.TypeId, r.AccessString, r.Kind));
                        // Target type ids are renumbered in the minimal BTF by design; whether one was found is what must hold.
                        outcome = res.Poison ? "poison" : r.Kind == BtfCoreReloKind.TypeIdTarget ? (res.New != 0 ? "found" : "0") : res.New.ToString();
                    }
                    catch (BpfException e)
                    {
                        outcome = "error " + e.Errno;
                    }
                    outcomes.Add($"{spec.Name} {prog.Name} #{i} {r.Kind} {r.AccessString}: {outcome}");
                }
        }
        return outcomes;
    }

    [Fact]
    public void Relocations_resolve_against_the_minimal_btf_as_against_the_full_one()
    {
        var vmlinux = Vmlinux();
        var specs = Objects().Select(ObjectSpec.Load).ToList();
        byte[] minimal = MinimalCoreBtf.Generate(vmlinux, specs);
        var min = BtfData.Parse(minimal);
        output.WriteLine($"vmlinux {vmlinux.Types.Count} types -> {min.Types.Count} types, {minimal.Length} bytes");
        var full = Outcomes(specs, vmlinux);
        Assert.True(full.Count >= 30, $"only {full.Count} relocations");
        Assert.Equal(full, Outcomes(specs, min));
        Assert.True(min.Types.Count < 100);
    }

    [Fact]
    public void The_minimal_btf_has_the_same_types_as_bpftools()
    {
        Vmlinux();
        string Bpftool = ExternalTool.Require(Requirement.Bpftool, "bpftool", "the minimal BTF is compared with bpftool gen min_core_btf's");
        string dir = Directory.CreateTempSubdirectory("ebpf-btfgen-").FullName;
        try
        {
            string ours = Path.Combine(dir, "ours.btf"), theirs = Path.Combine(dir, "bpftool.btf");
            var r = CliRunner.Run(["gen", "min_core_btf", VmlinuxPath, ours, .. Objects()]);
            Assert.True(r.ExitCode == 0, r.Stderr);
            Run(Bpftool, ["gen", "min_core_btf", VmlinuxPath, theirs, .. Objects()]);
            output.WriteLine($"ours {new FileInfo(ours).Length} bytes, bpftool {new FileInfo(theirs).Length} bytes");
            // Type ids and string order may differ; the types (kind, name, members, sizes, offsets) must not.
            Assert.Equal(Normalised(Run(Bpftool, ["btf", "dump", "file", theirs])), Normalised(Run(Bpftool, ["btf", "dump", "file", ours])));
            Assert.Equal(new FileInfo(theirs).Length, new FileInfo(ours).Length);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    private static List<string> Normalised(string dump) =>
        [.. System.Text.RegularExpressions.Regex.Replace(dump, @"\[\d+\] |type_id=\d+", "").Split('\n').Order(StringComparer.Ordinal)];

    private static string Run(string file, string[] args)
    {
        var psi = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args)
            psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        string stdout = p.StandardOutput.ReadToEnd(), stderr = p.StandardError.ReadToEnd();
        p.WaitForExit();
        Assert.True(p.ExitCode == 0, $"{file} {string.Join(' ', args)}: {stderr}");
        return stdout;
    }
}
