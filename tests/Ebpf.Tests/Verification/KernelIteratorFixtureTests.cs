using Ebpf.Collections;
using Ebpf.Linux;
using Ebpf.Loading;

namespace Ebpf.Tests.Verification;

/// <summary>
/// Open-coded iterators over kernel objects (tests/fixtures/verifier/kiters/kernel_iters.bpf.c, clang-19): task, css,
/// css_task, task_vma, kmem_cache and dmabuf walks in the program types that may use them, the RCU rules of the
/// KF_RCU_PROTECTED families, css_task's program allowlist, the trust of the elements and of the pointers walked from
/// them (element_trust.bpf.c), leaks and misused iterators.
/// Each program's verdict and key line are ours; the kernel theory loads it into the running kernel and requires the
/// same verdict, instruction and the kernel's last line in our log. The managed runtime refuses these programs at load
/// (it has no kernel objects); the Linux backend runs the task walk in the kernel.
/// </summary>
public class KernelIteratorFixtureTests
{
    private const string File = "verifier/kiters/kernel_iters.bpf.o";

    /// <summary>The elements given to a helper (a separate object: its task-storage map exists only in the kernel).</summary>
    private const string ElementFile = "verifier/kiters/element_trust.bpf.o";

    private static readonly VerifierFixture Objects = new(File);
    private static readonly VerifierFixture Elements = new(ElementFile);

    /// <summary>The fixture object holding <paramref name="program"/>.</summary>
    private static VerifierFixture Of(string program) => Elements.ProgramNames.Contains(program) ? Elements : Objects;

    /// <summary>(program, null when accepted, else a line our log must contain).</summary>
    public static TheoryData<string, string?> Programs => new()
    {
        { "task_walk_sleepable", null },
        { "task_flag_errors", null },
        { "task_walk_raw_tp", null },
        { "task_threads_of_current", null },
        { "task_vma_walk", null },
        { "css_task_sleepable", null },
        { "css_walk", null },
        { "kmem_cache_walk", null },
        { "task_acquire_element", null },
        { "task_vma_of_element", null },
        { "css_task_in_iter", null },
        { "task_walk_tc", null },
        { "css_flag_errors", null },
        { "dmabuf_walk", null },
        { "task_element_to_helper", null },
        { "css_task_element_to_helper", "R2 type=untrusted_ptr_ expected=ptr_, trusted_ptr_, rcu_ptr_" },
        { "untrusted_walk_acquire", "R1 must be a rcu pointer" },
        { "untrusted_walk_to_helper", "R2 type=untrusted_ptr_ expected=ptr_, trusted_ptr_, rcu_ptr_" },
        { "rcu_walk_not_trusted", "R2 must be referenced or trusted" },
        { "rcu_walk_to_rcu_kfuncs", null },
        { "unlisted_walk_to_helper", "R2 type=untrusted_ptr_ expected=ptr_, trusted_ptr_, rcu_ptr_" },
        { "css_walk_cgroup", null },
        { "rcu_walk_after_unlock", "R1 must be a rcu pointer" },
        { "untrusted_walk_read", null },
        { "ctx_walk_acquire_parent", "R1 must be a rcu pointer" },
        { "ctx_walk_iter_new_parent", "R2 must be referenced or trusted" },
        { "ctx_walk_iter_new_leader", "R2 must be referenced or trusted" },
        { "task_nested_element", "R2 must be referenced or trusted" },
        { "css_task_element_acquired", "R1 must be a rcu pointer" },
        { "task_element_after_unlock", "R1 must be a rcu pointer" },
        { "task_unlock_non_sleepable", "expected an RCU CS when using bpf_iter_task_next" },
        { "task_without_rcu", "kernel func bpf_iter_task_new requires RCU critical section protection" },
        { "task_rcu_gap", "expected an RCU CS when using bpf_iter_task_next" },
        { "task_rcu_gap_pruning", "expected an RCU CS when using bpf_iter_task_next" },
        { "css_without_rcu", "kernel func bpf_iter_css_new requires RCU critical section protection" },
        { "css_task_not_sleepable", "css_task_iter is only allowed in bpf_lsm, bpf_iter and sleepable progs" },
        { "kmem_cache_not_sleepable", "program must be sleepable to call sleepable kfunc bpf_iter_kmem_cache_new" },
        { "dmabuf_not_sleepable", "program must be sleepable to call sleepable kfunc bpf_iter_dmabuf_new" },
        { "task_leak", "Unreleased reference id=1 alloc_insn=5" },
        { "task_element_unchecked", "R0 invalid mem access 'scalar'" },
        { "task_vma_element_unchecked", "R0 invalid mem access 'scalar'" },
        { "task_vma_null_task", "Possibly NULL pointer passed to trusted arg1" },
        { "task_next_uninit", "expected an initialized iter_task as arg #0" },
        { "task_next_null", "Possibly NULL pointer passed to trusted arg0" },
        { "task_nullable_unchecked", "R2 must be referenced or trusted" },
        { "task_nullable_acquired", "arg#1 is ptr_or_null_ expected ptr_ or socket" },
        { "num_next_null", "Possibly NULL pointer passed to trusted arg0" },
        { "task_next_ctx", "arg#0 expected pointer to an iterator on stack" },
        { "task_as_css", "expected an initialized iter_css as arg #0" },
    };

    [Fact]
    public void Every_program_of_the_fixture_is_listed()
    {
        var listed = Programs.Select(row => row.Data.Item1).Order(StringComparer.Ordinal);
        Assert.Equal(Objects.ProgramNames.Concat(Elements.ProgramNames).Order(StringComparer.Ordinal), listed);
    }

    [Theory]
    [MemberData(nameof(Programs))]
    public void Our_verdict_and_message(string program, string? expected)
    {
        var result = Of(program).Ours(program, out _, out _);
        if (expected is null) Assert.True(result.Accepted, $"{result.Error}\n{result.Log}");
        else
        {
            Assert.False(result.Accepted, $"{program}: accepted\n{result.Log}");
            Assert.Contains(expected, result.Log);
        }
    }

    [Theory]
    [MemberData(nameof(Programs))]
    public void The_kernel_agrees(string program, string? expected)
    {
        VerifierFixture.RequireKernel();
        _ = expected;
        var fixture = Of(program);
        var ours = fixture.Ours(program, out var prog, out var obj);
        using var bpffs = new TemporaryBpfFs();
        var (accepted, log) = fixture.Kernel(obj, prog, pinRoot: bpffs.Path);
        Assert.True(accepted == ours.Accepted, $"{program}: kernel accepted={accepted}, ours={ours.Accepted}\n{log}\n--- ours ---\n{ours.Log}");
        if (!accepted)
        {
            Assert.True(Rejection.OfKernelLog(log) == Rejection.Of(ours), $"{program}: kernel {Rejection.OfKernelLog(log)}, ours {Rejection.Of(ours)}\n{log}\n--- ours ---\n{ours.Log}");
            // Every line the kernel printed for the rejection (after the last instruction) is in our log, in order.
            var kernelTail = log.Split('\n').Reverse().SkipWhile(l => l.Length == 0 || l.StartsWith("processed ", StringComparison.Ordinal))
                .TakeWhile(l => !char.IsDigit(l.FirstOrDefault()) && !l.StartsWith(';')).Reverse().Select(l => l.Trim()).ToList();
            Assert.NotEmpty(kernelTail);
            VerifierFixture.AssertLinesInOrder(string.Join('\n', kernelTail), ours.Log, program);
        }
    }

    /// <summary>The element's type as the kernel prints it (log level 2): an RCU-protected iterator's is
    /// <c>rcu_ptr_</c>, the others' <c>untrusted_ptr_</c>; both logs show it.</summary>
    [Theory]
    [InlineData("task_walk_raw_tp", "R0=rcu_ptr_task_struct(id=")]
    [InlineData("css_walk", "R0=rcu_ptr_cgroup_subsys_state(id=")]
    [InlineData("task_vma_walk", "R0=untrusted_ptr_vm_area_struct(id=")]
    [InlineData("kmem_cache_walk", "R0=untrusted_ptr_kmem_cache(id=")]
    [InlineData("dmabuf_walk", "R0=untrusted_ptr_dma_buf(id=")]
    [InlineData("css_task_sleepable", "R0=untrusted_ptr_task_struct(id=")]
    public void The_element_prints_as_the_kernels(string program, string element)
    {
        VerifierFixture.RequireKernel();
        var ours = Objects.Ours(program, out var prog, out var obj, logLevel: 2);
        Assert.True(ours.Accepted, ours.Error);
        Assert.Contains(element, ours.Log);
        using var bpffs = new TemporaryBpfFs();
        var (accepted, log) = Objects.Kernel(obj, prog, logLevel: 2, pinRoot: bpffs.Path);
        Assert.True(accepted, log);
        Assert.Contains(element, log);
    }

    /// <summary>The managed runtime has no kernel objects: each family is refused at load (interpreter and JIT
    /// alike, before either runs), ENOTSUPP naming the iterator, never run on made-up objects.</summary>
    [Theory]
    [InlineData("task_walk_sleepable", "bpf_iter_task (bpf_iter_task_new)", false)]
    [InlineData("task_walk_raw_tp", "bpf_iter_task (bpf_iter_task_new)", true)]
    [InlineData("css_walk", "bpf_iter_css (bpf_iter_css_new)", false)]
    [InlineData("css_task_sleepable", "bpf_iter_css_task (bpf_iter_css_task_new)", true)]
    [InlineData("task_vma_walk", "bpf_iter_task_vma (bpf_iter_task_vma_new)", false)]
    [InlineData("kmem_cache_walk", "bpf_iter_kmem_cache (bpf_iter_kmem_cache_new)", true)]
    [InlineData("dmabuf_walk", "bpf_iter_dmabuf (bpf_iter_dmabuf_new)", false)]
    public void The_managed_runtime_refuses_them_at_load(string program, string iterator, bool jit)
    {
        using var b = TestBackend.Create(Backends.Managed);
        b.Runtime!.JitEnabled = jit;
        var e = Assert.Throws<BpfException>(() => b.LoadFixture(File, new ObjectLoadOptions { ProgramFilter = p => p.Name == program }));
        Assert.True(e.Errno == Errno.ENOTSUPP, $"{e.Errno}: {e.Message}");
        Assert.Contains($"open-coded iterator {iterator}", e.Message);
        Assert.Contains("Linux backend", e.Message);
    }

    /// <summary>The Linux backend's route: the kernel walks every process (the test's own among them, exactly once), and
    /// bpf_iter_task_new / bpf_iter_css_new / bpf_iter_css_task_new refuse the flags and orders they do not know.</summary>
    [Fact]
    public void The_linux_backend_walks_the_tasks_in_the_kernel()
    {
        VerifierFixture.RequireKernel();
        using var b = TestBackend.Create(Backends.Linux);
        using var c = b.LoadFixture(File, new ObjectLoadOptions { ProgramFilter = p => p.Name is "task_walk_sleepable" or "task_flag_errors" or "css_flag_errors" });
        var elf = Ebpf.Elf.ElfFile.Open(SharedData.Fixture(File));
        int Offset(string name) => (int)elf.Symbols.First(s => s.Name == name).Value;
        var bss = c.Maps.First(kv => kv.Key.EndsWith(".bss", StringComparison.Ordinal)).Value;
        var image = new byte[bss.ValueBufferSize];
        BitConverter.GetBytes(Environment.ProcessId).CopyTo(image, Offset("target_pid"));
        bss.Update(new byte[4], image);

        uint processes = c.Programs["task_walk_sleepable"].TestRun(new TestRunOptions()).ReturnValue;
        var after = bss.Lookup(new byte[4]);
        Assert.True(processes > 1, $"{processes} processes");
        Assert.Equal((int)processes, BitConverter.ToInt32(after, Offset("procs_seen")));
        Assert.Equal(1, BitConverter.ToInt32(after, Offset("target_seen")));

        // bpf_iter_task_new: PROC_THREADS without a task and unknown flags are -EINVAL, ALL_THREADS is 0.
        uint errors = c.Programs["task_flag_errors"].TestRun(new TestRunOptions()).ReturnValue;
        Assert.Equal(22u | (22u << 8), errors);

        // bpf_iter_css_new: an unspecified order and SELF_ONLY are -EINVAL, ANCESTORS_UP is 0; bpf_iter_css_task_new:
        // THREADED without PROCS is -EINVAL.
        uint css = c.Programs["css_flag_errors"].TestRun(new TestRunOptions()).ReturnValue;
        Assert.True(css == (22u | (22u << 8) | (22u << 24)), $"css_flag_errors returned 0x{css:x8}");
    }
}
