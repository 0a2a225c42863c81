using Ebpf.Abi;
using Ebpf.Fuzz;
using Ebpf.Isa;
using Ebpf.Verification;

namespace Ebpf.Tests.Verification;

/// <summary>
/// Two findings of the `prog verify` robustness fuzzing (tools/Ebpf.Fuzz --cli-verify): a trace of a million
/// instructions must not grow without bound (the kernel's log rotates), and check_subprogs' jump target is an int.
/// </summary>
public sealed class VerifierLogBoundsTests
{
    /// <summary>r0 = 0; loop: r0 += 1; if r0 != -2 goto loop; exit — explored until the complexity limit.</summary>
    private static readonly Instruction[] EndlessLoop =
    [
        Instruction.Mov64(0, 0),
        Instruction.Alu64(AluOperation.Add, 0, 1),
        Instruction.Jump(JumpOperation.Jne, 0, -2, -2),
        Instruction.Exit(),
    ];

    [Fact]
    public void A_million_instruction_trace_keeps_only_the_logs_last_part()
    {
        var result = Verifier.Verify(new VerifierInput { Instructions = EndlessLoop, ProgramType = ProgramType.SocketFilter, LogLevel = 1 });
        Assert.False(result.Accepted);
        Assert.Equal(1_000_001, result.ProcessedInstructions);
        string log = result.Log ?? "";
        // Unbounded, this log is 55 MB at level 1 (and 960 MB at level 2); rotated, at most twice the 16 MiB window.
        Assert.InRange(log.Length, VerifierLog.MaxChars, 2 * VerifierLog.MaxChars);
        Assert.Contains("\nBPF program is too large. Processed 1000001 insn\n", log, StringComparison.Ordinal);
        Assert.EndsWith(" mark_read 0\n", log, StringComparison.Ordinal);
        // Whole lines only: the window starts at a line boundary.
        Assert.Matches(@"^\d+: ", log);
    }

    /// <summary>gotol pc+2147483647 at insn 1: the kernel's int arithmetic wraps the target negative.</summary>
    private static readonly Instruction[] FarGotol =
    [
        Instruction.Mov64(0, 0),
        new Instruction(Opcodes.Ja32, 0, 0, 0, int.MaxValue),
        Instruction.Exit(),
    ];

    [Fact]
    public void A_gotol_past_the_end_names_the_wrapped_target_as_the_kernel_does()
    {
        var ours = Verifier.Verify(new VerifierInput { Instructions = FarGotol, ProgramType = ProgramType.SocketFilter, LogLevel = 1 });
        Assert.Equal(Errno.EINVAL, ours.Errno);
        Assert.Equal("jump out of range from insn 1 to -2147483647", ours.Error);
        if (KernelBackend.Unavailable() is { } why) Requirement.Missing(Requirement.Kernel, why);
        using var kernel = new KernelBackend();
        var theirs = kernel.Verify(ProgramType.SocketFilter, FarGotol);
        Assert.False(theirs.Accepted);
        Assert.Equal(theirs.Errno, ours.Errno);
        Assert.Equal(theirs.Message, ours.Error);
    }
}
