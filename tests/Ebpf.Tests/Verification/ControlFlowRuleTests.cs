using Ebpf.Elf;
using Ebpf.Linux;
using Ebpf.Loading;
using Ebpf.Verification;

namespace Ebpf.Tests.Verification;

/// <summary>
/// The control-flow and call rules of issue 17 (fixtures/verifier/v17flow/control_flow.bpf.c): which pointers count as
/// never NULL when compared with 0 (reg_not_null), static subprograms that return holding a spin lock or without
/// setting R0, spin locks in global data, packet pointers passed to a global function that changes packet data, the
/// global-call log line, exception callbacks (appended by the loader, never called directly, one integer argument,
/// never throwing) and bpf_throw (default callback return range, leaks, RCU sections, callbacks). Our verdict and log
/// are checked here, and against the live kernel (6.18) where bpf(2) is usable.
/// </summary>
public class ControlFlowRuleTests
{
    /// <summary>(program, the lines both logs must hold in order, or null for accepted).</summary>
    private static readonly (string Program, string? Expected)[] Rows =
    [
        ("ctx_compared_with_zero", "R0 !read_ok"),
        ("stack_compared_with_zero", "R0 !read_ok"),
        ("map_value_compared_with_zero", null),
        ("loop_on_ctx_pointer", "infinite loop detected at insn 3"),
        ("global_call_then_clobbered", "Func#1 ('double_it') is global and assumed valid.\nR2 !read_ok"),
        ("lock_in_static_subprog", null),
        ("lock_left_by_static_subprog", "BPF_EXIT instruction in main prog cannot be used inside bpf_spin_lock-ed region"),
        ("lock_in_global_data", null),
        ("packet_to_pulling_global", "arg#1 is a packet pointer, but func#1 may change packet data\nCaller passes invalid args into func#1 ('read_after_pull')"),
        ("packet_to_reading_global", null),
        ("calls_exception_callback", "cannot call exception cb directly"),
        ("throw_default_callback", null),
        ("throw_to_own_callback", null),
        ("callback_with_two_args", "Validating two_args_handler() func#1...\nexception cb only supports single integer argument"),
        ("callback_that_throws", "bpf_throw kfunc (insn 3) cannot be called from callback subprog 1"),
        ("throw_from_loop_callback", "bpf_throw kfunc (insn 9) cannot be called from callback subprog 1"),
        ("throw_in_rcu_section", "bpf_throw cannot be used inside bpf_rcu_read_lock-ed region"),
        ("throw_holding_socket", "Unreleased reference id=\nbpf_throw would lead to reference leak"),
        ("throw_cookie_out_of_range", "At program exit the register R1 has smin=7 smax=7 should have been in [0, 3]"),
    ];

    public static TheoryData<string, string?> Programs => new(Rows);

    private static readonly VerifierFixture Fixture = new("verifier/v17flow/control_flow.bpf.o");

    private static VerificationResult Ours(string program, out ProgramSpec prog, out ObjectSpec obj) =>
        Fixture.Ours(program, out prog, out obj);

    [Fact]
    public void Every_program_of_the_fixture_is_listed()
    {
        var listed = Rows.Select(row => row.Program).Order(StringComparer.Ordinal);
        var inObject = Fixture.ProgramNames;
        Assert.Equal(inObject, listed);
    }

    [Fact]
    public void The_loader_appends_an_exception_callback_nothing_calls()
    {
        var prog = ObjectSpec.Load(Fixture.Path).FindProgram("throw_to_own_callback")!;
        Assert.Equal(["throw_to_own_callback", "on_exception"], prog.Functions.Select(f => f.Name));
        Assert.Equal(2, prog.FuncInfos.Count);
    }

    [Fact]
    public void The_runtime_refuses_to_load_a_verified_throwing_program()
    {
        // The verifier accepts it, but bpf_throw is a vmlinux kfunc the managed runtime cannot run: the load is refused
        // with EOPNOTSUPP before anything runs.
        Assert.True(Ours("throw_default_callback", out var prog, out var obj).Accepted);
        var e = Assert.Throws<BpfException>(() => new Ebpf.Runtime.BpfRuntime().Load(obj, new ObjectLoadOptions
        {
            ProgramFilter = p => ReferenceEquals(p, prog),
        }));
        Assert.Equal(Errno.EOPNOTSUPP, e.Errno);
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
        Assert.Equal(expected is null, kernelAccepted);
        if (expected is not null) VerifierFixture.AssertLinesInOrder(expected, log, "the kernel");
    }
}
