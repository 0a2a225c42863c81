using Ebpf.Collections;
using Ebpf.Elf;
using Ebpf.Linux;
using Ebpf.Loading;
using Ebpf.Runtime;

namespace Ebpf.Tests.Verification;

/// <summary>
/// The cpumask kfuncs and the pointer casts in the managed runtime (tests/fixtures/verifier/trusted/cpumask_run.bpf.c,
/// trusted.bpf.c): each syscall program runs in the kernel (BPF_PROG_TEST_RUN), the interpreter and the JIT, which
/// must return the same value; the casts load and run "verified, but not fully modelled" (their reads are probe loads).
/// </summary>
public class CpumaskRunTests
{
    private const string File = "verifier/trusted/cpumask_run.bpf.o";

    public static TheoryData<string> RunPrograms => new() { "set_test_weight", "test_and_set_clear", "set_algebra", "acquire_release", "populate" };

    private static uint RunOn(string backend, bool jit, string program)
    {
        using var b = TestBackend.Create(backend);
        if (b.Runtime is { } rt) rt.JitEnabled = jit;
        using var c = b.LoadFixture(File, new ObjectLoadOptions { ProgramFilter = p => p.Name == program });
        return c.Programs[program].TestRun(new TestRunOptions()).ReturnValue;
    }

    [Theory]
    [MemberData(nameof(RunPrograms))]
    public void Programs_return_what_the_kernel_returns(string program)
    {
        if (!LinuxKernel.IsAvailable) Requirement.Missing(Requirement.Kernel, $"bpf(2) is not usable here: {LinuxKernel.UnavailableReason}");
        uint kernel = RunOn(Backends.Linux, false, program);
        Assert.Equal(kernel, RunOn(Backends.Managed, false, program));
        Assert.Equal(kernel, RunOn(Backends.Managed, true, program));
    }

    /// <summary>The values worked out by hand from cpumask.c's semantics for CPUs 0 and 1 (no kernel needed).</summary>
    [Theory]
    [InlineData("test_and_set_clear", 0b10_0110u | 1u << 12)]
    [InlineData("set_algebra", 2u | 2u << 3 | 1u << 6 | 1u << 8 | 1u << 12 | 1u << 13 | 1u << 14 | 1u << 16 | 1u << 20)]
    [InlineData("acquire_release", 3u)]
    [InlineData("populate", 13u | 1u << 16)]
    public void Managed_results(string program, uint expected)
    {
        Assert.Equal(expected, RunOn(Backends.Managed, false, program));
        Assert.Equal(expected, RunOn(Backends.Managed, true, program));
    }

    /// <summary>The programs run unchecked ("verified and fully modelled": the kfuncs are the host's), and the JIT
    /// compiles every one of them.</summary>
    [Theory]
    [MemberData(nameof(RunPrograms))]
    public void Programs_are_fully_modelled_and_jit_compiled(string program)
    {
        var rt = new BpfRuntime();
        using var objects = rt.Load(ObjectSpec.Load(SharedData.Fixture(File)), new ObjectLoadOptions { ProgramFilter = p => p.Name == program });
        var prog = objects.Programs[program].Program;
        Assert.Equal(Ebpf.Execution.ExecutionMode.Unchecked, prog.ExecutionMode);
        Assert.True(prog.IsJitCompiled, prog.JitFailure ?? prog.ExecutionModeReason);
    }

    /// <summary>Every mask a program creates is freed by its last release (the runtime holds none afterwards).</summary>
    [Fact]
    public void Released_masks_are_freed()
    {
        int before = Ebpf.Runtime.Helpers.CpumaskKfuncs.LiveCount;
        foreach (var p in new[] { "set_test_weight", "set_algebra", "acquire_release" })
            RunOn(Backends.Managed, true, p);
        Assert.Equal(before, Ebpf.Runtime.Helpers.CpumaskKfuncs.LiveCount);
    }

    /// <summary>Programs running on several threads at once each get their own masks and references: every run sees
    /// its own bits, and every mask is freed once all have released it.</summary>
    [Fact]
    public void Concurrent_runs_keep_their_masks_apart()
    {
        var rt = new BpfRuntime();
        using var objects = rt.Load(ObjectSpec.Load(SharedData.Fixture(File)), new ObjectLoadOptions { ProgramFilter = p => p.Name is "acquire_release" or "set_algebra" });
        int before = Ebpf.Runtime.Helpers.CpumaskKfuncs.LiveCount;
        uint algebra = rt.TestRun(objects.Programs["set_algebra"], new TestRunOptions()).ReturnValue;
        var results = new System.Collections.Concurrent.ConcurrentBag<(string, uint)>();
        Parallel.For(0, 8, new ParallelOptions { MaxDegreeOfParallelism = 4 }, i =>
        {
            string name = i % 2 == 0 ? "acquire_release" : "set_algebra";
            for (int n = 0; n < 200; n++) results.Add((name, rt.TestRun(objects.Programs[name], new TestRunOptions()).ReturnValue));
        });
        Assert.All(results, r => Assert.Equal(r.Item1 == "acquire_release" ? 3u : algebra, r.Item2));
        Assert.Equal(before, Ebpf.Runtime.Helpers.CpumaskKfuncs.LiveCount);
    }

    /// <summary>bpf_rdonly_cast and bpf_cast_to_kern_ctx load and run; reads through their results are probe loads, so
    /// the program is verified but not fully modelled (the runtime has no kernel structs behind them).</summary>
    [Theory]
    [InlineData("kern_ctx_read")]
    public void Pointer_casts_run_as_probe_loads(string program)
    {
        var rt = new BpfRuntime();
        using var objects = rt.Load(ObjectSpec.Load(SharedData.Fixture("verifier/trusted/trusted.bpf.o")), new ObjectLoadOptions { ProgramFilter = p => p.Name == program });
        var prog = objects.Programs[program];
        Assert.Contains("kernel pointers", prog.Program.ExecutionModeReason, StringComparison.Ordinal);
        Assert.Equal(0u, rt.TestRun(prog, new TestRunOptions { DataIn = new byte[64] }).ReturnValue);
    }
}
