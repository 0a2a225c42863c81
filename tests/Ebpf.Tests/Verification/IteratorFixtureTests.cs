using Ebpf.Collections;
using Ebpf.Elf;
using Ebpf.Linux;
using Ebpf.Loading;
using Ebpf.Verification;

namespace Ebpf.Tests.Verification;

/// <summary>
/// Open-coded iterators (tests/fixtures/verifier/iterdyn/iters.bpf.c, clang-19): loops the verifier proves through
/// iterator convergence, and the rules on iterator stack slots. Each program's verdict and key message are ours; the
/// kernel theory loads the same program into the running kernel and requires the same verdict and, for a rejection,
/// the same instruction and last message line. The accepted programs run on both backends (interpreter and JIT) and
/// must return what the kernel's BPF_PROG_TEST_RUN returns.
/// </summary>
public class IteratorFixtureTests
{
    private const string File = "verifier/iterdyn/iters.bpf.o";

    /// <summary>(program, null when accepted, else a line our log must contain).</summary>
    public static TheoryData<string, string?> Programs => new()
    {
        { "num_sum", null },
        { "num_nested", null },
        { "num_indexes_array", null },
        { "num_bad_ranges", null },
        { "bits_one_word", null },
        { "bits_words", null },
        { "bits_errors", null },
        { "index_out_of_bounds", null },
        { "leak", "Unreleased reference id=1 alloc_insn=4" },
        { "double_destroy", "expected an initialized iter_num as arg #0" },
        { "double_new", "expected uninitialized iter_num as arg #0" },
        { "next_uninit", "expected an initialized iter_num as arg #0" },
        { "read_state", "invalid read from stack off -16+0 size 8" },
        { "overwritten", "expected an initialized iter_num as arg #0" },
        { "not_on_stack", "arg#0 expected pointer to an iterator on stack" },
        { "misaligned", "cannot pass in iter at an offset=-12" },
        { "element_after_destroy", "R6 invalid mem access 'scalar'" },
        { "element_write", "R0 cannot write into rdonly_mem" },
        { "element_unchecked", "R0 invalid mem access 'scalar'" },
        { "counter_grows", "invalid read from stack off -8+0 size 1" },
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

    public static TheoryData<string> RunPrograms => new()
    {
        "num_sum", "num_nested", "num_indexes_array", "num_bad_ranges", "bits_one_word", "bits_words", "bits_errors", "index_out_of_bounds",
    };

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

    /// <summary>The iterators' results worked out by hand (no kernel needed): nested ranges, the error codes of
    /// invalid ranges (-EINVAL, -E2BIG) and of invalid bit sources.</summary>
    [Theory]
    [InlineData("num_nested", 74u)]
    [InlineData("num_bad_ranges", (22u << 8) | (7u << 16))]
    [InlineData("bits_errors", (22u << 8) | (22u << 16) | (7u << 24))]
    public void Managed_results(string program, uint expected)
    {
        Assert.Equal(expected, RunOn(Backends.Managed, false, program));
        Assert.Equal(expected, RunOn(Backends.Managed, true, program));
    }
}
