using Ebpf.Abi.Contexts;

namespace Ebpf.Verification;

/// <summary>Per-function facts in a verified program.</summary>
public sealed record VerifiedFunction(int StartInstruction, int EndInstruction, int StackDepth, bool IsGlobal, string Name);

/// <summary>A context access the verifier accepted (check_ctx_access): its xlated instruction, the UAPI field and width
/// (max_ctx_offset is the furthest end of these).</summary>
public sealed record ContextAccessSite(int InstructionIndex, ContextField Field, int Offset, int Size, bool IsWrite);

/// <summary>What a call instruction resolved to.</summary>
public readonly record struct ResolvedCall(int InstructionIndex, bool IsHelper, int Target);

/// <summary>
/// The output of verification (the kernel's post-verifier, "xlated" program): the instructions after the
/// verifier's fixups (dead code removed or trapped, branches decided on every path hard-wired, ctx accesses
/// converted by <see cref="VerifierInput.ContextConverter"/> exactly where a ctx pointer was proved), each
/// function's stack depth, the resolved calls and the context accesses. All instruction indexes here are
/// xlated indexes; <see cref="NewIndex"/> moves anything indexed by the verified program (line info).
/// </summary>
public sealed class VerifiedProgram
{
    /// <summary>The translated program: what the engines run and `prog dump xlated` prints.</summary>
    public required IReadOnlyList<Isa.Instruction> Instructions { get; init; }
    /// <summary>The program as it was verified (before the fixups).</summary>
    public required IReadOnlyList<Isa.Instruction> VerifiedInstructions { get; init; }
    /// <summary>For each xlated instruction, the verified instruction it came from.</summary>
    public required IReadOnlyList<int> SourceIndex { get; init; }
    /// <summary>For each verified instruction and one past the end: where it (or, when removed, the next surviving
    /// instruction) starts in <see cref="Instructions"/> (bpf_adj_linfo's mapping).</summary>
    public required IReadOnlyList<int> NewIndex { get; init; }
    /// <summary>The program type the program was verified as.</summary>
    public required Abi.ProgramType ProgramType { get; init; }
    /// <summary>The entry function and every subprogram, in instruction order, with their stack depths.</summary>
    public required IReadOnlyList<VerifiedFunction> Functions { get; init; }
    /// <summary>Every call instruction with what it resolved to (a helper id or a subprogram), so the runners bind
    /// calls without decoding again.</summary>
    public required IReadOnlyList<ResolvedCall> Calls { get; init; }
    /// <summary>Every load and store through the context pointer with the context field it touches, which the
    /// runtime rewrites to the field's real location.</summary>
    public required IReadOnlyList<ContextAccessSite> ContextAccesses { get; init; }
    /// <summary>Stack depth of the entry function (bytes).</summary>
    public int StackDepth => Functions.Count > 0 ? Functions[0].StackDepth : 0;
    /// <summary>True when some helper call changes packet data (tc: needs the unclone prologue when writing).</summary>
    public bool ChangesPacketData { get; init; }
    /// <summary>True when the program stores into packet data directly (tc: the skb must be unshared first).</summary>
    public bool WritesPacket { get; init; }
    /// <summary>prog->aux->max_rdonly_access: the furthest byte read through a read-only iterator buffer (the key of a
    /// bpf_map_elem iterator); a link to a map whose key is smaller is refused (EACCES).</summary>
    internal int MaxReadOnlyBufferAccess { get; init; }
    /// <summary>prog->aux->max_rdwr_access: the furthest byte touched through a writable iterator buffer (the value).</summary>
    internal int MaxReadWriteBufferAccess { get; init; }
    /// <summary>True when some load goes through a typed or untrusted kernel pointer (BPF_PROBE_MEM in the kernel:
    /// a fault reads as 0). An interpreter without fault handling must run such a program checked.</summary>
    public bool ReadsKernelPointers { get; init; }
    /// <summary>Instructions (of <see cref="Instructions"/>) that load through a typed kernel pointer walked by BTF:
    /// BPF_PROBE_MEM loads, which both engines perform as fault-safe reads.</summary>
    internal IReadOnlySet<int> ProbeLoads { get; init; } = new HashSet<int>();
    /// <summary>Instructions (of <see cref="VerifiedInstructions"/>) a speculative path found unsafe: the kernel puts a
    /// BPF_NOSPEC before each (aux->nospec). Only a loader without CAP_PERFMON has any; the engines need none (they do
    /// not execute speculatively), see <see cref="SpeculativePaths"/>.</summary>
    internal IReadOnlyList<int> SpeculationBarriers { get; init; } = [];
    /// <summary>Stack stores (of <see cref="VerifiedInstructions"/>) the kernel follows with a BPF_NOSPEC (Spectre v4,
    /// aux->nospec_result).</summary>
    internal IReadOnlyList<int> SpeculationBarriersAfter { get; init; } = [];
}

/// <summary>The verdict with the kernel-style log and statistics.</summary>
public sealed class VerificationResult
{
    /// <summary>True when the verifier accepted the program (no <see cref="Error"/>).</summary>
    public bool Accepted => Error is null;
    /// <summary>The errno the kernel would return (0 when accepted).</summary>
    public Errno Errno { get; init; }
    /// <summary>The first error line(s), as in the log (without the stats line).</summary>
    public string? Error { get; init; }
    /// <summary>Instruction where the error was found, or -1.</summary>
    public int ErrorInstruction { get; init; } = -1;
    /// <summary>Register state at the error (log notation), if any.</summary>
    public string? ErrorState { get; init; }
    /// <summary>The verifier log at the requested level (empty at level 0).</summary>
    public string Log { get; init; } = "";
    /// <summary>Instructions the verifier walked over all paths (the kernel's <c>insn_processed</c>).</summary>
    public int ProcessedInstructions { get; init; }
    /// <summary>The most explored states kept for one instruction (<c>max_states_per_insn</c>).</summary>
    public int MaxStatesPerInstruction { get; init; }
    /// <summary>States saved for pruning over the whole run (<c>total_states</c>).</summary>
    public int TotalStates { get; init; }
    /// <summary>The most states alive at once (<c>peak_states</c>).</summary>
    public int PeakStates { get; init; }
    /// <summary>Wall-clock time the verification took (the kernel's <c>verification_time</c>).</summary>
    public TimeSpan Elapsed { get; init; }
    /// <summary>The accepted, fixed-up program; null when rejected.</summary>
    public VerifiedProgram? Program { get; init; }

    /// <summary>What every refusal for lack of modelling says before the missing feature (ours, never the kernel's).</summary>
    internal const string UnsupportedMarker = "is not supported by this verifier: ";

    /// <summary>
    /// When the program was refused because this verifier does not model something it uses (not because the
    /// kernel would refuse it): the missing feature, e.g. "dynptr kfuncs". Null when accepted or refused on the
    /// kernel's rules.
    /// </summary>
    public string? UnsupportedFeature
    {
        get
        {
            if (Error is null) return null;
            int at = Error.IndexOf(UnsupportedMarker, StringComparison.Ordinal);
            if (at < 0) return null;
            string rest = Error[(at + UnsupportedMarker.Length)..];
            int end = rest.IndexOf('\n', StringComparison.Ordinal);
            return end < 0 ? rest : rest[..end];
        }
    }

    /// <summary>The stats line exactly as the kernel prints it.</summary>
    public string StatsLine =>
        $"processed {ProcessedInstructions} insns (limit {Verifier.ComplexityLimit}) max_states_per_insn {MaxStatesPerInstruction} total_states {TotalStates} peak_states {PeakStates} mark_read 0";

    /// <summary>Throws <see cref="BpfException"/> with the errno and log when the program was rejected.</summary>
    public VerifiedProgram ThrowIfRejected(string what = "program")
    {
        if (Error is not null)
            throw new BpfException(Errno, $"load {what}: verifier rejected it at insn {ErrorInstruction}: {Error.Split('\n')[0]}", Log);
        return Program!;
    }
}
