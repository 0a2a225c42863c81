using Ebpf.Linux;
using Ebpf.Verification;

namespace Ebpf.Tests.Verification;

/// <summary>
/// 6.18's private stack and the stack-size rules around it (fixtures/verifier/misc17/privstack.bpf.c): perf_event
/// programs and kprobe.multi / kprobe.session programs without tail calls are held to 512 bytes per
/// subprogram, not per call chain (what the live kernel does here; plain kprobe, every uprobe kind, tracepoint, raw_tp
/// and other types keep the combined limit), each frame rounded up to 16 bytes (the JIT is requested), and a tail call
/// below 256 bytes of callers' stack is refused. Our verdict and message, and the live
/// kernel's (its log must hold the same line).
/// </summary>
public class PrivateStackRuleTests
{
    /// <summary>(program, the line our log must hold, or null for accepted).</summary>
    private static readonly (string Program, string? Expected)[] Rows =
    [
        ("combined_exactly_512", null),
        ("combined_528", "combined stack size of 2 calls is 528. Too large"),
        ("combined_three_frames", "combined stack size of 2 calls is 960. Too large"),
        ("perf_event_528", null),
        ("perf_event_three_frames", null),
        ("kprobe_multi_three_frames", null),
        ("kprobe_session_three_frames", null),
        ("perf_event_small_frame_between", null),
        ("perf_event_tail_call_528", "combined stack size of 2 calls is 528. Too large"),
        ("perf_event_tail_call_elsewhere_528", "combined stack size of 2 calls is 528. Too large"),
        ("kprobe_528", "combined stack size of 2 calls is 528. Too large"),
        ("kprobe_three_frames", "combined stack size of 2 calls is 960. Too large"),
        ("kprobe_small_frame_between", "combined stack size of 3 calls is 992. Too large"),
        ("uprobe_multi_three_frames", "combined stack size of 2 calls is 960. Too large"),
        ("uprobe_session_three_frames", "combined stack size of 2 calls is 960. Too large"),
        ("uprobe_three_frames", "combined stack size of 2 calls is 960. Too large"),
        ("tracepoint_three_frames", "combined stack size of 2 calls is 960. Too large"),
        ("raw_tp_three_frames", "combined stack size of 2 calls is 960. Too large"),
        ("xdp_three_frames", "combined stack size of 2 calls is 960. Too large"),
        ("tail_call_under_256", "tail_calls are not allowed when call stack of previous frames is 256 bytes. Too large"),
        ("tail_call_under_240", null),
        ("tail_call_under_two_frames", "tail_calls are not allowed when call stack of previous frames is 256 bytes. Too large"),
        ("kprobe_tail_call_under_256", "tail_calls are not allowed when call stack of previous frames is 256 bytes. Too large"),
    ];

    public static TheoryData<string, string?> Programs => new(Rows);

    private static readonly VerifierFixture Fixture = new("verifier/misc17/privstack.bpf.o");

    [Fact]
    public void Every_program_of_the_fixture_is_listed() => Fixture.AssertEveryProgramListed(Rows.Select(row => row.Program));

    [Theory]
    [MemberData(nameof(Programs))]
    public void Verdict_and_message(string program, string? expected) => Fixture.AssertOurs(program, expected, Errno.EACCES);

    [Theory]
    [MemberData(nameof(Programs))]
    public void Kernel_agrees(string program, string? expected) => Fixture.AssertKernelAgrees(program, expected);
}
