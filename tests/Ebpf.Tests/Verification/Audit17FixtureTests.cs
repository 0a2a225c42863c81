using Ebpf.Elf;
using Ebpf.Linux;
using Ebpf.Loading;
using Ebpf.Verification;

namespace Ebpf.Tests.Verification;

/// <summary>
/// Issue 17's bullets that no other fixture compared with the live kernel (tests/fixtures/verifier/COVERAGE.md maps
/// every bullet to its fixture): fixtures/verifier/audit17/audit_rules.bpf.c, ranges after comparisons of derived
/// packet pointers, packet pointers after helpers that change packet data, a division by zero in a callback, the
/// find_vma callback's return range, write-only maps read directly, the combined stack of a call chain rounded as with
/// the JIT requested, sockhash and bpf_sk_lookup_tcp references, the sk_lookup context, packet pointers after a tail
/// call made directly, from a static subprogram and inside it, from a callback, a misaligned stack store; and two checks on other
/// fixtures: may_goto as the kernel prints it at log level 2, and misaligned accesses even with BPF_F_ANY_ALIGNMENT. Our verdict and log are checked here, and against
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
        ("combined_empty_frames_free", null),
        ("combined_rounded_to_16", "combined stack size of 2 calls is 528. Too large"),
        ("sockhash_lookup_leak", "Unreleased reference id=2 alloc_insn=6\nBPF_EXIT instruction in main prog would lead to reference leak"),
        ("sockhash_lookup_release", null),
        ("sk_lookup_tcp_leak", "Unreleased reference id=\nBPF_EXIT instruction in main prog would lead to reference leak"),
        ("sk_lookup_tcp_release", null),
        ("sk_lookup_ctx_write", "invalid bpf_context access off=8 size=4"),
        ("sk_lookup_sk_unchecked", "R2 invalid mem access 'sock_or_null'"),
        ("sk_lookup_sk_checked", null),
        ("reuseport_select_sockhash", null),
        ("packet_after_direct_tail_call", null),
        ("packet_after_static_tail_call", "R6 invalid mem access 'scalar'"),
        ("subprog_packet_after_own_tail_call", null),
        ("packet_after_callback_tail_call", "verifier bug: callback unexpected regs 1"),
        ("misaligned_stack_store", "misaligned stack access off 0+0+-12 size 8"),
        ("spin_lock_map_in_socket_filter", "socket filter progs cannot use bpf_spin_lock yet"),
        ("spin_lock_map_in_kprobe", "tracing progs cannot use bpf_spin_lock yet"),
        ("spin_lock_on_context", "R1 type=ctx expected=map_value, ptr_"),
    ];

    public static TheoryData<string, string?> Programs => new(Rows);

    private static readonly VerifierFixture Fixture = new("verifier/audit17/audit_rules.bpf.o");

    [Fact]
    public void Every_program_of_the_fixture_is_listed() => Fixture.AssertEveryProgramListed(Rows.Select(row => row.Program));

    [Theory]
    [MemberData(nameof(Programs))]
    public void Verdict_and_message(string program, string? expected) => Fixture.AssertOurs(program, expected);

    [Theory]
    [MemberData(nameof(Programs))]
    public void Kernel_agrees(string program, string? expected) => Fixture.AssertKernelAgrees(program, expected);

    /// <summary>may_goto printed at log level 2 (`prog verify --log-level 2` once aborted formatting it): every line
    /// of the kernel's log that shows a may_goto instruction is in ours.</summary>
    [Fact]
    public void May_goto_lines_at_log_level_2_are_the_kernels()
    {
        var mayGoto = new VerifierFixture("verifier/ver17a/may_goto.bpf.o");
        var ours = mayGoto.Ours("counted_sum", out var prog, out var obj, logLevel: 2);
        Assert.True(ours.Accepted, ours.Log);
        var (accepted, log) = mayGoto.Kernel(obj, prog, logLevel: 2);
        Assert.True(accepted, log);
        // The instruction lines ("6: (e5) may_goto pc+5"), not 6.18's live-registers table, which we do not print.
        var lines = log.Split('\n').Where(l => System.Text.RegularExpressions.Regex.IsMatch(l, @"^\d+: \(e5\) may_goto"))
            .Select(l => l.Split(" ;")[0].TrimEnd()).Distinct().ToList();
        Assert.NotEmpty(lines);
        foreach (var line in lines) Assert.Contains(line, ours.Log);
    }

    /// <summary>BPF_F_ANY_ALIGNMENT lifts neither an atomic's alignment (strict_alignment_once) nor a stack access's
    /// (check_ptr_alignment: always strict on the stack): the kernel refuses both with the flag set, and so do we.</summary>
    [Theory]
    [InlineData("verifier/ver17b/kernel_rules.bpf.o", "atomic_misaligned_value", "misaligned value access off 0+0+1 size 4")]
    [InlineData("verifier/audit17/audit_rules.bpf.o", "misaligned_stack_store", "misaligned stack access off 0+0+-12 size 8")]
    public void Misaligned_accesses_are_refused_even_with_any_alignment(string fixture, string program, string expected)
    {
        const uint AnyAlignment = 1u << 1; // uapi BPF_F_ANY_ALIGNMENT (ProgramLoadFlags names only libbpf's section flags)
        var rules = new VerifierFixture(fixture);
        var ours = rules.Ours(program, out var prog, out var obj);
        Assert.False(ours.Accepted, ours.Log);
        Assert.Contains(expected, ours.Log);
        prog.Flags |= (Ebpf.Loading.ProgramLoadFlags)AnyAlignment;
        var (accepted, log) = rules.Kernel(obj, prog);
        Assert.False(accepted, log);
        Assert.Contains(expected, log);
    }
}
