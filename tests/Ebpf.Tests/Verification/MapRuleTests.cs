using Ebpf.Linux;
using Ebpf.Verification;

namespace Ebpf.Tests.Verification;

/// <summary>
/// Map rules among issue 17's small bullets (fixtures/verifier/misc17/maprules.bpf.c): array lookups with a key of zeroed
/// stack bytes are never NULL, spilled constant keys (the live kernel does not elide them), too-big or unknown keys
/// and hash lookups may be NULL; bpf_get_local_storage gives cgroup
/// storage (per-CPU or not) that is never NULL and sized by its value, and takes no other map. Our verdict and
/// message, and the live kernel's (its log must hold the same line).
/// </summary>
public class MapRuleTests
{
    /// <summary>(program, the line our log must hold, or null for accepted).</summary>
    private static readonly (string Program, string? Expected)[] Rows =
    [
        ("array_key_in_range", "R0 invalid mem access 'map_value_or_null'"),
        ("array_key_spilled_64", "R0 invalid mem access 'map_value_or_null'"),
        ("array_key_zero_bytes", null),
        ("array_key_too_big", "R0 invalid mem access 'map_value_or_null'"),
        ("array_key_negative", "R0 invalid mem access 'map_value_or_null'"),
        ("percpu_array_key_in_range", null),
        ("hash_key_constant", "R0 invalid mem access 'map_value_or_null'"),
        ("array_key_unknown", "R0 invalid mem access 'map_value_or_null'"),
        ("percpu_cgroup_storage_read", null),
        ("cgroup_storage_past_value", "invalid access to map value, value_size=8 off=8 size=4"),
        ("cgroup_storage_write", null),
        ("local_storage_of_array", "cannot pass map_type 2 into func bpf_get_local_storage#81"),
    ];

    public static TheoryData<string, string?> Programs => new(Rows);

    private static readonly VerifierFixture Fixture = new("verifier/misc17/maprules.bpf.o");

    [Fact]
    public void Every_program_of_the_fixture_is_listed() => Fixture.AssertEveryProgramListed(Rows.Select(row => row.Program));

    [Theory]
    [MemberData(nameof(Programs))]
    public void Verdict_and_message(string program, string? expected) => Fixture.AssertOurs(program, expected,
        // check_map_func_compatibility refuses a wrong map with EINVAL; the access checks with EACCES.
        expected?.StartsWith("cannot pass map_type", StringComparison.Ordinal) == true ? Errno.EINVAL : Errno.EACCES);

    [Theory]
    [MemberData(nameof(Programs))]
    public void Kernel_agrees(string program, string? expected) => Fixture.AssertKernelAgrees(program, expected);
}
