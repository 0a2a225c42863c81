namespace Ebpf.Execution;

/// <summary>
/// The inputs of one invocation: argument registers, the memory a checked run may touch, and the
/// per-invocation objects helpers reach through <see cref="InvocationContext.Current"/>. A request may be
/// reused for many invocations, but not by two threads at once.
/// </summary>
public sealed class ExecutionRequest
{
    public ulong R1 { get; set; }
    public ulong R2 { get; set; }
    public ulong R3 { get; set; }
    public ulong R4 { get; set; }
    public ulong R5 { get; set; }

    /// <summary>Memory the program may touch besides its stack (checked mode; ignored when unchecked).</summary>
    public List<MemoryRegion> Regions { get; } = [];

    /// <summary>Anything the caller wants helpers to see (the runtime, a test_run context, …).</summary>
    public object? State { get; set; }

    /// <summary>The skb hook for LD_ABS/LD_IND, when the program type has one.</summary>
    internal ILegacyPacketAccess? PacketAccess { get; set; }

    /// <summary>Overrides the program's checked-mode instruction budget for this invocation.</summary>
    public long? InstructionBudget { get; set; }

    public ExecutionRequest AddRegion(MemoryRegion region)
    {
        Regions.Add(region);
        return this;
    }
}
