namespace Ebpf.Execution;

/// <summary>How much the interpreter trusts the program it runs.</summary>
public enum ExecutionMode
{
    /// <summary>
    /// Every load, store and atomic is checked against the regions the program may touch (its stack
    /// frames and the regions the caller registered), and the number of executed instructions is
    /// bounded. For unverified code (the conformance suite, fuzzers): a bad program ends with a
    /// <see cref="BpfException"/>, never a host crash.
    /// </summary>
    Checked,

    /// <summary>No per-access checks: for programs the verifier accepted. The fast path.</summary>
    Unchecked,
}
