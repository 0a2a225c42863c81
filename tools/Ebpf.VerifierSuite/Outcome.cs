namespace Ebpf.VerifierSuite;

/// <summary>One program's result: what upstream expects, what the live kernel and our verifier said.</summary>
internal sealed record Outcome(
    string File,
    string Program,
    TestAnnotations Expect,
    KernelVerdict Kernel,
    OurVerdict Ours)
{
    public string Id => $"{File}/{Program}";

    /// <summary>The kernel ran its verifier on the program (it was not refused before: map or BTF creation, attach target …).</summary>
    public bool KernelVerified => Kernel.Kind != KernelKind.NotLoadable;

    public bool Agree => KernelVerified && Kernel.Accepted == Ours.Accepted;
    public bool FalseAccept => KernelVerified && !Kernel.Accepted && Ours.Accepted;
    public bool FalseReject => KernelVerified && Kernel.Accepted && !Ours.Accepted;

    /// <summary>A kernel rejection upstream expects, with __msg strings to look for.</summary>
    public bool MessageCase => KernelVerified && !Kernel.Accepted && Expect.ExpectSuccess == false && Expect.Messages.Count > 0;
}

internal enum KernelKind { Accepted, Rejected, NotLoadable }

internal sealed record KernelVerdict(KernelKind Kind, string Log, string Reason)
{
    public bool Accepted => Kind == KernelKind.Accepted;
}

internal sealed record OurVerdict(bool Accepted, string Error, string Log, bool Crashed);
