using System.Diagnostics;
using Ebpf.Btf;
using Ebpf.CoRe;
using Ebpf.Execution;
using Ebpf.Isa;
using Ebpf.Linux;
using Ebpf.Loading;
using Ebpf.Tests.Linux;
using BtfData = Ebpf.Btf.BtfSpec;

namespace Ebpf.Tests.CoRe;

/// <summary>
/// A clang-built object (tests/fixtures/core/vmlinux_reads.bpf.c) whose socket filters return CO-RE values of kernel
/// types, relocated by our engine against this machine's /sys/kernel/btf/vmlinux and run in our interpreter. The
/// expected values come from the vmlinux BTF itself, and — where bpf(2) and bpftool are available — from libbpf
/// relocating the same object into the live kernel (bpftool prog loadall + prog run).
/// </summary>
public class CoreVmlinuxFixtureTests(ITestOutputHelper output)
{
    private const string VmlinuxPath = "/sys/kernel/btf/vmlinux";
    private static string Fixture => SharedData.Fixture("core/vmlinux_reads.bpf.o");

    private static BtfData Vmlinux()
    {
        if (!File.Exists(VmlinuxPath))
            Requirement.Missing(Requirement.Vmlinux, $"{VmlinuxPath} not present");
        return BtfData.LoadVmlinux();
    }

    /// <summary>Every program of the fixture relocated against vmlinux and run: name → r0.</summary>
    private static Dictionary<string, ulong> OurResults(BtfData vmlinux, List<string>? debug = null)
    {
        var spec = ObjectSpec.Load(Fixture);
        var relocator = new CoreRelocator(spec.Btf!, new CoreTargets(new CoreTargetBtf("vmlinux", vmlinux)), new CoreLog { Debug = debug is null ? null : debug.Add });
        var results = new Dictionary<string, ulong>();
        foreach (var prog in spec.Programs)
        {
            var insns = prog.Instructions.ToArray();
            relocator.Apply(prog.Name, insns, prog.CoreRelocations.Select(r => new CoreRelocation(r.InstructionIndex, r.TypeId, r.AccessString, r.Kind)).ToList());
            results[prog.Name] = ConformanceRunner.Execute(insns, [], new InterpreterOptions { Name = prog.Name, Mode = ExecutionMode.Checked, Helpers = HelperTable.ForConformance() });
        }
        return results;
    }

    [Fact]
    public void Relocated_against_vmlinux_the_programs_return_this_kernels_layout()
    {
        var vmlinux = Vmlinux();
        var debug = new List<string>();
        var ours = OurResults(vmlinux, debug);
        uint task = vmlinux.FindByName("task_struct", BtfKind.Struct)!.Id;
        var pid = vmlinux.FindMember(task, "pid")!;
        var comm = vmlinux.FindMember(task, "comm")!;
        var pidType = (BtfEnumType)vmlinux.FindByName("pid_type", BtfKind.Enum)!;
        Assert.Equal(pid.BitOffset / 8, ours["pid_offset"]);
        Assert.Equal(vmlinux.SizeOf(comm.Member.Type), (uint)ours["comm_size"]);
        Assert.Equal(comm.BitOffset / 8 + 5, ours["comm_5_offset"]);
        Assert.Equal(0ul, ours["missing_field_exists"]);
        Assert.Equal(1ul, ours["pid_exists"]);
        Assert.Equal(vmlinux.SizeOf(task), (uint)ours["task_size"]);
        Assert.Equal((ulong)pidType.Values.Single(v => v.Name == "PIDTYPE_SID").Value, ours["sid_value"]);
        Assert.Equal(1ul, ours["list_head_matches"]);
        Assert.Equal(0ul, ours["task_matches"]);           // the local task_struct has a member the kernel's lacks
        Assert.Equal(7ul, ours["missing_field_guarded"]);  // the poisoned read is dead code
        Assert.Contains(debug, l => l.Contains("found target candidate") && l.Contains("struct task_struct in [vmlinux]"));
        Assert.Contains(debug, l => l.Contains("substituting insn") && l.StartsWith("prog 'missing_field_guarded'", StringComparison.Ordinal));
    }

    [Fact]
    public void The_values_equal_libbpfs_relocation_in_the_live_kernel()
    {
        KernelRequirement.Require();
        string bpftool = ExternalTool.Require(Requirement.Bpftool, "bpftool", "libbpf's side of the comparison");
        var ours = OurResults(Vmlinux());
        Assert.Equal(10, ours.Count); // README: "10/10 programs return the same values"
        using var fs = new TemporaryBpfFs();
        string dir = fs["core"];
        Run(bpftool, $"prog loadall {Fixture} {dir} type socket");
        var data = Path.Combine(fs.Path, "..", $"core-data-{Environment.ProcessId}");
        File.WriteAllBytes(data, new byte[64]);
        try
        {
            foreach (var (name, value) in ours)
            {
                string text = Run(bpftool, $"prog run pinned {Path.Combine(dir, name)} data_in {data} repeat 1");
                var line = text.Split('\n').Single(l => l.StartsWith("Return value:", StringComparison.Ordinal));
                // "Return value: 1264, duration: 490ns"
                string number = line["Return value:".Length..].Split(',')[0].Trim();
                ulong kernel = ulong.Parse(number, System.Globalization.CultureInfo.InvariantCulture);
                output.WriteLine($"{name}: libbpf+kernel {kernel}, ours {value}");
                Assert.True(kernel == (uint)value, $"{name}: libbpf+kernel {kernel}, ours {value}");
            }
        }
        finally
        {
            File.Delete(data);
        }
    }

    private static string Run(string file, string args)
    {
        var psi = new ProcessStartInfo(file, args) { RedirectStandardOutput = true, RedirectStandardError = true };
        using var p = Process.Start(psi)!;
        string stdout = p.StandardOutput.ReadToEnd(), stderr = p.StandardError.ReadToEnd();
        p.WaitForExit();
        Assert.True(p.ExitCode == 0, $"{file} {args}: exit {p.ExitCode}: {stderr}");
        return stdout + stderr;
    }
}
