namespace Ebpf.Execution;

/// <summary>
/// The indirection every call of one function of a loaded program goes through (the runtime's analogue of the
/// patchable first instruction the kernel pokes a jump or a trampoline call into). Empty, a call runs the
/// function's own code and costs one load and one test; an attach installs a <see cref="FunctionOverride"/> with
/// ONE reference store, so every call sees either the old or the new target, never a mix. The interpreter and the
/// JIT both read the same slot, so attaching never recompiles the program.
/// </summary>
public sealed class FunctionSlot
{
    private FunctionOverride? _override;

    /// <summary>An empty slot for the function starting at instruction <paramref name="start"/>.</summary>
    /// <param name="start">The function's first instruction in the executed program.</param>
    /// <param name="name">The function's name, for diagnostics.</param>
    public FunctionSlot(int start, string name)
    {
        Start = start;
        Name = name;
    }

    /// <summary>Instruction index (in the executed program) of the function's first instruction.</summary>
    public int Start { get; }

    /// <summary>The function's name (func_info), for diagnostics.</summary>
    public string Name { get; }

    /// <summary>What calls of the function run instead of (or around) its code; null = its own code.</summary>
    public FunctionOverride? Override
    {
        get => Volatile.Read(ref _override);
        set => Volatile.Write(ref _override, value);
    }

    /// <summary>The field the JIT reads directly (a plain load; the store side is a release store).</summary>
    internal static readonly System.Reflection.FieldInfo OverrideField =
        typeof(FunctionSlot).GetField(nameof(_override), System.Reflection.BindingFlags.Instance | System.Reflection.BindingFlags.NonPublic)!;

    /// <summary>The function as <c>name@start</c>, for diagnostics.</summary>
    public override string ToString() => $"{Name}@{Start}";
}

/// <summary>
/// What a call through an occupied <see cref="FunctionSlot"/> runs: an extension program in place of the function,
/// or a trampoline calling tracing programs around it. Implemented by the runtime (it knows programs, epochs and
/// helper state); the execution engines only hand over the arguments and a way to run the original code.
/// </summary>
public abstract class FunctionOverride
{
    /// <summary>Runs the call; <paramref name="call"/> can run the function's own code (<see cref="SlotCall.RunOriginal"/>).</summary>
    public abstract ulong Invoke(FunctionSlot slot, ref SlotCall call);
}

/// <summary>One call of a slotted function: its five argument registers and the way back into the original code.</summary>
public unsafe ref struct SlotCall
{
    internal Interpreter Program;
    internal InvocationContext? Context;
    internal int Start;
    internal int Depth;           // frame depth of the caller (the callee runs one deeper)
    internal ulong FramePointer;  // r10 of the caller
    internal Jit.JitEntry? Compiled; // the JIT's entry of this function (null: interpreter)
    internal bool IsEntry;        // the program's main function, called from outside

    /// <summary>The argument registers R1–R5 as the caller set them; an override may change them before
    /// <see cref="RunOriginal"/>.</summary>
    public ulong R1, R2, R3, R4, R5;

    /// <summary>The interpreter (or compiled program) the call belongs to.</summary>
    public readonly Interpreter Target => Program;

    /// <summary>The invocation the call happens in (null for an entry call of a program that calls no helper).</summary>
    internal readonly InvocationContext? Invocation => Context;

    /// <summary>Runs the function's own code with the current R1–R5 and returns its R0.</summary>
    public readonly ulong RunOriginal() => Program.RunOriginal(in this);
}
