using Ebpf.Elf;
using Ebpf.Linux;
using Ebpf.Loading;
using Ebpf.Verification;

namespace Ebpf.Tests.Verification;

/// <summary>
/// The fixtures of tests/fixtures/verifier/ver17a (clang-19, inline assembly where clang has no syntax): may_goto loops,
/// load-acquire/store-release, and rejections the kernel makes (bpf_trap, infinite loops, call depth and combined
/// stack, callbacks, exceptions, session return ranges). Each row is our verdict and message; the kernel theory loads
/// the same program into the running kernel and requires the same verdict, instruction and last message line.
/// </summary>
public class Ver17aFixtureTests
{
    /// <summary>(object, program, the rejection "insn: message" or null for accepted).</summary>
    public static TheoryData<string, string, string?> Programs => new()
    {
        { "may_goto", "counted_sum", null },
        { "may_goto", "until_budget", null },
        { "may_goto", "two_frames", null },
        { "may_goto", "index_grows", "4: invalid write to stack R1 off=0 size=1" },
        { "may_goto", "map_scan", "17: R0 max value is outside of the allowed memory range" },
        { "acquire_release", "stack_dw", null },
        { "acquire_release", "stack_byte", null },
        { "acquire_release", "map_value_half_word", null },
        { "acquire_release", "from_ctx", "0: BPF_ATOMIC loads from R1 ctx is not allowed" },
        { "acquire_release", "misaligned_map_value", "9: misaligned value access off 0+0+4 size 8" },
        { "acquire_release", "uninit_stack", null },
        { "callbacks", "second_iteration_out_of_range", "13: R1 min value is outside of the allowed memory range" },
        { "callbacks", "loop_limit_one", null },
        { "callbacks", "loop_limit_two", "13: R1 min value is outside of the allowed memory range" },
        { "callbacks", "for_each_state_machine", "14: R1 min value is outside of the allowed memory range" },
        { "callbacks", "callback_bad_return", "9: At callback return the register R0 has smin=2 smax=2 should have been in [0, 1]" },
        { "callbacks", "callback_infinite_loop", "8: old state: frame1: R1=scalar() R2=0 R10=fp0 cb" },
        { "callbacks", "untouched_field_stays_known", null },
        { "rejections", "trap_in_middle", "2: unexpected __bpf_trap() due to uninitialized variable?" },
        { "rejections", "trap_unreachable", null },
        { "rejections", "no_progress_loop", "1: old state: R1=Pscalar(smin=umin=umin32=6,smax=umax=0xffffffff,var_off=(0x0; 0xffffffff)) R10=fp0" },
        { "rejections", "no_progress_loop_with_work", "2: old state: R1=Pscalar(smin=umin=umin32=1,smax=umax=0xffffffff,var_off=(0x0; 0xffffffff)) R2=1 R10=fp0" },
        { "rejections", "global_recursion", "-1: the call stack of 8 frames is too deep !" },
        { "rejections", "combined_static", "-1: combined stack size of 2 calls is 544. Too large" },
        { "rejections", "combined_global", "-1: combined stack size of 2 calls is 544. Too large" },
        { "rejections", "session_returns_two", "1: At program exit the register R0 has smin=2 smax=2 should have been in [0, 1]" },
        { "rejections", "session_returns_one", null },
        { "rejections", "uprobe_session_returns_two", "1: At program exit the register R0 has smin=2 smax=2 should have been in [0, 1]" },
    };

    private static string Path(string file) => SharedData.Fixture($"verifier/ver17a/{file}.bpf.o");

    private static VerificationResult Ours(string file, string program, out ProgramSpec prog, out ObjectSpec obj)
    {
        obj = ObjectSpec.Load(Path(file));
        prog = obj.FindProgram(program) ?? throw new InvalidOperationException($"{program} not in {file}");
        return Verifier.Verify(ProgramSpecInput.Create(obj, prog, logLevel: 2));
    }

    private static Rejection Parse(string expected)
    {
        int colon = expected.IndexOf(':', StringComparison.Ordinal);
        return new Rejection(int.Parse(expected[..colon], System.Globalization.CultureInfo.InvariantCulture), expected[(colon + 1)..].Trim());
    }

    [Theory]
    [MemberData(nameof(Programs))]
    public void Our_verdict_and_message(string file, string program, string? expected)
    {
        var result = Ours(file, program, out _, out _);
        if (expected is null) Assert.True(result.Accepted, $"{result.Error}\n{result.Log}");
        else Rejection.AssertOurs(result, Parse(expected), $"{file}/{program}");
    }

    [Theory]
    [MemberData(nameof(Programs))]
    public void The_kernel_agrees(string file, string program, string? expected)
    {
        if (!LinuxKernel.IsAvailable) Requirement.Missing(Requirement.Kernel, $"bpf(2) is not usable here: {LinuxKernel.UnavailableReason}");
        var ours = Ours(file, program, out var prog, out var obj);
        bool accepted;
        string log;
        try
        {
            using var bpffs = new TemporaryBpfFs();
            using var collection = LinuxKernel.Load(obj, new ObjectLoadOptions
            {
                Elf = ElfFile.Open(Path(file)),
                ProgramFilter = p => ReferenceEquals(p, prog),
                LogLevel = 1,
                PinRoot = bpffs.Path,
            });
            accepted = true;
            log = collection.Programs[program].VerifierLog ?? "";
        }
        catch (BpfException e)
        {
            accepted = false;
            log = e.Log ?? e.Message;
        }
        Assert.True(accepted == ours.Accepted, $"{file}/{program}: kernel accepted={accepted}, ours={ours.Accepted}\n{log}\n--- ours ---\n{ours.Log}");
        if (!accepted)
        {
            Assert.True(Rejection.OfKernelLog(log) == Rejection.Of(ours), $"{file}/{program}: kernel {Rejection.OfKernelLog(log)}, ours {Rejection.Of(ours)}\n{log}");
            Assert.Equal(expected is null ? default : Parse(expected), Rejection.OfKernelLog(log));
        }
    }
}
