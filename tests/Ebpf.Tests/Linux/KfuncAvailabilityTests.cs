using Ebpf.Abi;
using Ebpf.Abi.Profiles;
using Ebpf.Isa;
using Ebpf.Linux.Probes;
using Ebpf.Verification;
using static Ebpf.Tests.Linux.KernelRequirement;

namespace Ebpf.Tests.Linux;

/// <summary>
/// kfunc availability per program type: our verifier, given the running kernel's profile, refuses exactly the kfunc
/// calls that kernel refuses; the committed reference table is compared with the running kernel and its differences
/// reported (kernel builds differ: that is what profiles are for); the probe itself on well-known registrations.
/// </summary>
public class KfuncAvailabilityTests(ITestOutputHelper output)
{
    private static readonly string[] Kfuncs =
        ["bpf_task_from_pid", "bpf_task_release", "bpf_rcu_read_lock", "bpf_cgroup_acquire", "bpf_skb_ct_lookup", "bpf_xdp_ct_lookup", "bpf_cpumask_create"];

    private static readonly ProgramType[] Types =
        [ProgramType.SocketFilter, ProgramType.SchedCls, ProgramType.Xdp, ProgramType.Kprobe, ProgramType.Tracepoint, ProgramType.CgroupSkb, ProgramType.Syscall];

    [Fact]
    public void Our_verifier_under_the_live_profile_refuses_the_kfunc_calls_the_kernel_refuses()
    {
        Require();
        var profile = LiveKernelProfile.Current;
        var vmlinux = KernelFunctionProbes.VmlinuxKfuncs().ToDictionary(k => k.Name, k => k.BtfId);
        var differences = new List<string>();
        int compared = 0;
        foreach (var name in Kfuncs.Where(vmlinux.ContainsKey))
            foreach (var type in Types)
            {
                bool kernel = KernelFunctionProbes.Probe(type, vmlinux[name]).Supported;
                var result = Verifier.Verify(new VerifierInput
                {
                    Instructions = [new Instruction(Opcodes.Call, 0, (byte)CallSource.Kfunc, 0, (int)vmlinux[name]), Instruction.Exit()],
                    ProgramType = type,
                    Sleepable = type == ProgramType.Syscall,
                    Profile = profile,
                });
                bool oursAllows = result.Error?.Contains($"calling kernel function {name} is not allowed", StringComparison.Ordinal) != true;
                compared++;
                if (kernel != oursAllows)
                    differences.Add($"{name} from {KernelNames.Of(type)}: kernel {(kernel ? "allows" : "refuses")} it, ours: {result.Error}");
            }
        output.WriteLine($"{compared} kfunc/type pairs compared");
        Assert.True(compared > 0, "no kfunc of the list is in this kernel's BTF");
        Assert.Empty(differences);
    }

    [Fact]
    public void The_reference_table_against_this_kernel_is_reported_not_asserted()
    {
        Require();
        var live = LiveKernelProfile.Current;
        var reference = KernelProfile.Reference;
        var differences = new List<string>();
        foreach (var (name, _) in live.Kfuncs)
            foreach (var type in live.KfuncProbedTypes.Where(reference.KfuncProbedTypes.Contains))
                if (live.IsKfuncAllowed(name, type) != reference.IsKfuncAllowed(name, type))
                    differences.Add($"{name} from {KernelNames.Of(type)}: live {(live.IsKfuncAllowed(name, type) ? "allows" : "refuses")}");
        output.WriteLine($"live kernel {live.KernelRelease} vs the 6.18 reference: {differences.Count} kfunc/type differences");
        foreach (var d in differences.Take(50))
            output.WriteLine("  " + d);
        // The live profile must be real data, or the comparison above says nothing.
        Assert.NotEmpty(live.KfuncProbedTypes);
        Assert.Contains(live.Kfuncs.Keys, k => k == "bpf_task_from_pid");
    }

    [Fact]
    public void The_probe_tells_registered_from_unregistered_program_types()
    {
        Require();
        uint ct = KernelFunctionProbes.VmlinuxKfuncs().Single(k => k.Name == "bpf_skb_ct_lookup").BtfId;
        Assert.True(KernelFunctionProbes.Probe(ProgramType.SchedCls, ct).Supported);  // registered for tc …
        Assert.False(KernelFunctionProbes.Probe(ProgramType.SocketFilter, ct).Supported); // … not for socket filters
        Assert.Contains("is not allowed", KernelFunctionProbes.Probe(ProgramType.SocketFilter, ct).Detail);
    }

    [Fact]
    public void The_reference_profile_refuses_unknown_kfuncs_for_probed_types_and_has_no_say_for_unprobed_ones()
    {
        var reference = KernelProfile.Reference;
        // Tracing programs cannot be probed without an attach target: the table has no say for them.
        Assert.True(reference.IsKfuncAllowed("bpf_skb_ct_lookup", ProgramType.Tracing));
        Assert.True(reference.IsKfuncAllowed("bpf_skb_ct_lookup", ProgramType.SchedCls));
        Assert.False(reference.IsKfuncAllowed("bpf_skb_ct_lookup", ProgramType.SocketFilter));
        // A kfunc the reference kernel does not have cannot be called from a type whose kfuncs were probed.
        Assert.False(reference.IsKfuncAllowed("a_kfunc_from_another_kernel", ProgramType.SocketFilter));
    }
}
