using Ebpf.Elf;
using Ebpf.Linux;
using Ebpf.Verification;

namespace Ebpf.Tests.Verification;

/// <summary>
/// Trusted, untrusted and RCU typed pointers, bpf_rdonly_cast, bpf_cast_to_kern_ctx and the cpumask kfuncs' argument
/// rules (tests/fixtures/verifier/trusted/trusted.bpf.c, clang-19). Each program's verdict and key message are ours;
/// the kernel theory loads the same program into the running kernel and requires the same verdict and, for a
/// rejection, the kernel's last message line in our log.
/// </summary>
public class TrustedPointerFixtureTests
{
    private const string File = "verifier/trusted/trusted.bpf.o";

    /// <summary>(program, null when accepted, else a line our log must contain).</summary>
    public static TheoryData<string, string?> Programs => new()
    {
        { "rcu_field_to_rcu_kfunc", null },
        { "plain_field_to_rcu_kfunc", "R2 must be a rcu pointer" },
        { "nested_member_to_rcu_kfunc", null },
        { "rcu_field_to_trusted_kfunc", "R1 must be referenced or trusted" },
        { "rcu_pointer_after_unlock", "R2 must be a rcu pointer" },
        { "create_set_test_release", null },
        { "create_leak", "Unreleased reference" },
        { "release_maybe_null", "Possibly NULL pointer passed to trusted arg0" },
        { "null_to_rcu_kfunc", "Possibly NULL pointer passed to trusted arg0" },
        { "wrong_struct", "kernel function bpf_cpumask_set_cpu args#1 expected pointer to STRUCT bpf_cpumask but R2 has a pointer to STRUCT task_struct" },
        { "release_unacquired", "kernel function bpf_cpumask_release args#0 expected pointer to STRUCT bpf_cpumask but R1 has a pointer to STRUCT task_struct" },
        { "rdonly_cast_read", null },
        { "rdonly_cast_write", "only read is supported" },
        { "rdonly_cast_to_kfunc", "R2 must be a rcu pointer" },
        { "rdonly_cast_void", null },
        { "rdonly_cast_int", "kfunc bpf_rdonly_cast type ID argument must be of a struct or void" },
        { "kern_ctx_read", null },
        { "kern_ctx_not_ctx", "arg#0 expected pointer to ctx, but got fp" },
        { "release_at_offset", "R1 must have zero offset when passed to release func or trusted arg to kfunc" },
        { "rdonly_cast_void_write", "cannot write into rdonly_untrusted_mem" },
        { "kern_ctx_xdp", null },
        { "nullable_tp_arg_unchecked", "invalid mem access 'trusted_ptr_or_null_'" },
        { "nullable_tp_arg_checked", null },
        { "sleepable_walk_outside_rcu", "R2 must be a rcu pointer" },
        { "sleepable_walk_inside_rcu", null },
        { "trusted_or_null_to_global", null },
        { "untrusted_to_global", "R1 must be referenced or trusted" },
        { "kern_ctx_sockops", null },
        { "kern_ctx_sk_msg", null },
        { "kern_ctx_kprobe", null },
    };

    private static readonly VerifierFixture Fixture = new(File);

    [Theory]
    [MemberData(nameof(Programs))]
    public void Our_verdict_and_message(string program, string? expected)
    {
        var result = Fixture.Ours(program, out _, out _);
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
        var ours = Fixture.Ours(program, out var prog, out var obj);
        var (accepted, log) = Fixture.Kernel(obj, prog);
        Assert.True(accepted == ours.Accepted, $"{program}: kernel accepted={accepted}, ours={ours.Accepted}\n{log}\n--- ours ---\n{ours.Log}");
        if (!accepted)
        {
            // The kernel's last line before the statistics is in our log.
            string kernelTail = log.Split('\n').Reverse().SkipWhile(l => l.Length == 0 || l.StartsWith("processed ", StringComparison.Ordinal))
                .FirstOrDefault() ?? "";
            Assert.True(ours.Log.Contains(kernelTail.Trim(), StringComparison.Ordinal), $"{program}: the kernel's \"{kernelTail.Trim()}\" is not in our log\n{log}\n--- ours ---\n{ours.Log}");
        }
    }
}
