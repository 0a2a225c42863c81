namespace Ebpf.Verification;

/// <summary>
/// The kernel-style BPF verifier. <see cref="Verify"/> never throws for a bad program: the verdict, the
/// kernel's errno and message, the log and the statistics are in the <see cref="VerificationResult"/>.
/// </summary>
public static class Verifier
{
    /// <summary>BPF_COMPLEXITY_LIMIT_INSNS: the kernel's budget of processed instructions, and the largest program a
    /// privileged loader may submit; the stats line always prints it.</summary>
    public const int ComplexityLimit = 1_000_000;

    /// <summary>Verifies one program as the kernel's <c>bpf_check</c> would, returning the verdict (and, when
    /// accepted, the fixed-up program the interpreter and JIT run) rather than throwing.</summary>
    public static VerificationResult Verify(VerifierInput input)
    {
        ArgumentNullException.ThrowIfNull(input);
        if (input.Instructions.Count > ComplexityLimit)
            return new VerificationResult { Errno = Errno.E2BIG, Error = $"BPF program is too large ({input.Instructions.Count} insns)" };
        // find_prog_type: a type the kernel does not know is refused before the verifier runs, with no log.
        if (!input.Profile.SupportsProgramType(input.ProgramType))
            return new VerificationResult { Errno = Errno.EINVAL, Error = $"program type {Abi.KernelNames.Of(input.ProgramType)} is not supported by kernel {input.Profile}" };
        return new VerifierEngine(input).Run();
    }
}
