namespace Ebpf.Execution;

/// <summary>
/// The state of one running invocation, reachable from helpers through <see cref="Current"/> (a
/// thread-static, so concurrent invocations on different threads never see each other's state, and a
/// helper that runs another program nests correctly). Valid only while the invocation runs.
/// </summary>
public sealed unsafe class InvocationContext
{
    /// <summary>At most this many programs in one tail-call chain (the kernel's MAX_TAIL_CALL_CNT).</summary>
    public const int MaxTailCalls = 33;

    [ThreadStatic] private static InvocationContext? t_current;
    [ThreadStatic] private static InvocationContext? t_cached;

    private MemoryRegion[] _regions = new MemoryRegion[4];
    private int _regionCount;
    private InvocationContext? _previous;
    private bool _inUse;

    internal readonly Interpreter?[] FramePrograms = new Interpreter?[Interpreter.MaxFrames];
    internal byte* StackBase;
    internal byte* StackTop;
    internal int Depth;
    internal long Budget;
    internal long InitialBudget;
    internal Interpreter? PendingTailCall;

    private InvocationContext() { }

    /// <summary>The invocation running on this thread (null outside a program).</summary>
    public static InvocationContext? Current => t_current;

    /// <summary>The program now running (changes on a tail call).</summary>
    public Interpreter Program { get; internal set; } = null!;

    /// <summary>The program the invocation started with.</summary>
    public Interpreter EntryProgram { get; private set; } = null!;

    public ExecutionMode Mode { get; private set; }

    /// <summary>Whatever the caller passed in <see cref="ExecutionRequest.State"/>.</summary>
    public object? State { get; set; }

    public ILegacyPacketAccess? PacketAccess { get; private set; }

    /// <summary>Tail calls taken so far in this invocation.</summary>
    public int TailCallCount { get; private set; }

    /// <summary>Current bpf-to-bpf call depth (0 = the entry function).</summary>
    public int CallDepth => Depth;

    /// <summary>Instructions executed so far (counted in checked mode only; 0 when unchecked).</summary>
    public long InstructionsExecuted => Mode == ExecutionMode.Checked ? InitialBudget - Budget : 0;

    /// <summary>The regions registered for this invocation (stack frames not included).</summary>
    public ReadOnlySpan<MemoryRegion> Regions => _regions.AsSpan(0, _regionCount);

    /// <summary>
    /// Lets the program touch one more region for the rest of this invocation (e.g. a helper returning a
    /// pointer to a map value registers that value first).
    /// </summary>
    public void AddRegion(MemoryRegion region)
    {
        if (_regionCount == _regions.Length)
            Array.Resize(ref _regions, _regions.Length * 2);
        _regions[_regionCount++] = region;
    }

    /// <summary>
    /// True if the program may access [address, address+size) this way: inside an active stack frame or a
    /// region. Helpers use it in checked mode to validate pointers they are given.
    /// </summary>
    public bool IsAccessible(ulong address, int size, MemoryAccess access) => FindViolation(address, size, access, Depth) is null;

    /// <summary>
    /// Replaces the running program by <paramref name="target"/> when the current helper returns (the
    /// mechanism behind bpf_tail_call). Returns false, and changes nothing, when the chain already holds
    /// <see cref="MaxTailCalls"/> tail calls: the caller then continues, as in the kernel.
    /// </summary>
    public bool TryTailCall(Interpreter target)
    {
        ArgumentNullException.ThrowIfNull(target);
        if (TailCallCount >= MaxTailCalls)
            return false;
        TailCallCount++;
        PendingTailCall = target;
        return true;
    }

    /// <summary>
    /// Calls a BPF function through a reference produced by <c>lddw rX, func</c> (bpf_loop,
    /// bpf_for_each_map_elem, … callbacks) in a new frame of this invocation and returns its r0.
    /// </summary>
    public ulong CallFunction(ulong functionReference, ulong r1 = 0, ulong r2 = 0, ulong r3 = 0, ulong r4 = 0, ulong r5 = 0)
    {
        var program = Program;
        int index = program.FunctionIndexOf(functionReference);
        if (index < 0)
            throw new BpfException(Errno.EINVAL, $"{program.Name}: 0x{functionReference:x} is not a function reference of this program");
        return program.ExecuteCallback(this, index, r1, r2, r3, r4, r5);
    }

    internal string? FindViolation(ulong address, int size, MemoryAccess access, int depth)
    {
        ulong stackLow = (ulong)(StackTop - (depth + 1) * Interpreter.StackSize);
        if (address >= stackLow && address + (ulong)size <= (ulong)StackTop && address + (ulong)size >= address)
            return null;
        string? permission = null;
        for (int i = 0; i < _regionCount; i++)
        {
            ref readonly var region = ref _regions[i];
            if (!region.Contains(address, size))
                continue;
            if ((region.Access & access) == access)
                return null;
            permission ??= $"{Kind(access)} access of size {size} at 0x{address:x} to {region.Name}, which is {(region.Access == MemoryAccess.None ? "inaccessible" : region.Access == MemoryAccess.Read ? "read-only" : "write-only")}";
        }
        return permission ?? $"{Kind(access)} access of size {size} at 0x{address:x} outside any region";
    }

    private static string Kind(MemoryAccess access) => access switch
    {
        MemoryAccess.Read => "read",
        MemoryAccess.Write => "write",
        _ => "atomic",
    };

    internal static InvocationContext Enter(Interpreter program, ExecutionRequest? request, byte* stackBase, byte* stackTop)
    {
        var context = t_cached;
        if (context is null || context._inUse)
        {
            context = new InvocationContext();
            t_cached ??= context;
        }
        context._inUse = true;
        context.Program = program;
        context.EntryProgram = program;
        context.Mode = program.Mode;
        context.State = request?.State;
        context.PacketAccess = request?.PacketAccess;
        context.TailCallCount = 0;
        context.PendingTailCall = null;
        context.Depth = 0;
        context.StackBase = stackBase;
        context.StackTop = stackTop;
        context.InitialBudget = context.Budget = request?.InstructionBudget ?? program.InstructionBudget;
        context._regionCount = 0;
        if (request is not null && program.Mode == ExecutionMode.Checked)
        {
            foreach (var region in request.Regions)
                context.AddRegion(region);
        }
        context._previous = t_current;
        t_current = context;
        return context;
    }

    internal void Leave()
    {
        t_current = _previous;
        _previous = null;
        State = null;
        PacketAccess = null;
        PendingTailCall = null;
        // The thread keeps this object for its next invocation: drop references so it keeps nothing alive.
        Program = null!;
        EntryProgram = null!;
        Array.Clear(FramePrograms);
        Array.Clear(_regions, 0, _regionCount);
        _regionCount = 0;
        _inUse = false;
    }
}
