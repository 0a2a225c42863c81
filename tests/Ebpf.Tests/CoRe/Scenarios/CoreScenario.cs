namespace Ebpf.Tests.CoRe.Scenarios;

/// <summary>How a scenario that must not load fails: a relocation error, or the verifier rejecting a reachable poisoned call.</summary>
public sealed record CoreFailure(Errno Errno, string Text)
{
    /// <summary>libbpf's poisoned instruction (call 0xbad2310) reached by the verifier.</summary>
    public static readonly CoreFailure Poisoned = new(Errno.EINVAL, "invalid func unknown#195896080");
    /// <summary>Two matching candidates disagree on the field's offset.</summary>
    public static readonly CoreFailure OffsetAmbiguity = new(Errno.EINVAL, "field offset ambiguity");
    /// <summary>The bitfield needs a container wider than 8 bytes.</summary>
    public static readonly CoreFailure BitfieldTooBig = new(Errno.E2BIG, "can't be satisfied for bitfield");
    /// <summary>The target access spec has more than 64 components.</summary>
    public static readonly CoreFailure TooDeep = new(Errno.E2BIG, "error matching candidate");
}

/// <summary>
/// One re-expressed case of the upstream core_reloc suite (kernel-semantics.md §5.1): a program of
/// tests/fixtures/core/scenarios, the target layout its CO-RE relocations resolve against, and either the output the
/// program must produce from the target-laid-out input, or how loading must fail.
/// </summary>
/// <param name="Name">Upstream's subtest name.</param>
/// <param name="Object">The program object (without .bpf.o).</param>
/// <param name="Target">targets/&lt;Target&gt;.btf, .in and .out.</param>
/// <param name="Blobs">The case whose input blob a failing case is fed (failing targets carry none).</param>
public sealed record CoreScenario(string Name, string Object, string Program, string Target, CoreFailure? Failure = null, string? Blobs = null)
{
    public static string Directory => SharedData.Fixture("core/scenarios");
    public string ObjectPath => Path.Combine(Directory, Object + ".bpf.o");
    public string TargetPath => Path.Combine(Directory, "targets", Target + ".btf");
    public string InputPath => Path.Combine(Directory, "targets", (Blobs ?? Target) + ".in");
    public string ExpectedPath => Path.Combine(Directory, "targets", (Blobs ?? Target) + ".out");
    public bool Fails => Failure is not null;
    /// <summary>Upstream skips these in the min_core_btf pass (the failure is a relocation error, which BTFGen hits too).</summary>
    public bool BtfgenFails => Failure is { } f && f != CoreFailure.Poisoned;
    public override string ToString() => Name;
}
