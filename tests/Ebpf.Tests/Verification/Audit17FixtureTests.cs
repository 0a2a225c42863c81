using Ebpf.Elf;
using Ebpf.Linux;
using Ebpf.Loading;
using Ebpf.Verification;

namespace Ebpf.Tests.Verification;

/// <summary>
/// Issue 17's bullets that no other fixture compared with the live kernel (tests/fixtures/verifier/COVERAGE.md maps
/// every bullet to its fixture): fixtures/verifier/audit17/audit_rules.bpf.c, ranges after comparisons of derived
/// packet pointers, packet pointers after helpers that change packet data, a division by zero in a callback, the
/// find_vma callback's return range, write-only maps read directly. Our verdict and log are checked here, and against
/// the live kernel (6.18) where bpf(2) is usable: same verdict, and the kernel's log holds the same lines in order.
/// </summary>
public class Audit17FixtureTests
{
    /// <summary>(program, the lines both logs must hold in order, or null for accepted).</summary>
    private static readonly (string Program, string? Expected)[] Rows =
    [
        ("derived_range_covers_sibling", null),
        ("derived_range_sibling_past", "invalid access to packet, off=7 size=8, R5(id=0,off=7,r=14)\nR5 offset is outside of the packet"),
        ("derived_range_end_on_left", null),
        ("derived_range_wrong_branch", "invalid access to packet, off=4 size=4, R2(id=0,off=4,r=0)\nR2 offset is outside of the packet"),
        ("derived_variable_offset_checked", null),
        ("derived_variable_offset_other_id", "invalid access to packet, off=0 size=4, R2(id=0,off=0,r=0)\nR2 offset is outside of the packet"),
        ("pull_then_old_pointer", "R7 invalid mem access 'scalar'"),
        ("pull_then_reload", null),
        ("adjust_head_then_old_pointer", "R7 invalid mem access 'scalar'"),
        ("pull_then_spilled_pointer", "R7 invalid mem access 'scalar'"),
        ("div_by_zero_in_callback", "div by zero"),
        ("div_by_zero_register_in_callback", null),
        ("find_vma_callback_returns_two", "At callback return the register R0 has smin=2 smax=2 should have been in [0, 1]"),
        ("find_vma_callback_returns_zero", null),
        ("write_only_direct_read", "read from map forbidden, value_size=8 off=0 size=8"),
        ("write_only_direct_write", null),
    ];

    public static TheoryData<string, string?> Programs => new(Rows);

    private static readonly VerifierFixture Fixture = new("verifier/audit17/audit_rules.bpf.o");

    [Fact]
    public void Every_program_of_the_fixture_is_listed()
    {
        var listed = Rows.Select(row => row.Program).Order(StringComparer.Ordinal);
        Assert.Equal(Fixture.ProgramNames, listed);
    }

    [Theory]
    [MemberData(nameof(Programs))]
    public void Verdict_and_message(string program, string? expected)
    {
        var result = Fixture.Ours(program, out _, out _);
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
        var ours = Fixture.Ours(program, out var prog, out var obj);
        var (kernelAccepted, log) = Fixture.Kernel(obj, prog);
        Assert.True(ours.Accepted == kernelAccepted, $"kernel accepted={kernelAccepted}\n{log}\n--- ours ---\n{ours.Log}");
        Assert.True((expected is null) == kernelAccepted, $"kernel accepted={kernelAccepted}, expected {expected ?? "acceptance"}\n{log}");
        if (expected is not null) VerifierFixture.AssertLinesInOrder(expected, log, "the kernel");
    }
}
