using Ebpf.Isa;

namespace Ebpf.Execution;

/// <summary>
/// A program prepared for interpretation: decoded once, then runnable any number of times from any
/// number of threads at once (all mutable state lives in the per-invocation <see cref="InvocationContext"/>
/// and on the calling thread's stack).
/// </summary>
/// <example>
/// <code>
/// var prog = Interpreter.Load(instructions, new InterpreterOptions { Helpers = HelperTable.ForConformance() });
/// ulong r0 = prog.Run(new ExecutionRequest { R1 = addr, R2 = len }.AddRegion(new MemoryRegion(addr, len, MemoryAccess.ReadWrite, "mem")));
/// </code>
/// </example>
public sealed unsafe partial class Interpreter
{
    /// <summary>Bytes of stack per frame (MAX_BPF_STACK).</summary>
    public const int StackSize = 512;

    /// <summary>Most nested bpf-to-bpf frames (MAX_CALL_FRAMES).</summary>
    public const int MaxFrames = 8;

    private readonly DecodedInstruction[] _code; // pinned: function references are addresses into it
    private readonly DecodedInstruction* _codePointer;

    private readonly Jit.JitEntry? _compiled;

    private Interpreter(DecodedInstruction[] code, int length, InterpreterOptions options, Jit.JitEntry? compiled, string? compileFailure, int compiledSize)
    {
        _compiled = compiled;
        CompiledSize = compiledSize;
        CompileFailure = compileFailure;
        _code = code;
        _codePointer = (DecodedInstruction*)System.Runtime.CompilerServices.Unsafe.AsPointer(ref code[0]);
        InstructionCount = length;
        Name = options.Name;
        Mode = options.Mode;
        Helpers = options.Helpers;
        InstructionBudget = options.InstructionBudget;
    }

    public string Name { get; }
    public ExecutionMode Mode { get; }
    public HelperTable Helpers { get; }
    public long InstructionBudget { get; }

    /// <summary>True when runs execute JIT-compiled native code (<see cref="InterpreterOptions.Jit"/>) rather than the interpreter loop.</summary>
    public bool IsCompiled => _compiled is not null;

    /// <summary>Bytes of IL the JIT emitted (0 when not compiled). RyuJIT's native code size is not observable from .NET.</summary>
    public int CompiledSize { get; }

    /// <summary>Why the JIT was asked for but did not take the program (it then runs interpreted), or null.</summary>
    public string? CompileFailure { get; }

    /// <summary>Slots in the program (an lddw counts two).</summary>
    public int InstructionCount { get; }

    /// <summary>
    /// Validates (<see cref="InterpreterOptions.Validation"/>), decodes and structurally checks
    /// <paramref name="program"/> (unknown opcodes, invalid registers, lddw halves, jump and call targets). Unresolved map/BTF/kfunc references are rejected: the
    /// loader resolves them first. Throws <see cref="BpfException"/> naming the instruction.
    /// </summary>
    public static Interpreter Load(ReadOnlySpan<Instruction> program, InterpreterOptions? options = null)
    {
        options ??= new InterpreterOptions();
        if (options.InstructionBudget <= 0)
            throw new ArgumentOutOfRangeException(nameof(options), "InstructionBudget must be positive");
        if (options.Validation is not null)
        {
            try
            {
                ProgramValidator.Validate(program, options.Validation);
            }
            catch (BpfException e)
            {
                throw new BpfException(e.Errno, $"{options.Name}: {e.Message}", e) { Log = e.Log };
            }
        }
        var code = ProgramDecoder.Decode(program, options.Name);
        Jit.JitEntry? compiled = null;
        string? compileFailure = null;
        int compiledSize = 0;
        if (options.Mode == ExecutionMode.Unchecked && options.Jit)
            compiled = Jit.JitCompiler.TryCompile(code, program.Length, options.Helpers, options.Name, out compileFailure, out compiledSize);
        if (options.Mode == ExecutionMode.Unchecked)
            ProgramFuser.Fuse(code, program.Length); // after compiling: the JIT reads the plain operations
        return new Interpreter(code, program.Length, options, compiled, compileFailure, compiledSize);
    }

    /// <summary>Runs with r1 = <paramref name="r1"/> (usually the ctx pointer) and no other regions.</summary>
    public ulong Run(ulong r1 = 0) => Run(r1, 0, 0, 0, 0, null);

    /// <summary>Runs with the request's registers, regions and per-invocation state; returns r0.</summary>
    public ulong Run(ExecutionRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        return Run(request.R1, request.R2, request.R3, request.R4, request.R5, request);
    }

    /// <summary>The function reference (as <c>lddw rX, func</c> produces it) of the instruction at <paramref name="index"/>.</summary>
    public ulong FunctionReference(int index)
    {
        if ((uint)index >= (uint)InstructionCount)
            throw new ArgumentOutOfRangeException(nameof(index));
        return (ulong)(_codePointer + index);
    }

    /// <summary>The instruction index a function reference of this program points to, or -1.</summary>
    public int FunctionIndexOf(ulong reference)
    {
        ulong start = (ulong)_codePointer;
        if (reference < start)
            return -1;
        ulong delta = reference - start;
        if (delta % (ulong)sizeof(DecodedInstruction) != 0 || delta / (ulong)sizeof(DecodedInstruction) >= (ulong)InstructionCount)
            return -1;
        int index = (int)(delta / (ulong)sizeof(DecodedInstruction));
        return _code[index].Op == Operation.LoadImm64Tail ? -1 : index;
    }

    [System.Runtime.CompilerServices.SkipLocalsInit]
    private ulong Run(ulong r1, ulong r2, ulong r3, ulong r4, ulong r5, ExecutionRequest? request)
    {
        // The stack of all frames of this invocation: native memory on the host thread's stack, stable
        // for the whole run. Frame 0 is at the top; r10 points one past its end.
        byte* stack = stackalloc byte[StackSize * MaxFrames];
        ulong* regs = stackalloc ulong[16];
        // Registers start at 0 in both modes (deterministic even for a program that reads one before writing it).
        new Span<ulong>(regs, 16).Clear();
        if (Mode == ExecutionMode.Checked)
        {
            // Unverified code may read stack it never wrote: do not show it host stack contents.
            new Span<byte>(stack, StackSize * MaxFrames).Clear();
        }
        byte* top = stack + StackSize * MaxFrames;
        regs[1] = r1;
        regs[2] = r2;
        regs[3] = r3;
        regs[4] = r4;
        regs[5] = r5;
        regs[10] = (ulong)top;
        var context = InvocationContext.Enter(this, request, stack, top);
        try
        {
            if (Mode == ExecutionMode.Checked)
                return Execute<CheckedMode>(context, this, 0, regs, 0);
            return _compiled is { } compiled
                ? compiled(0, r1, r2, r3, r4, r5, 0, 0, 0, 0, (ulong)top, 0)
                : Execute<UncheckedMode>(context, this, 0, regs, 0);
        }
        finally
        {
            context.Leave();
        }
    }

    /// <summary>Runs the function at <paramref name="index"/> one frame deeper (a callback called by a helper).</summary>
    [System.Runtime.CompilerServices.SkipLocalsInit]
    internal ulong ExecuteCallback(InvocationContext context, int index, ulong r1, ulong r2, ulong r3, ulong r4, ulong r5)
    {
        int depth = context.Depth + 1;
        if (depth >= MaxFrames)
            throw new BpfException(Errno.E2BIG, $"{Name}: callback at insn {index}: the call stack of {depth + 1} frames is too deep");
        ulong* regs = stackalloc ulong[16];
        new Span<ulong>(regs, 16).Clear();
        regs[1] = r1;
        regs[2] = r2;
        regs[3] = r3;
        regs[4] = r4;
        regs[5] = r5;
        regs[10] = (ulong)(context.StackTop - depth * StackSize);
        if (context.Mode == ExecutionMode.Checked)
            new Span<byte>(context.StackTop - (depth + 1) * StackSize, StackSize).Clear();
        int savedDepth = context.Depth;
        var savedProgram = context.Program;
        try
        {
            return context.Mode == ExecutionMode.Checked
                ? Execute<CheckedMode>(context, this, index, regs, depth)
                : Execute<UncheckedMode>(context, this, index, regs, depth);
        }
        finally
        {
            context.Depth = savedDepth;
            context.Program = savedProgram;
        }
    }

    public override string ToString() => $"{Name} ({InstructionCount} insns, {Mode})";
}
