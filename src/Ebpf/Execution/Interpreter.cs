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

    // Slots of the functions an extension or trampoline may take over, by start instruction (null: none slotted).
    private readonly FunctionSlot?[]? _slotAt;
    private readonly FunctionSlot? _entrySlot;

    private Interpreter(DecodedInstruction[] code, int length, InterpreterOptions options, Jit.JitEntry? compiled, string? compileFailure, int compiledSize, int specializedCalls)
    {
        _compiled = compiled;
        SpecializedHelperCalls = specializedCalls;
        CompiledSize = compiledSize;
        CompileFailure = compileFailure;
        _code = code;
        _codePointer = (DecodedInstruction*)System.Runtime.CompilerServices.Unsafe.AsPointer(ref code[0]);
        InstructionCount = length;
        Name = options.Name;
        Mode = options.Mode;
        Helpers = options.Helpers;
        InstructionBudget = options.InstructionBudget;
        ContextFields = options.Mode == ExecutionMode.Checked ? options.ContextFields : null;
        if (options.FunctionSlots is { Count: > 0 } slots)
        {
            _slotAt = new FunctionSlot?[length + 1];
            foreach (var slot in slots)
                if ((uint)slot.Start < (uint)length)
                    _slotAt[slot.Start] = slot;
            _entrySlot = _slotAt[0];
        }
        int helperCallSites = 0;
        for (int i = 0; i < length; i++)
        {
            switch (code[i].Op)
            {
                case Operation.CallHelper:
                    helperCallSites++;
                    break;
                case Operation.CallRegister: // a function reference or, by the conformance convention, a helper id
                    helperCallSites++;
                    HasLocalCalls = true;
                    break;
                case Operation.CallLocal:
                case Operation.LoadFunctionReference: // callbacks run one frame deeper
                    HasLocalCalls = true;
                    break;
            }
        }
        // Compiled code whose every helper call was bound to its map calls no helper: nothing can read the
        // invocation state, so runs need not publish it.
        HasHelperCalls = helperCallSites > (compiled is null ? 0 : specializedCalls);
    }

    /// <summary>
    /// The program can call (generic) helpers: its invocations must be reachable through <see cref="InvocationContext.Current"/>
    /// (and the runtime must set up what helpers read). A program without helper calls cannot observe either.
    /// </summary>
    internal bool HasHelperCalls { get; }

    /// <summary>Checked runs of an untranslated program: its ctx pointer fields, resolved by address.</summary>
    internal ContextFieldMap? ContextFields { get; }

    /// <summary>The program can run more than one frame (bpf-to-bpf calls, callbacks).</summary>
    internal bool HasLocalCalls { get; }

    /// <summary>The program's name, for messages.</summary>
    public string Name { get; }
    /// <summary>
    /// Checked (every access bounds-checked) or unchecked (verified programs, optionally JIT-compiled).
    /// </summary>
    public ExecutionMode Mode { get; }
    /// <summary>The helpers calls are dispatched to.</summary>
    public HelperTable Helpers { get; }
    /// <summary>Checked mode: the most instructions one invocation may execute before it is stopped.</summary>
    public long InstructionBudget { get; }

    /// <summary>True when runs execute JIT-compiled native code (<see cref="InterpreterOptions.Jit"/>) rather than the interpreter loop.</summary>
    public bool IsCompiled => _compiled is not null;

    /// <summary>Bytes of IL the JIT emitted (0 when not compiled). RyuJIT's native code size is not observable from .NET.</summary>
    internal int CompiledSize { get; }

    /// <summary>Why the JIT was asked for but did not take the program (it then runs interpreted), or null.</summary>
    public string? CompileFailure { get; }

    /// <summary>Helper call sites the JIT bound directly to the object behind a constant R1 (<see cref="HelperTable.Specializer"/>).</summary>
    internal int SpecializedHelperCalls { get; }

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
        if (options.MapPointerLoads is { } mapPointers)
            foreach (int pc in mapPointers)
                if ((uint)pc < (uint)program.Length && code[pc].Op == Operation.LoadImm64)
                    code[pc].Src = DecodedInstruction.MapPointerSource; // provenance for the JIT's map-call binding
        if (options.ProbeLoads is { } probes)
            ProbeMemory.MarkProbeLoads(code, program.Length, probes);
        Jit.JitEntry? compiled = null;
        Jit.JitClosure? closure = null;
        string? compileFailure = null;
        int compiledSize = 0, specializedCalls = 0;
        if (options.Mode == ExecutionMode.Unchecked && options.Jit)
            compiled = Jit.JitCompiler.TryCompile(code, program.Length, options.Helpers, options.Name, options.FunctionSlots, out compileFailure, out compiledSize, out specializedCalls, out closure);
        if (options.Mode == ExecutionMode.Unchecked)
            ProgramFuser.Fuse(code, program.Length); // after compiling: the JIT reads the plain operations
        var interpreter = new Interpreter(code, program.Length, options, compiled, compileFailure, compiledSize, specializedCalls);
        if (closure is not null)
            closure.Owner = interpreter;
        return interpreter;
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
    internal ulong FunctionReference(int index)
    {
        if ((uint)index >= (uint)InstructionCount)
            throw new ArgumentOutOfRangeException(nameof(index));
        return (ulong)(_codePointer + index);
    }

    /// <summary>The instruction index a function reference of this program points to, or -1.</summary>
    internal int FunctionIndexOf(ulong reference)
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

    private ulong Run(ulong r1, ulong r2, ulong r3, ulong r4, ulong r5, ExecutionRequest? request)
    {
        var context = InvocationContext.Rent(this, request);
        return Invoke(context, r1, r2, r3, r4, r5, request?.InstructionBudget ?? InstructionBudget);
    }

    /// <summary>
    /// Runs with r1 and per-invocation objects but no memory regions (for unchecked programs, which
    /// ignore regions; a checked program gets only its stack): no request object needed.
    /// </summary>
    internal ulong Run(ulong r1, object? state, ILegacyPacketAccess? packetAccess)
    {
        var context = InvocationContext.Rent(this, state, packetAccess);
        return Invoke(context, r1, 0, 0, 0, 0, InstructionBudget);
    }

    /// <summary>An invocation context owned by the caller for repeated runs of this program (see <see cref="Run(InvocationContext, ulong, ExecutionThread?)"/>).</summary>
    internal InvocationContext CreateContext(object? state, ILegacyPacketAccess? packetAccess) =>
        InvocationContext.CreateOwned(this, state, packetAccess);

    /// <summary>
    /// Runs with r1 on a context from <see cref="CreateContext"/>: the steady-state path of a runner, where
    /// everything but r1 and the context's base regions is fixed. A context already running (the runner
    /// re-entered from a helper) falls back to a fresh one with the same state and regions.
    /// </summary>
    internal ulong Run(InvocationContext context, ulong r1, ExecutionThread? thread = null)
    {
        if (context.InUse)
            return RunNested(context, r1);
        return Invoke(context, r1, 0, 0, 0, 0, InstructionBudget, thread);
    }

    private ulong RunNested(InvocationContext busy, ulong r1)
    {
        var request = new ExecutionRequest { R1 = r1, State = busy.State, PacketAccess = busy.PacketAccess };
        foreach (var region in busy.BaseRegions)
            request.AddRegion(region);
        return Run(request);
    }

    /// <summary>
    /// One invocation: the stack of all frames lives on the host thread's stack, is not zeroed for a
    /// verified program (the verifier rejects every read of stack it did not see written; the decoder
    /// adds nothing that reads it), and is zeroed for a checked one, which may read what it never wrote
    /// and must not see host stack contents.
    /// </summary>
    private ulong Invoke(InvocationContext context, ulong r1, ulong r2, ulong r3, ulong r4, ulong r5, long budget, ExecutionThread? thread = null)
    {
        // A replaced or traced main function: one load and test when nothing is attached.
        if (_entrySlot is { } slot && slot.Override is { } takenOver)
            return InvokeThroughEntrySlot(takenOver, slot, context, r1, r2, r3, r4, r5);
        return InvokeOwn(context, r1, r2, r3, r4, r5, budget, thread);
    }

    [System.Runtime.CompilerServices.SkipLocalsInit]
    private ulong InvokeOwn(InvocationContext context, ulong r1, ulong r2, ulong r3, ulong r4, ulong r5, long budget, ExecutionThread? thread = null)
    {
        if (_compiled is { } singleFrame && !HasLocalCalls)
            return InvokeCompiledSingleFrame(singleFrame, context, r1, r2, r3, r4, r5, thread);
        // Frame 0 is at the top; r10 points one past its end.
        byte* stack = stackalloc byte[StackSize * MaxFrames];
        ulong* regs = stackalloc ulong[16];
        if (Mode == ExecutionMode.Checked)
            new Span<byte>(stack, StackSize * MaxFrames).Clear();
        byte* top = stack + StackSize * MaxFrames;
        // Registers start at 0 in both modes (deterministic even for a program that reads one before writing
        // it). Only r0..r10 exist (the decoder rejects higher numbers); plain stores, no vector clear.
        regs[0] = 0;
        regs[1] = r1;
        regs[2] = r2;
        regs[3] = r3;
        regs[4] = r4;
        regs[5] = r5;
        regs[6] = 0;
        regs[7] = 0;
        regs[8] = 0;
        regs[9] = 0;
        regs[10] = (ulong)top;
        context.Begin(top, budget, thread);
        context.ContextAddress = r1; // tail calls keep it: the target gets the same ctx
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
            context.End();
        }
    }

    /// <summary>
    /// Compiled code of one frame (no bpf-to-bpf calls, no callbacks): its registers are IL locals and it
    /// needs only its own 512 bytes of stack, small enough that the host needs no stack probe for it.
    /// </summary>
    [System.Runtime.CompilerServices.SkipLocalsInit]
    private ulong InvokeCompiledSingleFrame(Jit.JitEntry compiled, InvocationContext context, ulong r1, ulong r2, ulong r3, ulong r4, ulong r5, ExecutionThread? thread)
    {
        byte* stack = stackalloc byte[StackSize];
        byte* top = stack + StackSize;
        // Without (generic) helper calls nothing can read the invocation context, re-enter this runner or see the
        // run's state: the compiled code is the whole invocation.
        if (!HasHelperCalls)
            return compiled(0, r1, r2, r3, r4, r5, 0, 0, 0, 0, (ulong)top, 0);
        context.Begin(top, 0, thread);
        try
        {
            return compiled(0, r1, r2, r3, r4, r5, 0, 0, 0, 0, (ulong)top, 0);
        }
        finally
        {
            context.End();
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

    private ulong InvokeThroughEntrySlot(FunctionOverride takenOver, FunctionSlot slot, InvocationContext context, ulong r1, ulong r2, ulong r3, ulong r4, ulong r5)
    {
        var call = new SlotCall { Program = this, Context = context, Start = 0, IsEntry = true, R1 = r1, R2 = r2, R3 = r3, R4 = r4, R5 = r5 };
        bool held = !context.InUse;
        if (held)
            context.Hold();
        try
        {
            return takenOver.Invoke(slot, ref call);
        }
        finally
        {
            if (held && context.InUse)
                context.Unhold();
            context.AbandonIfUnused();
        }
    }

    /// <summary>A slotted call from the interpreter loop (the caller is at frame <paramref name="depth"/>).</summary>
    private static ulong CallThroughSlot(FunctionOverride takenOver, FunctionSlot slot, Interpreter program, InvocationContext ctx, int depth, ulong* r)
    {
        ctx.Depth = depth;
        var call = new SlotCall { Program = program, Context = ctx, Depth = depth, Start = slot.Start, FramePointer = r[10], R1 = r[1], R2 = r[2], R3 = r[3], R4 = r[4], R5 = r[5] };
        var savedProgram = ctx.Program;
        try
        {
            return takenOver.Invoke(slot, ref call);
        }
        finally
        {
            ctx.Depth = depth;
            ctx.Program = savedProgram;
        }
    }

    /// <summary>Runs a slotted function's own code (what the function does with nothing attached).</summary>
    internal ulong RunOriginal(in SlotCall call)
    {
        if (call.IsEntry)
        {
            var context = call.Context!;
            if (context.InUse)
                context.Unhold(); // held for this call since the override began (see InvokeThroughEntrySlot)
            return InvokeOwn(context, call.R1, call.R2, call.R3, call.R4, call.R5, InstructionBudget);
        }
        if (call.Compiled is { } compiled)
        {
            if (call.Depth + 1 >= MaxFrames)
                throw Jit.JitClosure.CallTooDeep(Name, call.Start, call.Depth);
            return compiled(0, call.R1, call.R2, call.R3, call.R4, call.R5, 0, 0, 0, 0, call.FramePointer - StackSize, call.Depth + 1);
        }
        call.Context!.Depth = call.Depth;
        return ExecuteCallback(call.Context, call.Start, call.R1, call.R2, call.R3, call.R4, call.R5);
    }

    /// <summary>The slot of the function starting at <paramref name="start"/>, or null when it has none.</summary>
    public FunctionSlot? SlotAt(int start) => _slotAt is { } slots && (uint)start < (uint)slots.Length ? slots[start] : null;

    /// <summary>Name, length and mode, for diagnostics.</summary>
    public override string ToString() => $"{Name} ({InstructionCount} insns, {Mode})";
}
