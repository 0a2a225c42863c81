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
    /// <summary>The thread's current invocation behind one thread-static, fetched once per Enter (thread-static access is a helper call).</summary>
    internal sealed class ThreadSlot
    {
        public HelperInvocation? Current;
    }

    [ThreadStatic]
    private static ThreadSlot? t_slot;

    private HelperInvocation? _outer;

    public HelperInvocation(BpfRuntime runtime, ProgramObject? program, nint context, TaskModel? task = null, ulong cookie = 0, ulong funcIp = 0)
    {
        Runtime = runtime;
        Program = program;
        Context = context;
        Task = task ?? runtime.CurrentTask;
        Cookie = cookie;
        FuncIp = funcIp;
    }

    /// <summary>The invocation running on this thread, or null outside a program.</summary>
    public static HelperInvocation? Current => t_slot?.Current;

    /// <summary>The current invocation; EINVAL-free access for helpers that need one.</summary>
    internal static HelperInvocation Require() =>
        Current ?? throw new InvalidOperationException("BPF helper called outside a program invocation");

    public BpfRuntime Runtime { get; }
    public ProgramObject? Program { get; internal set; }
    public nint Context { get; internal set; }
    public TaskModel Task { get; }
    public ulong Cookie { get; }
    public ulong FuncIp { get; }
    /// <summary>Tail calls taken so far (MAX_TAIL_CALL_CNT = 33).</summary>
    public int TailCallCount { get; set; }
    /// <summary>Per-CPU printk/perf nesting depth (more than 3 → EBUSY).</summary>
    internal int PrintNesting { get; set; }
    /// <summary>Where bpf_redirect* recorded the target (ifindex or map/key), for the caller of the program.</summary>
    public ulong RedirectTarget { get; set; }
    /// <summary>
    /// Validates helper memory accesses (address, size, write) when the program is not verified
    /// (the checked interpreter installs it); null = trusted pointers.
    /// </summary>
    public Func<ulong, ulong, bool, bool>? MemoryChecker { get; set; }
    /// <summary>Packet state of skb/xdp contexts (set by the context builders).</summary>
    public object? PacketState { get; set; }

    /// <summary>Makes this the current invocation until the returned scope is disposed.</summary>
    public Scope Enter()
    {
        var slot = t_slot ??= new ThreadSlot();
        var outer = slot.Current;
        if (outer is not null || _outer is not null)
            _outer = outer; // a reference store is a GC write barrier: skip it when it would store null over null
        slot.Current = this;
        return new Scope(this, slot);
    }

    public readonly struct Scope : IDisposable
    {
        private readonly HelperInvocation? _invocation;
        private readonly ThreadSlot? _slot;

        public Scope(HelperInvocation invocation) : this(invocation, t_slot) { }

        internal Scope(HelperInvocation invocation, ThreadSlot? slot)
        {
            _invocation = invocation;
            _slot = slot;
        }

        public void Dispose()
        {
            if (_slot is { } slot && ReferenceEquals(slot.Current, _invocation))
                slot.Current = _invocation!._outer;
        }
    }
}
