using Ebpf.Collections;
using Ebpf.Loading;
using Ebpf.Verification;

namespace Ebpf.Tests.Iter;

/// <summary>
/// Iterator programs over kernel objects the managed runtime does not have (iter/task, tests/fixtures/iter/
/// kernel_targets.bpf.c): the standalone verifier (`prog verify`, the upstream-suite harness) types their context as
/// the kernel does, so its verdicts match the live kernel's; the managed runtime refuses to load them, since it has no
/// tasks to iterate.
/// </summary>
public class KernelTargetVerificationTests
{
    private static ObjectSpec Spec() => ObjectSpec.Load(SharedData.Fixture("iter/kernel_targets.bpf.o"));

    [Theory]
    [InlineData("task_checked", true)]
    [InlineData("task_unchecked", false)]
    public void Standalone_verdicts_match_the_kernel(string program, bool accepted)
    {
        var obj = Spec();
        var ours = Verifier.Verify(ProgramSpecInput.Create(obj, obj.Programs.Single(p => p.Name == program)));
        Assert.Equal(accepted, ours.Accepted);
        if (!accepted)
            Assert.Contains("invalid mem access 'trusted_ptr_or_null_'", ours.Log);

        using var b = TestBackend.Create(Backends.Linux);
        var options = new ObjectLoadOptions { ProgramFilter = p => p.Name == program, LogLevel = 1 };
        if (accepted)
        {
            BpfCollection.Load(b.Backend, Spec(), options).Dispose();
            return;
        }
        var kernel = Assert.Throws<BpfException>(() => BpfCollection.Load(b.Backend, Spec(), options).Dispose());
        Assert.Contains("invalid mem access 'trusted_ptr_or_null_'", kernel.Log);
    }

    [Fact]
    public void The_managed_runtime_refuses_a_target_it_does_not_have()
    {
        using var b = TestBackend.Create(Backends.Managed);
        var options = new ObjectLoadOptions { ProgramFilter = p => p.Name == "task_checked" };
        var e = Assert.Throws<BpfException>(() => BpfCollection.Load(b.Backend, Spec(), options).Dispose());
        Assert.Equal(Errno.EINVAL, e.Errno);
        Assert.Contains("bpf_iter_task is not an iterator target this runtime has", e.Message);
    }
}
