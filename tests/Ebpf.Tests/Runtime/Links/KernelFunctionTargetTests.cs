using Ebpf.Runtime;
using static Ebpf.Tests.Runtime.Links.LinkFixtures;

namespace Ebpf.Tests.Runtime.Links;

/// <summary>
/// fentry/fexit on a kernel function (attach_btf_id in vmlinux, no target program): the managed runtime has no kernel
/// functions, so the load fails as the kernel fails for a function it has no address of, and says why.
/// </summary>
public class KernelFunctionTargetTests
{
    private static void RequireVmlinux()
    {
        if (!File.Exists("/sys/kernel/btf/vmlinux"))
            Requirement.Missing(Requirement.Vmlinux, "/sys/kernel/btf/vmlinux not present");
    }

    [Fact]
    public void Fentry_on_a_kernel_function_is_refused_with_ENOENT_and_the_reason()
    {
        RequireVmlinux();
        var rt = new BpfRuntime();
        var e = Assert.Throws<BpfException>(() => rt.Load(Spec("kernel_fentry")));
        Assert.Equal(Errno.ENOENT, e.Errno);
        Assert.Contains("The address of function do_unlinkat cannot be found\n", e.Log);
        Assert.Contains("the managed runtime has no kernel functions", e.Message);
        Assert.Empty(rt.GetIds(Ebpf.Abi.ObjectKind.Program));
    }

    [Fact]
    public void An_explicit_vmlinux_btf_id_is_refused_the_same_way()
    {
        RequireVmlinux();
        var vmlinux = Ebpf.Btf.BtfSpec.LoadVmlinux();
        uint id = vmlinux.FindAllByName("do_unlinkat", Ebpf.Btf.BtfKind.Func).Single();
        var spec = Spec("kernel_fentry").Programs.Single();
        using var b = TestBackend.Create(Backends.Managed);
        var def = new Ebpf.Collections.ProgramDefinition(Ebpf.Abi.ProgramType.Tracing, spec.Instructions, "on_unlink", "GPL", Ebpf.Abi.AttachType.TraceFentry);
        var e = Assert.Throws<BpfException>(() => b.Backend.LoadProgram(def, null, null, new Ebpf.Collections.ProgramLoadOptions { AttachBtfId = id }));
        Assert.Equal(Errno.ENOENT, e.Errno);
        Assert.Contains("the managed runtime has no kernel functions", e.Message);
    }

    [Fact]
    public void The_cli_prints_the_error_and_the_kernel_line()
    {
        RequireVmlinux();
        var r = CliRunner.Run("prog", "load", SharedData.Fixture("links/kernel_fentry.bpf.o"), "/sys/fs/bpf/kf");
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("(ENOENT)", r.Stderr);
        Assert.Contains("no kernel functions", r.Stderr);
        Assert.Contains("\nThe address of function do_unlinkat cannot be found", r.Stderr);
    }
}
