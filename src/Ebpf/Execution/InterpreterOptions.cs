using Ebpf.Isa;

namespace Ebpf.Execution;

/// <summary>How a program is prepared for interpretation.</summary>
public sealed class InterpreterOptions
{
    /// <summary>Default checked-mode budget: enough for any verifiable program, small enough to end a runaway one in seconds.</summary>
    public const long DefaultInstructionBudget = 100_000_000;

    /// <summary>Used in error messages.</summary>
    public string Name { get; init; } = "prog";

    /// <summary>Checked (the default: bounds-checked memory, instruction budget) or unchecked execution.</summary>
    public ExecutionMode Mode { get; init; } = ExecutionMode.Checked;

    /// <summary>Helper id -> implementation. Shared, may be filled after loading (resolved at call time).</summary>
    public HelperTable Helpers { get; init; } = new();

    /// <summary>
    /// Structural validation run before decoding (unknown opcodes, reserved fields, lddw halves, jumps
    /// leaving their function, last instruction). Default: kernel rules plus callx, which the interpreter
    /// supports. Null skips it (the decoder still rejects everything the interpreter cannot run safely),
    /// e.g. for a program the verifier has already accepted.
    /// </summary>
    public ValidatorOptions? Validation { get; init; } = ValidatorOptions.Conformance;

    /// <summary>
    /// Unchecked mode: compile the program to native code through IL (<see cref="Interpreter.IsCompiled"/>
    /// says whether it was; <see cref="Interpreter.CompileFailure"/> why not). Helpers registered as function
    /// pointers are bound at load; others are looked up at call time. Ignored in checked mode.
    /// </summary>
    public bool Jit { get; init; }

    /// <summary>
    /// Checked mode, for a program without a verifier's translation: the context's pointer fields, resolved by
    /// address at run time (<see cref="ContextFieldMap"/>). Null for a translated program, whose ctx loads were
    /// rewritten where the verifier proved a ctx pointer.
    /// </summary>
    internal ContextFieldMap? ContextFields { get; init; }

    /// <summary>
    /// Instruction indexes of lddw slots whose original instruction was a pseudo map reference (src 1 or 5)
    /// that the loader resolved to a map pointer. Only a call whose R1 provably holds one of these may be
    /// bound to the map by the JIT (<see cref="HelperTable.Specializer"/>); an ordinary 64-bit constant in R1
    /// never is, whatever its value. Null: no call is bound.
    /// </summary>
    internal IReadOnlySet<int>? MapPointerLoads { get; init; }

    /// <summary>Loads the verifier typed as BPF_PROBE_MEM (through a typed kernel pointer): both engines perform them
    /// with <see cref="ProbeMemory.Load"/>, which reads 0 from memory the runtime has not opened to the run.</summary>
    internal IReadOnlySet<int>? ProbeLoads { get; init; }

    /// <summary>
    /// The functions whose calls go through a <see cref="FunctionSlot"/> (an extension or trampoline can take them
    /// over without recompiling). Shared by every engine built for the same program (the unchecked and the checked
    /// interpreter see the same slots). Null: no function is slotted.
    /// </summary>
    public IReadOnlyList<FunctionSlot>? FunctionSlots { get; init; }

    /// <summary>Checked mode: executed instructions after which the run ends with ETIME.</summary>
    public long InstructionBudget { get; init; } = DefaultInstructionBudget;
}
