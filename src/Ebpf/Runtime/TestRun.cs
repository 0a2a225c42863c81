using System.Diagnostics;
using Ebpf.Abi;
using Ebpf.Collections;
using Ebpf.Runtime.Helpers;
using Ebpf.Runtime.Objects;
using Ebpf.Runtime.ProgramTypes;

namespace Ebpf.Runtime;

/// <summary>
/// A managed test_run's result: the kernel's fields plus what the runtime can hand the host besides (the kernel keeps
/// an XDP redirect's target in bpf_redirect_info and does not report it).
/// </summary>
public sealed record RuntimeTestRunResult(
    uint ReturnValue, uint Duration, byte[]? DataOut, int DataSizeOut, byte[]? ContextOut, int ContextSizeOut, Errno Error)
    : TestRunResult(ReturnValue, Duration, DataOut, DataSizeOut, ContextOut, ContextSizeOut, Error)
{
    /// <summary>XDP: where the last run's XDP_REDIRECT was headed; null when the program did not return XDP_REDIRECT.</summary>
    public XdpRedirect? Redirect { get; init; }

    /// <summary>XDP with BPF_F_TEST_XDP_LIVE_FRAMES: what happened to the frames.</summary>
    public XdpLiveFrameStats? LiveFrames { get; init; }
}

/// <summary>BPF_PROG_TEST_RUN (program-types.md §3) over the runtime's executor.</summary>
public sealed partial class BpfRuntime
{
    /// <summary>BPF_F_TEST_SKB_CHECKSUM_COMPLETE: the skb gets CHECKSUM_COMPLETE with a checksum over the packet.</summary>
    public const uint TestSkbChecksumComplete = 4;
    /// <summary>BPF_F_TEST_XDP_LIVE_FRAMES: XDP verdicts act on the frames (transmit, redirect) instead of being reported.</summary>
    public const uint TestXdpLiveFrames = 2;
    /// <summary>BPF_F_TEST_RUN_ON_CPU: run on <see cref="TestRunOptions.Cpu"/> instead of the current CPU.</summary>
    public const uint TestRunOnCpu = 1;

    /// <summary>The runtime's network devices (loopback always present).</summary>
    public NetDevices Devices { get; } = new();

    /// <summary>The runtime's network: devices, XDP attachment and frame injection over <see cref="Devices"/>.</summary>
    public Net.VirtualNetwork Network => LazyInitializer.EnsureInitialized(ref _network, () => new Net.VirtualNetwork(this));
    private Net.VirtualNetwork? _network;

    /// <summary>Runs a program once or <c>Repeat</c> times on a context built as the kernel builds it.</summary>
    public RuntimeTestRunResult TestRun(BpfProgram program, TestRunOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var prog = program.Program;
        var type = prog.TypeInfo;
        if (type.TestRun == TestRunKind.None)
            throw new BpfException(Errno.ENOTSUPP, $"program type {prog.Type} has no test_run");
        var executor = Executor ?? throw new BpfException(Errno.ENOTSUPP, "no program executor is installed in this runtime");
        return type.TestRun switch
        {
            TestRunKind.Xdp => RunXdp(prog, type, executor, options),
            TestRunKind.Skb => RunSkb(prog, type, executor, options),
            TestRunKind.RawTracepoint => RunRawTracepoint(prog, executor, options),
            TestRunKind.Syscall => RunSyscall(prog, executor, options),
            _ => throw new BpfException(Errno.ENOTSUPP, $"program type {prog.Type} has no test_run"),
        };
    }

    /// <summary>bpf_ctx_init: no ctx unless ctx_in or ctx_out; bytes of ctx_in beyond max_size must be zero (E2BIG).</summary>
    internal static byte[]? InitContext(TestRunOptions o, int maxSize)
    {
        if (o.ContextIn is null && o.ContextSizeOut is null)
            return null;
        var ctx = new byte[maxSize];
        if (o.ContextIn is { } input)
        {
            for (int i = maxSize; i < input.Length; i++)
                if (input[i] != 0)
                    throw new BpfException(Errno.E2BIG, $"ctx_in byte {i} is beyond sizeof(ctx) = {maxSize} and not zero");
            input.AsSpan(0, Math.Min(input.Length, maxSize)).CopyTo(ctx);
        }
        return ctx;
    }

    /// <summary>Repeats run inside one epoch critical section per chunk (bpf_test_run holds rcu_read_lock the same way, dropping it between batches).</summary>
    private const uint EpochChunk = 1024;

    /// <summary>bpf_test_run's loop: same ctx every iteration, retval of the last run, average duration.</summary>
    internal (uint RetVal, uint Duration) Loop(ProgramObject prog, IProgramExecutor executor, nint ctx, object? packet, uint repeat)
    {
        if (repeat == 0)
            repeat = 1;
        uint retval = 0;
        var invocation = new HelperInvocation(this, prog, ctx) { PacketState = packet };
        using var scope = invocation.Enter();
        // The built-in executor's request is built once for the whole loop (same ctx, same regions).
        PreparedProgram? prepared = null;
        var request = executor is InterpreterExecutor ? InterpreterExecutor.CreateRequest(prog, ctx, out prepared) : null;
        long start = Stopwatch.GetTimestamp();
        for (uint done = 0; done < repeat;)
        {
            uint chunk = Math.Min(EpochChunk, repeat - done);
            Memory.EpochManager.Enter();
            try
            {
                for (uint i = 0; i < chunk; i++)
                {
                    invocation.TailCallCount = 0;
                    invocation.Program = prog;
                    retval = request is not null ? (uint)prepared!.Interpreter.Run(request) : (uint)executor.Run(prog, ctx);
                }
            }
            finally
            {
                Memory.EpochManager.Exit();
            }
            done += chunk;
        }
        double ns = Stopwatch.GetElapsedTime(start).TotalNanoseconds / repeat;
        return (retval, (uint)Math.Min(ns, uint.MaxValue));
    }

    /// <summary>bpf_test_finish + bpf_ctx_finish.</summary>
    internal static RuntimeTestRunResult Finish(TestRunOptions o, uint retval, uint duration, byte[] data, byte[]? ctx, Func<int, byte[]>? enospcLayout = null)
    {
        Errno error = Errno.None;
        byte[]? dataOut = null;
        if (o.DataSizeOut is { } limit)
        {
            if (limit < 0)
                throw new BpfException(Errno.EINVAL, "data_size_out is negative");
            int copy = data.Length;
            if (limit != 0 && data.Length > limit)
            {
                copy = limit;
                error = Errno.ENOSPC;
            }
            dataOut = enospcLayout is not null && copy < data.Length ? enospcLayout(copy) : data.AsSpan(0, copy).ToArray();
        }
        byte[]? ctxOut = null;
        int ctxSize = ctx?.Length ?? 0;
        if (error == Errno.None && ctx is not null && o.ContextSizeOut is { } ctxLimit)
        {
            if (ctxLimit < ctx.Length)
            {
                ctxOut = ctx.AsSpan(0, Math.Max(0, ctxLimit)).ToArray();
                error = Errno.ENOSPC;
            }
            else
                ctxOut = ctx;
        }
        return new RuntimeTestRunResult(retval, duration, dataOut, data.Length, ctxOut, ctxSize, error);
    }

    private RuntimeTestRunResult RunXdp(ProgramObject prog, ProgramTypeInfo type, IProgramExecutor executor, TestRunOptions o)
    {
        if (prog.ExpectedAttachType is AttachType.XdpDevmap or AttachType.XdpCpumap)
            throw new BpfException(Errno.EINVAL, "test_run of devmap/cpumap XDP programs is not supported");
        if (((uint)o.Flags & ~TestXdpLiveFrames) != 0)
            throw new BpfException(Errno.EINVAL, $"flags 0x{(uint)o.Flags:x} not supported for XDP test_run");
        if (((uint)o.Flags & TestXdpLiveFrames) != 0)
        {
            // Not every kernel can run live frames (older ones lack the flag; some builds refuse it): behave as the profile's kernel.
            if (!Profile.HasFeature(Abi.Profiles.KernelFeature.XdpLiveFrames))
                throw new BpfException(Errno.EOPNOTSUPP, $"BPF_F_TEST_XDP_LIVE_FRAMES is not available in kernel {Profile}");
            return XdpLiveFrames.Run(this, prog, executor, o);
        }
        if (o.BatchSize != 0)
            throw new BpfException(Errno.EINVAL, "batch_size is only valid with BPF_F_TEST_XDP_LIVE_FRAMES");
        var ctxIn = InitContext(o, ProgramTypeInfo.XdpMdUserSize);
        using var xdp = XdpContext.Build(o.DataIn ?? [], ctxIn ?? [], ctxIn is not null, Devices);
        var (retval, duration) = Loop(prog, executor, xdp.ContextPointer, xdp, o.Repeat);
        var data = xdp.Output();
        int frags = xdp.FragsSize;
        byte[]? ctxOut = null;
        if (ctxIn is not null)
        {
            ctxOut = xdp.ContextOutput();
            // ingress_ifindex/rx_queue_index are reported as given in ctx_in.
            ctxIn.AsSpan(12, 8).CopyTo(ctxOut.AsSpan(12));
        }
        if (frags > 0 && o.DataSizeOut is { } limit && limit != 0 && limit < data.Length)
        {
            if (limit < frags)
                throw new BpfException(Errno.ENOSPC, $"data_size_out {limit} cannot hold the {frags} frag bytes");
            // Linear prefix first, then all frags (not a prefix of the packet: the kernel's layout).
            return Finish(o, retval, duration, data, ctxOut, copy =>
                data.AsSpan(0, copy - frags).ToArray().Concat(data.AsSpan(data.Length - frags).ToArray()).ToArray())
                with { Redirect = retval == PacketHelpers.XdpRedirect ? xdp.Redirect : null };
        }
        return Finish(o, retval, duration, data, ctxOut) with { Redirect = retval == PacketHelpers.XdpRedirect ? xdp.Redirect : null };
    }

    private RuntimeTestRunResult RunSkb(ProgramObject prog, ProgramTypeInfo type, IProgramExecutor executor, TestRunOptions o)
    {
        if (((uint)o.Flags & ~TestSkbChecksumComplete) != 0)
            throw new BpfException(Errno.EINVAL, $"flags 0x{(uint)o.Flags:x} not supported for skb test_run");
        if (o.Cpu != 0 || o.BatchSize != 0)
            throw new BpfException(Errno.EINVAL, "cpu and batch_size must be 0 for skb test_run");
        var ctxIn = InitContext(o, ProgramTypeInfo.SkBuffUserSize);
        using var skb = SkbContext.Build(type, o.DataIn ?? [], ctxIn, ctxIn is not null, (uint)o.Flags, Devices);
        var (retval, duration) = Loop(prog, executor, skb.ContextPointer, skb, o.Repeat);
        skb.VerifyChecksumComplete(); // EBADMSG before anything is copied out, as the kernel
        return Finish(o, retval, duration, skb.Output(), ctxIn is null ? null : skb.ContextOutput());
    }

    /// <summary>
    /// prog->aux->max_ctx_offset: the end of the furthest context access the verifier accepted
    /// (check_ctx_access records off + size for every access). 0 for a program loaded unverified.
    /// </summary>
    internal static int MaxContextOffset(ProgramObject prog)
    {
        int max = 0;
        foreach (var a in prog.Verification?.Program?.ContextAccesses ?? [])
            max = Math.Max(max, a.Offset + a.Size);
        return max;
    }

    private unsafe RuntimeTestRunResult RunRawTracepoint(ProgramObject prog, IProgramExecutor executor, TestRunOptions o)
    {
        if (o.DataIn is not null || o.DataSizeOut is not null || o.ContextSizeOut is not null || o.Repeat != 0 || o.BatchSize != 0)
            throw new BpfException(Errno.EINVAL, "raw_tracepoint test_run takes only ctx_in");
        int size = o.ContextIn?.Length ?? 0;
        int maxCtx = MaxContextOffset(prog);
        if (size < maxCtx)
            throw new BpfException(Errno.EINVAL, $"ctx_size_in {size} is smaller than the {maxCtx} context bytes the program reads (max_ctx_offset)");
        if (size > 96)
            throw new BpfException(Errno.EINVAL, $"ctx_size_in {size} > 96 (12 u64 arguments)");
        if (o.Cpu != 0 && ((uint)o.Flags & TestRunOnCpu) == 0)
            throw new BpfException(Errno.EINVAL, "cpu given without BPF_F_TEST_RUN_ON_CPU");
        if (((uint)o.Flags & TestRunOnCpu) != 0 && o.Cpu >= (uint)Environment.ProcessorCount)
            throw new BpfException(Errno.ENXIO, $"cpu {o.Cpu} does not exist");
        using var block = new NativeBlock(Math.Max(size, 8));
        o.ContextIn?.CopyTo(block.Span);
        var (retval, _) = Loop(prog, executor, block.Pointer, null, 1);
        return new RuntimeTestRunResult(retval, 0, null, 0, null, 0, Errno.None);
    }

    private RuntimeTestRunResult RunSyscall(ProgramObject prog, IProgramExecutor executor, TestRunOptions o)
    {
        if (o.DataIn is not null || o.DataSizeOut is not null || o.ContextSizeOut is not null || o.Repeat != 0 || o.Flags != TestRunFlags.None || o.BatchSize != 0)
            throw new BpfException(Errno.EINVAL, "syscall test_run takes only ctx_in");
        int size = o.ContextIn?.Length ?? 0;
        int maxCtx = MaxContextOffset(prog);
        if (size < maxCtx)
            throw new BpfException(Errno.EINVAL, $"ctx_size_in {size} is smaller than the {maxCtx} context bytes the program reads (max_ctx_offset)");
        if (size > ushort.MaxValue)
            throw new BpfException(Errno.EINVAL, $"ctx_size_in {size} > 65535");
        using var block = new NativeBlock(Math.Max(size, 8));
        o.ContextIn?.CopyTo(block.Span);
        var (retval, _) = Loop(prog, executor, size == 0 ? 0 : block.Pointer, null, 1);
        // The kernel copies the (possibly modified) ctx back into ctx_in; we hand it back as ContextOut.
        return new RuntimeTestRunResult(retval, 0, null, 0, size == 0 ? null : block.Span[..size].ToArray(), size, Errno.None);
    }
}
