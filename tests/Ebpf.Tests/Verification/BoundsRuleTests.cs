using Ebpf.Elf;
using Ebpf.Linux;
using Ebpf.Loading;
using Ebpf.Verification;

namespace Ebpf.Tests.Verification;

/// <summary>
/// The scalar-bounds rules of issue 17 (fixtures/verifier/v17bounds/bounds_rules.bpf.c): the path split for AND/OR of a
/// [-1, 0] operand with a constant, 32-bit arithmetic shifts, signed/unsigned ranges crossing the sign boundary (64 and
/// 32 bits), the id a 32-bit move keeps, sign-extending moves, scalars linked through <c>rX += K</c> (BPF_ADD_CONST),
/// check_reg_sane_offset on the pointer operand, a tail call in a subprogram returning to its caller. Our verdict is checked here; against the live kernel,
/// the verdict must agree, the kernel's last log line must be in our log, and where a row names an instruction, the
/// state line the kernel prints after it (log level 2) must be in our log too.
/// </summary>
public class BoundsRuleTests
{
    /// <summary>(program, our rejection message or null for accepted, the instruction whose state line is compared or null).</summary>
    private static readonly (string Program, string? Expected, string? StateOf)[] Rows =
    [
        ("and32_fork_dead_branch", null, "3: (54) w2 &= -203"),
        ("or64_fork_dead_branch", null, "4: (47) r2 |= 7"),
        ("and32_fork_zero_path_checked", "frame pointer is read only", null),
        ("or32_fork_zero_path_checked", "frame pointer is read only", null),
        ("arsh32_bounds", null, "3: (c4) w1 s>>= 4"),
        ("cross_sign_positive_overlap", null, "4: (2d) if r0 > r1"),
        ("cross_sign_two_overlaps", "frame pointer is read only", "4: (2d) if r0 > r1"),
        ("cross_sign_32_negative_overlap", null, "2: (66) if w0 s> 0x1"),
        ("mov32_keeps_id", null, "3: (bc) w3 = w2"),
        ("mov32_wide_source_no_id", "frame pointer is read only", null),
        ("movsx32_negative_range", null, "4: (bc) w7 = (s8)w3"),
        ("movsx64_negative_range", null, "4: (bf) r7 = (s16)r3"),
        ("movsx32_mixed_signs", "frame pointer is read only", "3: (bc) w7 = (s8)w3"),
        ("linked_add_const", null, "3: (07) r1 += 16"),
        ("linked_add_const_twice", "frame pointer is read only", "4: (07) r1 += 1"),
        ("linked_add_negative_const", null, "4: (07) r1 += -16"),
        ("linked_sub_const", null, "3: (17) r1 -= 16"),
        ("linked_add_wide_const", "frame pointer is read only", null),
        ("map_value_offset_too_large", "map_value pointer offset 1073741822 is not allowed", null),
        ("tail_call_in_subprog_skips_write", "invalid read from stack R2 off=-600 size=8", null),
    ];

    public static TheoryData<string, string?, string?> Programs => new(Rows);

    private static readonly VerifierFixture Fixture = new("verifier/v17bounds/bounds_rules.bpf.o");

    private static VerificationResult Ours(string program, out ProgramSpec prog, out ObjectSpec obj) =>
        Fixture.Ours(program, out prog, out obj, logLevel: 2);

    [Fact]
    public void Every_program_of_the_fixture_is_listed()
    {
        var listed = Rows.Select(row => row.Program).Order(StringComparer.Ordinal);
        var inObject = Fixture.ProgramNames;
        Assert.Equal(inObject, listed);
    }

    [Theory]
    [MemberData(nameof(Programs))]
    public void Verdict_and_message(string program, string? expected, string? stateOf)
    {
        _ = stateOf;
        var result = Ours(program, out _, out _);
        if (expected is null)
        {
            Assert.True(result.Accepted, $"{result.Error}\n{result.Log}");
            return;
        }
        Assert.False(result.Accepted, result.Log);
        Assert.Contains(expected, result.Log, StringComparison.Ordinal);
    }

    [Theory]
    [MemberData(nameof(Programs))]
    public void Kernel_agrees(string program, string? expected, string? stateOf)
    {
        var ours = Ours(program, out var prog, out var obj);
        prog.Flags |= (Ebpf.Loading.ProgramLoadFlags)(1u << 7); // BPF_F_TEST_REG_INVARIANTS: the kernel checks its own bounds too
        var (kernelAccepted, log) = Fixture.Kernel(obj, prog, logLevel: 2);
        Assert.True(ours.Accepted == kernelAccepted, $"kernel accepted={kernelAccepted}\n{log}\n--- ours ---\n{ours.Log}");
        Assert.Equal(expected is null, kernelAccepted);
        if (!kernelAccepted)
        {
            string last = LastMessage(log);
            Assert.Contains(last, ours.Log, StringComparison.Ordinal);
        }
        if (stateOf is not null)
        {
            string kernelLine = log.Split('\n').FirstOrDefault(l => l.StartsWith(stateOf, StringComparison.Ordinal))
                ?? throw new InvalidOperationException($"the kernel's log has no line for \"{stateOf}\"\n{log}");
            Assert.True(ours.Log.Contains(kernelLine.TrimEnd(), StringComparison.Ordinal),
                $"the kernel's state line \"{kernelLine}\" is not in our log\n{ours.Log}");
        }
    }

    /// <summary>The kernel's rejection: the last line before the "processed N insns" statistics.</summary>
    private static string LastMessage(string log)
    {
        var lines = log.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        int stats = Array.FindLastIndex(lines, l => l.StartsWith("processed ", StringComparison.Ordinal));
        return (stats > 0 ? lines[stats - 1] : lines[^1]).Trim();
    }
}
