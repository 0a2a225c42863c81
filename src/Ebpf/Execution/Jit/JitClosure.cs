namespace Ebpf.Execution.Jit;

/// <summary>
/// The object compiled functions are bound to (their first IL argument): what the code needs at run time
/// besides registers, i.e. the helper table for helpers that are not direct function pointers.
/// </summary>
internal sealed class JitClosure
{
    private readonly HelperTable _helpers;
    private readonly List<object> _targets = [];
    private bool _frozen;

    /// <summary>Objects that specialised helper calls are bound to (<see cref="HelperSpecialization.Target"/>), by index.</summary>
    public object[] Targets = [];

    public JitClosure(string name, HelperTable helpers)
    {
        Name = name;
        _helpers = helpers;
    }

    public string Name { get; }

    /// <summary>Slots of the compiled functions, by function index (null: the function is called directly).</summary>
    public FunctionSlot?[] SlotsByFunction = [];

    /// <summary>Entries of the slotted functions (their own code), by function index.</summary>
    public JitEntry?[] FunctionEntries = [];

    /// <summary>The interpreter that owns this compiled code (set once it exists).</summary>
    public Interpreter? Owner;

    /// <summary>A call of slotted function <paramref name="function"/> whose slot was found occupied.</summary>
    public ulong CallSlot(int function, ulong r1, ulong r2, ulong r3, ulong r4, ulong r5, ulong framePointer, int depth)
    {
        var slot = SlotsByFunction[function]!;
        var call = new SlotCall
        {
            Program = Owner!, Context = InvocationContext.Current, Depth = depth, Start = slot.Start, FramePointer = framePointer,
            Compiled = FunctionEntries[function], R1 = r1, R2 = r2, R3 = r3, R4 = r4, R5 = r5,
        };
        // Read again: the slot may have been emptied since the compiled code looked.
        return slot.Override is { } takenOver ? takenOver.Invoke(slot, ref call) : call.RunOriginal();
    }

    /// <summary>Marks the end of compilation (nothing is added to a closure that running code can see).</summary>
    public void Freeze()
    {
        Targets = [.. _targets];
        _frozen = true;
    }

    /// <summary>A specialisation for helper <paramref name="id"/> with R1 = <paramref name="constantR1"/>, if the table offers one.</summary>
    public HelperSpecialization? SpecializationOf(long id, ulong constantR1) => _helpers.Specializer?.Invoke(id, constantR1);

    /// <summary>Keeps <paramref name="target"/> for compiled code; returns its index in <see cref="Targets"/>.</summary>
    public int AddTarget(object target)
    {
        int index = _targets.IndexOf(target);
        if (index >= 0)
            return index;
        _targets.Add(target);
        return _targets.Count - 1;
    }

    /// <summary>How many helper call sites were bound to a specialisation.</summary>
    public int SpecializedCallSites { get; set; }

    public bool IsFrozen => _frozen;

    /// <summary>
    /// A helper that was not a function pointer at compile time (a delegate, or registered later): looked up
    /// at call time, as the interpreter does.
    /// </summary>
    public ulong InvokeHelper(long id, int pc, ulong r1, ulong r2, ulong r3, ulong r4, ulong r5)
    {
        if (!_helpers.TryGet(id, out var helper))
            throw new BpfException(Errno.EINVAL, $"{Name}: insn {pc}: invalid func unknown#{id}");
        return helper.Invoke(r1, r2, r3, r4, r5);
    }

    /// <summary>The function pointer of helper <paramref name="id"/> if it is registered as one now (bound at compile time).</summary>
    public unsafe nint DirectPointerOf(long id) =>
        _helpers.TryGet(id, out var helper) && helper.Pointer != null ? (nint)helper.Pointer : 0;

    /// <summary>Before a helper call of a program that passes callbacks: the frame depth a callback must go below.</summary>
    public static void SetCallDepth(int depth)
    {
        if (InvocationContext.Current is { } context)
            context.Depth = depth;
    }

    public static BpfException FellOffEnd(string name, int pc) =>
        new(Errno.EINVAL, $"{name}: insn {pc}: fell off the end of the program (no exit)");

    public static BpfException CallTooDeep(string name, int pc, int depth) =>
        new(Errno.E2BIG, $"{name}: insn {pc}: the call stack of {depth + 2} frames is too deep (at most {Interpreter.MaxFrames})");
}
