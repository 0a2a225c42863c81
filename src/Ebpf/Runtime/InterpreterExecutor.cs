using Ebpf.Execution;
using Ebpf.Runtime.Helpers;
using Ebpf.Runtime.Memory;
using Ebpf.Runtime.Objects;
using Ebpf.Runtime.ProgramTypes;

namespace Ebpf.Runtime;

/// <summary>
/// Runs programs in the checked interpreter: registers the ctx block, the packet and the program's
/// global data as the regions it may touch, lets helpers validate pointers against the same
/// regions, supplies LD_ABS/LD_IND with the skb, and keeps the run inside an epoch critical
/// section so map memory a program may still hold is not freed under it.
/// </summary>
public sealed class InterpreterExecutor : IProgramExecutor
{
    public ulong Run(ProgramObject program, nint context)
    {
        if (program.Executable is not PreparedProgram prepared)
            throw new BpfException(Errno.ENOTSUPP, $"program {program.Id} ({program.Name}) has no executable form");
        var invocation = HelperInvocation.Current;
        var request = new ExecutionRequest { R1 = (ulong)context, State = invocation };
        int ctxSize = program.TypeInfo.InternalContextSize;
        if (context != 0 && ctxSize > 0)
            request.AddRegion(new MemoryRegion((nuint)context, (nuint)ctxSize, MemoryAccess.ReadWrite, "ctx"));
        switch (invocation?.PacketState)
        {
            case XdpContext xdp:
                request.AddRegion(new MemoryRegion((nuint)xdp.HardStart, XdpContext.FrameSize - XdpContext.Tailroom, MemoryAccess.ReadWrite, "xdp frame"));
                break;
            case SkbContext skb:
                request.AddRegion(new MemoryRegion((nuint)skb.DataPointer, skb.Length, MemoryAccess.ReadWrite, "packet"));
                request.AddRegion(new MemoryRegion((nuint)skb.SockPointer, SkbContext.BpfSockSize, MemoryAccess.Read, "bpf_sock"));
                request.PacketAccess = skb;
                break;
        }
        foreach (var region in prepared.StaticRegions)
            request.AddRegion(region);
        if (invocation is not null)
            invocation.MemoryChecker = static (address, size, write) =>
                Ebpf.Execution.InvocationContext.Current is not { } ctx || ctx.Mode != ExecutionMode.Checked
                || ctx.IsAccessible(address, (int)Math.Min(size, int.MaxValue), write ? MemoryAccess.Write : MemoryAccess.Read);
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
}
