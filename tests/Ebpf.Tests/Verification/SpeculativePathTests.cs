using Ebpf.Abi.Helpers;
using Ebpf.Collections;
using Ebpf.Linux;
using Ebpf.Loading;
using Ebpf.Verification;

namespace Ebpf.Tests.Verification;

/// <summary>
/// Speculative-path exploration without CAP_PERFMON (tests/fixtures/verifier/specpath/specpath.bpf.c, clang-19).
/// Every program there is valid at full privilege: the live kernel (as root) and our verifier both accept it, and
/// neither explores a speculative path. Without CAP_PERFMON the kernel verifies the side of a decided branch and the
/// zero-truncated side of a masked pointer add as speculative paths; this machine refuses unprivileged BPF
/// (kernel.unprivileged_bpf_disabled), so the unprivileged verdicts, barriers and messages below are the kernel
/// source's (kernel/bpf/verifier.c, 6.18: do_check's error_recoverable_with_nospec, check_cond_jmp_op's
/// sanitize_speculative_path, sanitize_ptr_alu, check_stack_write_fixed_off's nospec_result), not a live observation.
/// </summary>
public class SpeculativePathTests
{
    private const string File = "verifier/specpath/specpath.bpf.o";
    private static readonly VerifierFixture Fixture = new(File);

    /// <summary>(program, the unprivileged rejection's last line or null for accepted, barriers before instructions,
    /// barriers after stack stores) — instruction indexes within the program.</summary>
    public static TheoryData<string, string?, int[], int[]> Programs => new()
    {
        { "decided_branch_reads_clobbered_register", null, [3], [] },
        { "speculative_path_ends_after_pointer_spill", null, [], [3] },
        { "truncated_pointer_add_reads_before_value", null, [12], [1] }, // the key's store into unwritten stack: Spectre v4
        { "speculative_scalar_add_then_pointer_add", "R7 tried to add from different maps, paths or scalars, pointer arithmetic with it prohibited for !root", [19], [] },
        { "speculative_return_of_frame_pointer", null, [6], [] },
        { "real_path_return_of_frame_pointer", "R0 leaks addr as return value", [], [] },
        { "speculative_store_above_frame", null, [5], [5] },
    };

    /// <summary>Every program of the fixture: the full-privilege theory runs on each.</summary>
    public static TheoryData<string> AllPrograms
    {
        get
        {
            var all = new TheoryData<string>();
            foreach (var name in Fixture.ProgramNames) all.Add(name);
            return all;
        }
    }

    private static VerificationResult Ours(string program, HelperPrivilege privilege, int logLevel, out ProgramSpec prog, out ObjectSpec obj)
    {
        obj = ObjectSpec.Load(Fixture.Path);
        prog = obj.FindProgram(program) ?? throw new InvalidOperationException($"{program} not in specpath.bpf.o");
        return Verifier.Verify(ProgramSpecInput.Create(obj, prog, logLevel, privilege: privilege));
    }

    private static void AssertVerdict(VerificationResult result, string program, string? expected, int[] before, int[] after)
    {
        if (expected is null)
        {
            Assert.True(result.Accepted, $"{program}: {result.Error}\n{result.Log}");
            Assert.Equal(before, result.Program!.SpeculationBarriers);
            Assert.Equal(after, result.Program!.SpeculationBarriersAfter);
            return;
        }
        Assert.False(result.Accepted, $"{program} accepted without CAP_PERFMON\n{result.Log}");
        Assert.Equal(Errno.EACCES, result.Errno);
        Assert.Equal(expected, result.Error!.Split('\n')[^1]);
        Assert.Contains("\n" + expected + "\n", result.Log, StringComparison.Ordinal);
    }

    [Theory]
    [MemberData(nameof(Programs))]
    public void Without_capabilities_the_verdict_and_barriers_are_the_kernel_sources(string program, string? expected, int[] before, int[] after) =>
        AssertVerdict(Ours(program, HelperPrivilege.Unprivileged, 2, out _, out _), program, expected, before, after);

    [Theory]
    [MemberData(nameof(Programs))]
    public void CAP_BPF_without_CAP_PERFMON_still_explores_speculative_paths(string program, string? expected, int[] before, int[] after) =>
        // bypass_spec_v1 is perfmon_capable: CAP_BPF alone does not skip the simulation.
        AssertVerdict(Ours(program, HelperPrivilege.Bpf, 1, out _, out _), program, expected, before, after);

    [Theory]
    [MemberData(nameof(AllPrograms))]
    public void With_full_privilege_the_kernel_and_ours_accept_without_speculative_paths(string program)
    {
        var ours = Ours(program, HelperPrivilege.Full, 2, out var prog, out var obj);
        Assert.True(ours.Accepted, $"{program}: {ours.Error}\n{ours.Log}");
        Assert.Empty(ours.Program!.SpeculationBarriers);
        Assert.Empty(ours.Program!.SpeculationBarriersAfter);
        Assert.DoesNotContain("(speculative execution)", ours.Log, StringComparison.Ordinal);
        VerifierFixture.RequireKernel();
        using var bpffs = new TemporaryBpfFs();
        var (accepted, log) = Fixture.Kernel(obj, prog, logLevel: 2, pinRoot: bpffs.Path);
        Assert.True(accepted, $"{program}: the kernel (root) refused it\n{log}");
        Assert.DoesNotContain("(speculative execution)", log, StringComparison.Ordinal);
    }

    [Theory]
    // do_check at log level 2 prints each popped path's origin; a speculative one is marked.
    [InlineData("decided_branch_reads_clobbered_register", "from 2 to 3 (speculative execution):", "3: (61) r0 = *(u32 *)(r1 +0)", "R1 !read_ok")]
    [InlineData("truncated_pointer_add_reads_before_value", "from 11 to 12 (speculative execution):", "12: (71) r0 = *(u8 *)(r0 -4)", "invalid access to map value, value_size=8 off=-4 size=1")]
    [InlineData("speculative_return_of_frame_pointer", "from 2 to 5 (speculative execution):", "6: (95) exit", "R0 leaks addr as return value")]
    [InlineData("speculative_scalar_add_then_pointer_add", "from 16 to 18 (speculative execution):", "19: (71) r0 = *(u8 *)(r7 +0)", "R7 invalid mem access 'scalar'")]
    public void The_speculative_path_and_its_recovered_error_are_logged(string program, params string[] lines)
    {
        var result = Ours(program, HelperPrivilege.Unprivileged, 2, out _, out _);
        VerifierFixture.AssertLinesInOrder(string.Join('\n', lines), result.Log ?? "", program);
    }

    [Fact]
    public void A_barrier_after_a_pointer_spill_ends_the_speculative_path_before_the_bad_load()
    {
        var result = Ours("speculative_path_ends_after_pointer_spill", HelperPrivilege.Unprivileged, 2, out _, out _);
        Assert.Contains("from 2 to 3 (speculative execution):", result.Log, StringComparison.Ordinal);
        Assert.DoesNotContain("!read_ok", result.Log, StringComparison.Ordinal);
    }

    [Fact]
    public void Without_CAP_BPF_a_scalar_stored_to_the_stack_is_data()
    {
        // check_stack_write_fixed_off spills a scalar only for bpf_capable; check_reg_sane_offset then refuses the
        // unknown filled value (EINVAL). At full privilege the kernel and ours accept it (the theory above).
        var result = Ours("unprivileged_scalar_store_is_data", HelperPrivilege.Unprivileged, 1, out _, out _);
        Assert.False(result.Accepted, result.Log);
        Assert.Equal(Errno.EINVAL, result.Errno);
        Assert.Equal("math between fp pointer and register with unbounded min value is not allowed", result.Error);
        Assert.True(Ours("unprivileged_scalar_store_is_data", HelperPrivilege.Bpf, 1, out _, out _).Accepted);
    }

    public static TheoryData<string> AcceptedPrograms => new()
    {
        "decided_branch_reads_clobbered_register", "speculative_path_ends_after_pointer_spill",
        "truncated_pointer_add_reads_before_value", "speculative_scalar_add_then_pointer_add",
        "speculative_return_of_frame_pointer", "real_path_return_of_frame_pointer", "speculative_store_above_frame",
    };

    private static uint RunOn(string backend, bool jit, string program)
    {
        using var b = TestBackend.Create(backend);
        if (b.Runtime is { } rt) rt.JitEnabled = jit;
        using var c = b.LoadFixture(File, new ObjectLoadOptions { ProgramFilter = p => p.Name == program });
        return c.Programs[program].TestRun(new TestRunOptions { DataIn = Ebpf.Tests.Linux.KernelRequirement.Packet(64), DataSizeOut = 0 }).ReturnValue;
    }

    /// <summary>The runtime runs what the verifier accepted, speculation barriers or not: the interpreter and the JIT
    /// execute no speculative path, so a BPF_NOSPEC would be a no-op there and none is emitted.</summary>
    [Theory]
    [MemberData(nameof(AcceptedPrograms))]
    public void Programs_return_what_the_kernel_returns(string program)
    {
        if (!LinuxKernel.IsAvailable) Requirement.Missing(Requirement.Kernel, $"bpf(2) is not usable here: {LinuxKernel.UnavailableReason}");
        uint kernel = RunOn(Backends.Linux, false, program);
        Assert.Equal(kernel, RunOn(Backends.Managed, false, program));
        Assert.Equal(kernel, RunOn(Backends.Managed, true, program));
    }
}
