using Ebpf.Elf;
using Ebpf.Linux;
using Ebpf.Loading;
using Ebpf.Verification;

namespace Ebpf.Tests.Verification;

/// <summary>
/// Issue 17's packet / context / program-type rules (fixtures/verifier/v17pkt/pkt_rules.bpf.c): a static subprogram
/// returning with R0 unwritten (prepare_func_exit does not read it), netfilter's <c>bpf_nf_ctx</c> (typed kernel
/// pointers, read only), subprograms holding a tail call or LD_ABS that do not return an integer, the exit-code message of an unbounded R0 and tail calls through a map that is not a prog
/// array. Our verdict and message are checked, and the same against the live kernel where bpf(2) is usable.
/// </summary>
public class PacketContextRuleTests
{
    /// <summary>(program, the lines the log must hold in order, or null for accepted).</summary>
    private static readonly (string Program, string? Expected)[] Rows =
    [
        ("subprog_r0_unset_then_set", null),
        ("subprog_r0_unset_returned", "R0 !read_ok"),
        ("subprog_tail_call", null),
        ("subprog_tail_call_void", "tail_call is only allowed in functions that return 'int'."),
        ("subprog_ld_abs_void", "LD_ABS is only allowed in functions that return 'int'."),
        ("tail_call_array_map", "expected prog array map for tail call"),
        ("sock_unbounded_return", "At program exit the register R0 has unknown scalar value should have been in [0, 1]"),
        ("ld_abs_failure_returns_zero", "R9 !read_ok"),
        ("ld_abs_both_returns_safe", null),
        // 6.18's own verdict (newer kernels say "cannot use BPF_LD_[ABS|IND] within callback").
        ("ld_abs_in_callback", "verifier bug: callback unexpected regs 1"),
        ("null_check_zero_register", "R0 invalid mem access 'map_value_or_null'"),
        ("null_check_zero_register_left", "R0 invalid mem access 'map_value_or_null'"),
        ("equal_pointers_jne_fallthrough", null),
        ("equal_pointers_jeq_taken", null),
        ("unequal_pointers_jne_taken", "R7 invalid mem access 'map_value_or_null'"),
        ("nf_read_state_hook", null),
        ("nf_read_skb", null),
        ("nf_narrow_state", "invalid bpf_context access off=0 size=4"),
        ("nf_past_ctx", "invalid bpf_context access off=16 size=8"),
        ("nf_write_ctx", "invalid bpf_context access off=8 size=8"),
        ("nf_write_through_state", "only read is supported"),
        ("nf_return_state", "At program exit the register R0 is not a known value"),
    ];

    public static TheoryData<string, string?> Programs => new(Rows);

    private static readonly VerifierFixture Fixture = new("verifier/v17pkt/pkt_rules.bpf.o");

    private static VerificationResult Ours(string program, out ProgramSpec prog, out ObjectSpec obj) =>
        Fixture.Ours(program, out prog, out obj);

    [Fact]
    public void Every_program_of_the_fixture_is_listed()
    {
        var listed = Rows.Select(row => row.Program).Order(StringComparer.Ordinal);
        var inObject = Fixture.ProgramNames;
        Assert.Equal(inObject, listed);
    }

    [Theory]
    [MemberData(nameof(Programs))]
    public void Verdict_and_message(string program, string? expected)
    {
        var result = Ours(program, out _, out _);
        if (expected is null)
        {
            Assert.True(result.Accepted, $"{result.Error}\n{result.Log}");
            return;
        }
        Assert.False(result.Accepted, result.Log);
        VerifierFixture.AssertLinesInOrder(expected, result.Log, "ours");
    }

    [Theory]
    [MemberData(nameof(Programs))]
    public void Kernel_agrees(string program, string? expected)
    {
        var ours = Ours(program, out var prog, out var obj);
        var (kernelAccepted, log) = Fixture.Kernel(obj, prog);
        Assert.True(ours.Accepted == kernelAccepted, $"kernel accepted={kernelAccepted}\n{log}\n--- ours ---\n{ours.Log}");
        Assert.True((expected is null) == kernelAccepted, $"kernel accepted={kernelAccepted}, expected {(expected is null ? "acceptance" : expected)}\n{log}");
        if (expected is not null) VerifierFixture.AssertLinesInOrder(expected, log, "the kernel");
    }
}
