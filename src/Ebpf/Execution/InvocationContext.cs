namespace Ebpf.Execution;

/// <summary>
/// The state of one running invocation, reachable from helpers through <see cref="Current"/> (a
/// thread-static, so concurrent invocations on different threads never see each other's state, and a
/// helper that runs another program nests correctly). Valid only while the invocation runs.
/// </summary>
internal sealed unsafe class InvocationContext
{
    /// <summary>At most this many programs in one tail-call chain (the kernel's MAX_TAIL_CALL_CNT).</summary>
    public const int MaxTailCalls = 33;


    private MemoryRegion[] _regions = new MemoryRegion[4];
    private int _regionCount;
    // Regions that belong to the context's owner (a runner's ctx and global data): kept across invocations.
    private int _baseRegionCount;
    private InvocationContext? _previous;
    private Interpreter? _currentProgram; // null = EntryProgram (no tail call taken)
    private bool _inUse;
    private ExecutionThread? _publishedOn; // set while this invocation is InvocationContext.Current (its program can call helpers)
    private readonly bool _owned;

    internal readonly Interpreter?[] FramePrograms = new Interpreter?[Interpreter.MaxFrames];
    internal byte* StackTop;
    internal int Depth;
    internal long Budget;
    internal long InitialBudget;
    internal Interpreter? PendingTailCall;
    /// <summary>r1 at the entry of the invocation: the ctx an untranslated program's pointer fields are read from.</summary>
    internal ulong ContextAddress;

    private InvocationContext(bool owned) => _owned = owned;

    /// <summary>The invocation running on this thread (null outside a program).</summary>
    public static InvocationContext? Current => ExecutionThread.CurrentOrNull?.Invocation;

    /// <summary>The program now running (changes on a tail call).</summary>
    public Interpreter Program
    {
        get => _currentProgram ?? EntryProgram;
        internal set => _currentProgram = value;
    }

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
        if (!TryCountTailCall())
            return false;
        PendingTailCall = target;
        return true;
    }

    /// <summary>
    /// The counting step of bpf_tail_call, in the kernel's order (___bpf_prog_run, the x86 JIT): after the
    /// index bounds check and before the slot is read, so a tail call to an empty slot still uses up one
    /// of the <see cref="MaxTailCalls"/>. False, without counting, when the limit is reached.
    /// </summary>
    public bool TryCountTailCall()
    {
        if (TailCallCount >= MaxTailCalls)
            return false;
        TailCallCount++;
        return true;
    }

    /// <summary>
    /// Replaces the running program by <paramref name="target"/> when the current helper returns, after
    /// <see cref="TryCountTailCall"/> allowed it.
    /// </summary>
    public void SetTailCallTarget(Interpreter target)
    {
        ArgumentNullException.ThrowIfNull(target);
        PendingTailCall = target;
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

    /// <summary>
    /// A context owned by one caller (a runner) for repeated invocations of <paramref name="program"/>:
    /// program, mode, state and packet hook are set once, so starting an invocation is a few stores.
    /// Not usable by two invocations at once (<see cref="Interpreter.Run(InvocationContext, ulong, ExecutionThread?)"/> checks).
    /// </summary>
    internal static InvocationContext CreateOwned(Interpreter program, object? state, ILegacyPacketAccess? packetAccess) =>
        new(owned: true)
        {
            EntryProgram = program,
            Mode = program.Mode,
            State = state,
            PacketAccess = packetAccess,
        };

    /// <summary>Adds a region kept for every invocation of an owned context; returns its index.</summary>
    internal int AddBaseRegion(MemoryRegion region)
    {
        if (_inUse || _regionCount != _baseRegionCount)
            throw new InvalidOperationException("base regions can only be added between invocations");
        AddRegion(region);
        return _baseRegionCount++;
    }

    /// <summary>Replaces base region <paramref name="index"/> (a runner's ctx region, which moves with each call).</summary>
    internal void SetBaseRegion(int index, in MemoryRegion region) => _regions[index] = region;

    internal bool InUse => _inUse;

    internal ReadOnlySpan<MemoryRegion> BaseRegions => _regions.AsSpan(0, _baseRegionCount);

    /// <summary>The thread's shared context, set up for one invocation of <paramref name="program"/> (see <see cref="End"/>).</summary>
    internal static InvocationContext Rent(Interpreter program, ExecutionRequest? request)
    {
        var context = Rent(program, request?.State, request?.PacketAccess);
        if (request is not null && program.Mode == ExecutionMode.Checked)
        {
            foreach (var region in request.Regions)
                context.AddRegion(region);
        }
        return context;
    }

    /// <summary>The thread's shared context for one invocation with no regions besides the stack.</summary>
    internal static InvocationContext Rent(Interpreter program, object? state, ILegacyPacketAccess? packetAccess)
    {
        var thread = ExecutionThread.Current;
        var context = thread.CachedContext;
        if (context is null || context._inUse)
        {
            context = new InvocationContext(owned: false);
            thread.CachedContext ??= context;
        }
        context.EntryProgram = program;
        context.Mode = program.Mode;
        if (state is not null)
            context.State = state;
        if (packetAccess is not null)
            context.PacketAccess = packetAccess;
        return context;
    }

    /// <summary>
    /// Starts an invocation on this context: per-invocation state back to its initial values, and the
    /// context published as <see cref="Current"/> when the program can call helpers (nobody else can observe it).
    /// </summary>
    internal void Begin(byte* stackTop, long budget, ExecutionThread? thread)
    {
        _inUse = true;
        Depth = 0;
        TailCallCount = 0;
        StackTop = stackTop;
        if (Mode == ExecutionMode.Checked)
            InitialBudget = Budget = budget;
        if (EntryProgram.HasHelperCalls)
        {
            thread ??= ExecutionThread.Current;
            // Reference stores cost a GC write barrier each; the outermost invocation has no previous one to save.
            if (thread.Invocation is { } previous)
                _previous = previous;
            thread.Invocation = this;
            _publishedOn = thread;
        }
    }

    /// <summary>Ends the invocation started by <see cref="Begin"/>; a rented context goes back to the thread.</summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
    internal void End()
    {
        if (_publishedOn is { } thread)
        {
            if (_previous is { } previous)
            {
                thread.Invocation = previous;
                _previous = null;
            }
            else
            {
                thread.Invocation = null;
            }
            _publishedOn = null;
        }
        // The common case of a verified runner: nothing else to undo.
        if (!_owned || PendingTailCall is not null || _currentProgram is not null || TailCallCount != 0
            || _regionCount != _baseRegionCount || EntryProgram.HasLocalCalls)
            Reset();
        _inUse = false;
    }

    /// <summary>
    /// Reserves the context while an override runs in place of its entry function: programs the override runs meanwhile
    /// rent other contexts, so this one is intact when the override runs the original code (<see cref="Unhold"/>).
    /// </summary>
    internal void Hold() => _inUse = true;

    internal void Unhold() => _inUse = false;

    /// <summary>A rented context that no invocation began (its entry function was taken over): give it back clean.</summary>
    internal void AbandonIfUnused()
    {
        // EntryProgram null: the original entry function ran on it and its End already gave it back clean.
        if (!_inUse && !_owned && EntryProgram is not null)
            Reset();
    }

    private void Reset()
    {
        PendingTailCall = null;
        // Frames and tail calls may leave other programs referenced here: drop them so the context keeps
        // nothing alive. Only when the program can have made them (the clear is not free).
        if (EntryProgram.HasLocalCalls || _currentProgram is not null || TailCallCount != 0)
        {
            _currentProgram = null;
            Array.Clear(FramePrograms);
        }
        if (_regionCount != _baseRegionCount)
        {
            Array.Clear(_regions, _baseRegionCount, _regionCount - _baseRegionCount);
            _regionCount = _baseRegionCount;
        }
        if (!_owned)
        {
            // The thread keeps this object for its next invocation: drop references so it keeps nothing alive.
            State = null;
            PacketAccess = null;
            EntryProgram = null!;
        }
    }
}
