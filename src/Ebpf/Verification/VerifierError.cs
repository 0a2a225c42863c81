namespace Ebpf.Verification;

/// <summary>Internal: stops verification with the kernel's message and errno.</summary>
internal sealed class VerifierError(Errno errno, string message, int insn) : Exception(message)
{
    public Errno Errno { get; } = errno;
    public int Insn { get; } = insn;
}
