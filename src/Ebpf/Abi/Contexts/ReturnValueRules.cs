namespace Ebpf.Abi.Contexts;

/// <summary>The range R0 must lie in at program exit (<c>check_return_code</c>, program-types.md §2.12).</summary>
internal readonly record struct ReturnRange(int Min, int Max);

/// <summary>Return-value rules per program type and attach type.</summary>
internal static class ReturnValueRules
{
    /// <summary>The enforced range, or null when any value is accepted.</summary>
    public static ReturnRange? For(ProgramType type, AttachType attachType = default) => type switch
    {
        ProgramType.Tracing => attachType switch
        {
            AttachType.TraceFentry or AttachType.TraceFexit => new ReturnRange(0, 0),
            AttachType.TraceIter => new ReturnRange(0, 1),
            _ => null,
        },
        // A session program's return decides whether its exit half runs: 0 or 1 only.
        ProgramType.Kprobe => attachType is AttachType.TraceKprobeSession or AttachType.TraceUprobeSession ? new ReturnRange(0, 1) : null,
        ProgramType.CgroupSkb => attachType == AttachType.CgroupInetEgress ? new ReturnRange(0, 3) : new ReturnRange(0, 1),
        ProgramType.CgroupSock or ProgramType.SockOps or ProgramType.CgroupDevice or ProgramType.CgroupSysctl
            or ProgramType.CgroupSockopt or ProgramType.SkLookup or ProgramType.Netfilter => new ReturnRange(0, 1),
        ProgramType.CgroupSockAddr => CgroupSockAddr(attachType),
        _ => null,
    };

    /// <summary>Range for bpf_loop / for_each_map_elem callbacks.</summary>
    public static readonly ReturnRange Callback = new(0, 1);

    /// <summary>Range for async (timer) callbacks.</summary>
    public static readonly ReturnRange AsyncCallback = new(0, 0);

    private static ReturnRange CgroupSockAddr(AttachType attachType)
    {
        string name = attachType.ToString();
        if (name.Contains("Recvmsg", StringComparison.Ordinal) || name.Contains("Getpeername", StringComparison.Ordinal) || name.Contains("Getsockname", StringComparison.Ordinal))
            return new ReturnRange(1, 1);
        if (name.Contains("Bind", StringComparison.Ordinal)) return new ReturnRange(0, 3);
        return new ReturnRange(0, 1);
    }
}
