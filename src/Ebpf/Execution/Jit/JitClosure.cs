namespace Ebpf.Execution.Jit;

/// <summary>
/// The object compiled functions are bound to (their first IL argument): what the code needs at run time
/// besides registers, i.e. the helper table for helpers that are not direct function pointers.
/// </summary>
internal sealed class JitClosure
{
    private readonly HelperTable _helpers;
    private bool _frozen;

    public JitClosure(string name, HelperTable helpers)
    {
        Name = name;
        _helpers = helpers;
    }

    public string Name { get; }

    /// <summary>Marks the end of compilation (nothing is added to a closure that running code can see).</summary>
    public void Freeze() => _frozen = true;

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
