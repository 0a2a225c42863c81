namespace Ebpf.Execution;

/// <summary>
/// The inputs of one invocation: argument registers, the memory a checked run may touch, and the
/// per-invocation objects helpers reach through <see cref="InvocationContext.Current"/>. A request may be
/// reused for many invocations, but not by two threads at once.
/// </summary>
public sealed class ExecutionRequest
{
    /// <summary>R1 at entry (the context pointer for most program types).</summary>
    public ulong R1 { get; set; }
    /// <summary>R2 at entry.</summary>
    public ulong R2 { get; set; }
    /// <summary>R3 at entry.</summary>
    public ulong R3 { get; set; }
    /// <summary>R4 at entry.</summary>
    public ulong R4 { get; set; }
    /// <summary>R5 at entry.</summary>
    public ulong R5 { get; set; }

    /// <summary>Memory the program may touch besides its stack (checked mode; ignored when unchecked).</summary>
    public List<MemoryRegion> Regions { get; } = [];

    /// <summary>Anything the caller wants helpers to see (the runtime, a test_run context, …).</summary>
    public object? State { get; set; }

    /// <summary>The skb hook for LD_ABS/LD_IND, when the program type has one.</summary>
    internal ILegacyPacketAccess? PacketAccess { get; set; }

    /// <summary>Overrides the program's checked-mode instruction budget for this invocation.</summary>
    public long? InstructionBudget { get; set; }

    /// <summary>Adds memory the program may touch; returns this request for chaining.</summary>
    public ExecutionRequest AddRegion(MemoryRegion region)
    {
        Regions.Add(region);
        return this;
    }
}
