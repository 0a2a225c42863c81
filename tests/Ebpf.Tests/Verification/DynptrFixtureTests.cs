using Ebpf.Collections;
using Ebpf.Elf;
using Ebpf.Linux;
using Ebpf.Loading;
using Ebpf.Verification;

namespace Ebpf.Tests.Verification;

/// <summary>
/// Local and ring buffer dynptrs (tests/fixtures/verifier/iterdyn/dynptrs.bpf.c, clang-19): the dynptr helpers and
/// kfuncs, their slices, and the rules on dynptr stack slots. Each program's verdict and key message are ours; the
/// kernel theory loads the same program into the running kernel and requires the same verdict and, for a rejection,
/// the same instruction and last message line. The accepted programs run on both backends (interpreter and JIT) and
/// must return what the kernel's BPF_PROG_TEST_RUN returns.
/// </summary>
public class DynptrFixtureTests
{
    private const string File = "verifier/iterdyn/dynptrs.bpf.o";

    /// <summary>(program, null when accepted, else a line our log must contain).</summary>
    public static TheoryData<string, string?> Programs => new()
    {
        { "local_rw", null },
        { "local_errors", null },
        { "ringbuf_dynptr", null },
        { "kfuncs", null },
        { "ringbuf_leak", "Unreleased reference id=2 alloc_insn=6" },
        { "ringbuf_overwrite", "cannot overwrite referenced dynptr" },
        { "local_overwritten", "Expected an initialized dynptr as arg #2" },
        { "slice_after_overwrite", "R6 invalid mem access 'scalar'" },
        { "slice_after_submit", "R6 invalid mem access 'scalar'" },
        { "read_dynptr_slot", "invalid read from stack off -16+0 size 8" },
        { "submit_local", "arg 1 is an unacquired reference" },
        { "read_uninit", "Expected an initialized dynptr as arg #2" },
        { "slice_unchecked", "R0 invalid mem access 'mem_or_null'" },
        { "slice_out_of_bounds", "invalid access to memory, mem_size=4 off=4 size=1" },
        { "slice_write", "R0 cannot write into rdonly_mem" },
        { "helper_writes_dynptr", "potential write to dynptr at off=-16 disallowed" },
        { "misaligned", "cannot pass in dynptr at an offset=-20" },
        { "slice_rdwr_socket", "bpf_dynptr_slice_rdwr() is not allowed" },
        { "slice_rdwr_tc", "bpf_dynptr_slice_rdwr() is not allowed" },
        { "clone_after_submit", "Expected an initialized dynptr as arg #0" },
        { "discard_wrong_type", "arg 1 is an unacquired reference" },
    };

    private static readonly VerifierFixture Fixture = new(File);

    private static VerificationResult Ours(string program, out ProgramSpec prog, out ObjectSpec obj) =>
        Fixture.Ours(program, out prog, out obj);

    [Theory]
    [MemberData(nameof(Programs))]
    public void Our_verdict_and_message(string program, string? expected)
    {
        var result = Ours(program, out _, out _);
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
        var ours = Ours(program, out var prog, out var obj);
        using var bpffs = new TemporaryBpfFs();
        var (accepted, log) = Fixture.Kernel(obj, prog, pinRoot: bpffs.Path);
        Assert.True(accepted == ours.Accepted, $"{program}: kernel accepted={accepted}, ours={ours.Accepted}\n{log}\n--- ours ---\n{ours.Log}");
        if (!accepted)
        {
            Assert.True(Rejection.OfKernelLog(log) == Rejection.Of(ours), $"{program}: kernel {Rejection.OfKernelLog(log)}, ours {Rejection.Of(ours)}\n{log}\n--- ours ---\n{ours.Log}");
            // Every line the kernel printed for the rejection (after the last instruction) is in our log.
            string kernelTail = log.Split('\n').Reverse().SkipWhile(l => l.Length == 0 || l.StartsWith("processed ", StringComparison.Ordinal))
                .TakeWhile(l => !char.IsDigit(l.FirstOrDefault()) && !l.StartsWith(';')).FirstOrDefault() ?? "";
            Assert.Contains(kernelTail.Trim(), ours.Log);
        }
    }

    public static TheoryData<string> RunPrograms => new() { "local_rw", "local_errors", "ringbuf_dynptr", "kfuncs" };

    private static uint RunOn(string backend, bool jit, string program)
    {
        using var b = TestBackend.Create(backend);
        if (b.Runtime is { } rt) rt.JitEnabled = jit;
        using var c = b.LoadFixture(File, new ObjectLoadOptions { ProgramFilter = p => p.Name == program });
        return c.Programs[program].TestRun(new TestRunOptions { DataIn = Ebpf.Tests.Linux.KernelRequirement.Packet(64), DataSizeOut = 0 }).ReturnValue;
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

    /// <summary>The helpers' error codes worked out by hand (no kernel needed): -EINVAL for flags and NULL dynptrs,
    /// -E2BIG past the end; and the ring buffer's: a reservation larger than the ring is a NULL dynptr (-EINVAL).</summary>
    [Theory]
    [InlineData("local_errors", 22u | (22u << 8) | (7u << 16) | (22u << 24))]
    [InlineData("ringbuf_dynptr", 22u << 8)]
    public void Managed_results(string program, uint expected)
    {
        Assert.Equal(expected, RunOn(Backends.Managed, false, program));
        Assert.Equal(expected, RunOn(Backends.Managed, true, program));
    }
}
