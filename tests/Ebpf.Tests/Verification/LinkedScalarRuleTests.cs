using Ebpf.Linux;
using Ebpf.Verification;

namespace Ebpf.Tests.Verification;

/// <summary>
/// Linked scalars (fixtures/verifier/misc17/linked32.bpf.c): copies share an id and a 64-bit `rX += K` keeps the
/// link with its delta, so a branch on the copy narrows the original; the live 6.18 kernel also links a 32-bit add
/// (`w1 = w0; w1 += K`, BPF_ADD_CONST32) when the copy fit in 32 bits, the synced value zero-extended. Our verdict and message, and the live kernel's (its log must hold the same line).
/// </summary>
public class LinkedScalarRuleTests
{
    /// <summary>(program, the line our log must hold, or null for accepted).</summary>
    private static readonly (string Program, string? Expected)[] Rows =
    [
        ("linked64_copy", null),
        ("linked64_add", null),
        ("linked32_copy", null),
        ("linked32_copy_cmp64", null),
        ("linked32_add", null),
        ("linked64_copy_add32", null),
        ("linked32_sub", null),
        ("linked32_add_wraps", "invalid unbounded variable-offset write to stack R2"),
        ("linked32_add_wide_source", null),
        ("linked64_add_cmp32", null),
        ("linked32_sync_wrapped_64cmp", null),
        ("linked32_copy_follows_base", null),
    ];

    public static TheoryData<string, string?> Programs => new(Rows);

    private static readonly VerifierFixture Fixture = new("verifier/misc17/linked32.bpf.o");

    [Fact]
    public void Every_program_of_the_fixture_is_listed() => Fixture.AssertEveryProgramListed(Rows.Select(row => row.Program));

    [Theory]
    [MemberData(nameof(Programs))]
    public void Verdict_and_message(string program, string? expected) => Fixture.AssertOurs(program, expected, Errno.EACCES);

    [Theory]
    [MemberData(nameof(Programs))]
    public void Kernel_agrees(string program, string? expected) => Fixture.AssertKernelAgrees(program, expected);
}
