using Ebpf.Execution;
using Ebpf.Runtime.Helpers;
using Ebpf.Runtime.Memory;
using Ebpf.Runtime.Objects;
using Ebpf.Runtime.ProgramTypes;

namespace Ebpf.Runtime;

/// <summary>
/// Runs programs in the interpreter mode chosen at load (<see cref="ProgramObject.ExecutionMode"/>).
/// For a checked program it registers the ctx block, the packet and the program's global data as the
/// regions it may touch and lets helpers validate pointers against the same regions; it supplies
/// LD_ABS/LD_IND with the skb, and keeps the run inside an epoch critical section so map memory a
/// program may still hold is not freed under it.
/// </summary>
public sealed class InterpreterExecutor : IProgramExecutor
{
    /// <summary>Helper pointer validation for checked runs (unchecked runs are verified: pointers are trusted).</summary>
    internal static readonly Func<ulong, ulong, bool, bool> CheckedMemory = static (address, size, write) =>
        Ebpf.Execution.InvocationContext.Current is not { } ctx || ctx.Mode != ExecutionMode.Checked
        || ctx.IsAccessible(address, (int)Math.Min(size, int.MaxValue), write ? MemoryAccess.Write : MemoryAccess.Read);

    /// <summary>Runs <paramref name="program"/> once on the context at <paramref name="context"/> and returns R0.</summary>
    public ulong Run(ProgramObject program, nint context)
    {
        if (program.Executable is PreparedProgram { Interpreter: { Mode: ExecutionMode.Unchecked } verified })
        {
            // Verified: no regions to register, so no request to build; state as CreateRequest sets it.
            var invocation = HelperInvocation.Current;
            EpochManager.Enter();
            try
            {
                return verified.Run((ulong)context, invocation, invocation?.PacketState as SkbContext);
            }
            finally
            {
                EpochManager.Exit();
            }
        }
        var request = CreateRequest(program, context, out var prepared);
        EpochManager.Enter();
        try
        {
            return prepared.Interpreter.Run(request);
        }
        finally
        {
            EpochManager.Exit();
        }
    }

    /// <summary>The request for runs of <paramref name="program"/> on <paramref name="context"/> (reusable for repeats on the same ctx).</summary>
    internal static ExecutionRequest CreateRequest(ProgramObject program, nint context, out PreparedProgram prepared)
    {
        prepared = program.Executable as PreparedProgram
            ?? throw new BpfException(Errno.ENOTSUPP, $"program {program.Id} ({program.Name}) has no executable form");
        var invocation = HelperInvocation.Current;
        var request = new ExecutionRequest { R1 = (ulong)context, State = invocation };
        if (invocation?.PacketState is SkbContext skbState)
            request.PacketAccess = skbState;
        if (prepared.Interpreter.Mode != ExecutionMode.Checked)
            return request; // verified: no regions to register, helpers trust the pointers
        int ctxSize = ProgramPreparation.ContextRegionSize(program);
        int userSize = Math.Min(program.TypeInfo.UserContextSize, ctxSize);
        if (context != 0 && ctxSize > 0)
        {
            // The user view is the program's to write; past it the runtime keeps the real packet pointers
            // (data, data_end, …) that the rewritten ctx loads read and the runtime itself trusts afterwards
            // (data_out, adjust_head). A checked program may read them, never forge them.
            if (userSize > 0)
                request.AddRegion(new MemoryRegion((nuint)context, (nuint)userSize, MemoryAccess.ReadWrite, "ctx"));
            if (ctxSize > userSize)
                request.AddRegion(new MemoryRegion((nuint)(context + userSize), (nuint)(ctxSize - userSize), MemoryAccess.Read, "ctx (runtime fields)"));
        }
        switch (invocation?.PacketState)
        {
            case XdpContext xdp:
                request.AddRegion(new MemoryRegion((nuint)xdp.HardStart, XdpContext.FrameSize - XdpContext.Tailroom, MemoryAccess.ReadWrite, "xdp frame"));
                for (int i = 0; i < xdp.FragCount; i++)
                {
                    // A dynptr slice may point into a frag (bpf_xdp_pointer).
                    var (address, length) = xdp.FragRegion(i);
                    request.AddRegion(new MemoryRegion((nuint)address, (nuint)length, MemoryAccess.ReadWrite, $"xdp frag {i}"));
                }
                break;
            case SkbContext skb:
                request.AddRegion(new MemoryRegion((nuint)skb.DataPointer, skb.Length, MemoryAccess.ReadWrite, "packet"));
                request.AddRegion(new MemoryRegion((nuint)skb.SockPointer, SkbContext.BpfSockSize, MemoryAccess.Read, "bpf_sock"));
                break;
        }
        foreach (var region in prepared.StaticRegions)
            request.AddRegion(region);
        if (invocation is not null)
            invocation.MemoryChecker = CheckedMemory;
        return request;
    }
}
