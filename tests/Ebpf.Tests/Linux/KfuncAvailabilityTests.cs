using Ebpf.Abi;
using Ebpf.Linux.Probes;
using Ebpf.Verification;
using static Ebpf.Tests.Linux.KernelRequirement;

namespace Ebpf.Tests.Linux;

/// <summary>
/// The verifier's kfunc availability table (probed on 6.18 and committed) against the running kernel: a stale or
/// wrong table shows up here. Also the probe itself on kfuncs whose registration is well known.
/// </summary>
public class KfuncAvailabilityTests
{
    private static readonly string[] Kfuncs =
        ["bpf_task_from_pid", "bpf_task_release", "bpf_rcu_read_lock", "bpf_cgroup_acquire", "bpf_skb_ct_lookup", "bpf_xdp_ct_lookup", "bpf_cpumask_create"];

    private static readonly ProgramType[] Types =
        [ProgramType.SocketFilter, ProgramType.SchedCls, ProgramType.Xdp, ProgramType.Kprobe, ProgramType.Tracepoint, ProgramType.CgroupSkb, ProgramType.Syscall];

    [Fact]
    public void The_committed_table_matches_this_kernel()
    {
        Require();
        var vmlinux = KernelFunctionProbes.VmlinuxKfuncs().ToDictionary(k => k.Name, k => k.BtfId);
        var differences = new List<string>();
        foreach (var name in Kfuncs.Where(vmlinux.ContainsKey))
            foreach (var type in Types)
            {
                bool kernel = KernelFunctionProbes.Probe(type, vmlinux[name]).Supported;
                if (kernel != KernelFunctionAvailability.IsAllowed(name, type))
                    differences.Add($"{name} from {KernelNames.Of(type)}: kernel {(kernel ? "allows" : "refuses")} it");
            }
        Assert.Empty(differences);
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
    public void Types_the_table_does_not_cover_stay_allowed()
    {
        // Tracing programs cannot be probed without an attach target: the table has no say for them.
        Assert.True(KernelFunctionAvailability.IsAllowed("bpf_skb_ct_lookup", ProgramType.Tracing));
        Assert.False(KernelFunctionAvailability.IsAllowed("bpf_skb_ct_lookup", ProgramType.SocketFilter));
        Assert.True(KernelFunctionAvailability.IsAllowed("a_kfunc_from_another_kernel", ProgramType.SocketFilter));
    }
}
