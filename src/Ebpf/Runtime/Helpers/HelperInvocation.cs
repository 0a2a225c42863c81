using System.Runtime.CompilerServices;
using Ebpf.Execution;
using Ebpf.Runtime.Objects;

namespace Ebpf.Runtime.Helpers;

/// <summary>
/// Per-invocation state that helpers reach (runtime, program, ctx, current task, attach cookie,
/// tail-call count, printk nesting). Thread-static and stacked: each program invocation pushes one
/// and pops it when done, so concurrent invocations on different threads never see each other's
/// state, and a nested invocation (a program run from a helper) restores the outer one.
/// </summary>
public sealed class HelperInvocation
{

    private HelperInvocation? _outer;

    internal HelperInvocation(BpfRuntime runtime, ProgramObject? program, nint context, TaskModel? task = null, ulong cookie = 0, ulong funcIp = 0)
    {
        Runtime = runtime;
        Program = program;
        Context = context;
        Task = task ?? runtime.CurrentTask;
        Cookie = cookie;
        FuncIp = funcIp;
    }

    /// <summary>The invocation running on this thread, or null outside a program.</summary>
    public static HelperInvocation? Current =>
        ExecutionThread.CurrentOrNull?.HelperInvocation is { } current ? Unsafe.As<HelperInvocation>(current) : null;

    /// <summary>The current invocation; EINVAL-free access for helpers that need one.</summary>
    internal static HelperInvocation Require() =>
        Current ?? throw new InvalidOperationException("BPF helper called outside a program invocation");

    /// <summary>The runtime the program runs in: its maps, devices, trace log and clock.</summary>
    public BpfRuntime Runtime { get; }
    /// <summary>The running program (after a tail call, the callee); null for a bare interpreter run.</summary>
    public ProgramObject? Program { get; internal set; }
    /// <summary>The address of the context the program was given in R1 (packet, pt_regs, tracing arguments, …).</summary>
    public nint Context { get; internal set; }
    /// <summary>The task the program runs on behalf of (bpf_get_current_pid_tgid and friends read it).</summary>
    public TaskModel Task { get; }
    /// <summary>The attachment's BPF cookie (bpf_get_attach_cookie), 0 when the attachment has none.</summary>
    public ulong Cookie { get; }
    /// <summary>The traced function's address for tracing programs (bpf_get_func_ip), otherwise 0.</summary>
    public ulong FuncIp { get; }
    /// <summary>Tail calls taken so far (MAX_TAIL_CALL_CNT = 33).</summary>
    internal int TailCallCount { get; set; }
    /// <summary>Per-CPU printk/perf nesting depth (more than 3 → EBUSY).</summary>
    internal int PrintNesting { get; set; }

    /// <summary>Checked runs: ring buffer records reserved and not yet submitted or discarded (null until the first).</summary>
    internal List<(Maps.RingBufMap Ring, ulong Record)>? OpenRecords { get; set; }

    /// <summary>Checked runs: the bpf_spin_lock word this invocation holds, or 0.</summary>
    internal ulong HeldSpinLock { get; set; }
    /// <summary>Where bpf_redirect* recorded the target (ifindex or map/key), for the caller of the program.</summary>
    internal ulong RedirectTarget { get; set; }
    /// <summary>
    /// Validates helper memory accesses (address, size, write) when the program is not verified
    /// (the checked interpreter installs it); null = trusted pointers.
    /// </summary>
    internal Func<ulong, ulong, bool, bool>? MemoryChecker { get; set; }
    /// <summary>An iterator run: its seq_file (what the seq helpers write to) and the address the program sees as
    /// <c>meta-&gt;seq</c>, which they must be given.</summary>
    internal Iterators.SeqFile? IterSeq { get; set; }
    internal nint IterSeqAddress { get; set; }
    /// <summary>Packet state of skb/xdp contexts (set by the context builders).</summary>
    internal object? PacketState { get; set; }

    /// <summary>Makes this the current invocation until the returned scope is disposed.</summary>
    internal Scope Enter() => Enter(ExecutionThread.Current);

    /// <summary><see cref="Enter()"/> on the caller's already fetched thread state (one thread-static access per run).</summary>
    internal Scope Enter(ExecutionThread thread)
    {
        var outer = Unsafe.As<HelperInvocation?>(thread.HelperInvocation);
        if (outer is not null || _outer is not null)
            _outer = outer; // a reference store is a GC write barrier: skip it when it would store null over null
        thread.HelperInvocation = this;
        return new Scope(this, thread);
    }

    internal readonly struct Scope : IDisposable
    {
        private readonly HelperInvocation? _invocation;
        private readonly ExecutionThread? _thread;

        public Scope(HelperInvocation invocation) : this(invocation, ExecutionThread.Current) { }

        internal Scope(HelperInvocation invocation, ExecutionThread thread)
        {
            _invocation = invocation;
            _thread = thread;
        }

        public void Dispose()
        {
            if (_invocation is { HeldSpinLock: not 0 })
                LockHelpers.ReleaseLeftHeld(_invocation); // a checked run that exited holding its lock must not poison it
            if (_invocation is { OpenRecords.Count: > 0 })
                MapHelpers.DiscardLeftOpen(_invocation); // nor stall its ring buffer with a record left busy
            if (_thread is { } thread && ReferenceEquals(thread.HelperInvocation, _invocation))
                thread.HelperInvocation = _invocation!._outer;
        }
    }
}
