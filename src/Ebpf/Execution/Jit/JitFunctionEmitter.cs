using System.Buffers.Binary;
using System.Reflection;
using System.Reflection.Emit;

namespace Ebpf.Execution.Jit;

/// <summary>
/// Emits the IL of one BPF function: BPF registers r0–r9 become IL locals (RyuJIT enregisters them), r10 is
/// the frame-pointer argument, every instruction start gets a label, memory accesses are unaligned pointer
/// loads and stores, helpers are direct calls through their function pointers, and bpf-to-bpf calls are
/// calls of the callee's method with r10 - 512 as its frame. Semantics are the interpreter's (division
/// by zero, shift masking, 32-bit zero extension); where an operation has a subtle definition the
/// interpreter's own static implementation is called, so both engines share it.
/// </summary>
internal sealed class JitFunctionEmitter
{
    /// <summary>
    /// (closure, r0, r1, …, r9, r10, depth) -> r0. A callee starts with the caller's r0–r9, as in the interpreter
    /// (verified code reads only r1–r5 there; unverified code sees the same values in both engines).
    /// </summary>
    public static readonly Type[] ParameterTypes =
    [
        typeof(JitClosure), typeof(ulong), typeof(ulong), typeof(ulong), typeof(ulong), typeof(ulong),
        typeof(ulong), typeof(ulong), typeof(ulong), typeof(ulong), typeof(ulong), typeof(ulong), typeof(int),
    ];

    private const short FirstRegisterArg = 1;
    private const short FramePointerArg = 11;
    private const short DepthArg = 12;

    private static readonly Type[] FiveRegisters = [typeof(ulong), typeof(ulong), typeof(ulong), typeof(ulong), typeof(ulong)];

    private readonly DynamicMethod _method;
    private readonly DecodedInstruction[] _code;
    private readonly int _start;
    private readonly int _end;
    private readonly JitClosure _closure;
    private readonly List<int> _functionStarts;
    private readonly DynamicMethod[] _functions;
    private readonly ILGenerator _il;
    private readonly LocalBuilder[] _registers = new LocalBuilder[10];
    private readonly Label[] _labels;
    private readonly bool _passesFunctionReferences;
    private readonly bool[] _isJumpTarget;

    /// <summary>This invocation's may_goto budget (the kernel's hidden stack slot, set at function entry), or null
    /// when the function has no may_goto.</summary>
    private LocalBuilder? _mayGoto;

    /// <summary>R1's value when the current instruction starts, if an lddw in this basic block set it (null: unknown).</summary>
    private ulong? _knownR1;

    public JitFunctionEmitter(DynamicMethod method, DecodedInstruction[] code, int start, int end, JitClosure closure,
        List<int> functionStarts, DynamicMethod[] functions)
    {
        _method = method;
        _code = code;
        _start = start;
        _end = end;
        _closure = closure;
        _functionStarts = functionStarts;
        _functions = functions;
        _il = method.GetILGenerator(Math.Max(64, (end - start) * 24));
        _labels = new Label[end - start + 1];
        _passesFunctionReferences = Array.Exists(code, c => c.Op == Operation.LoadFunctionReference);
        _isJumpTarget = JumpTargets(code, start, end);
    }

    /// <summary>Instructions of [start, end) that a jump lands on (the function checks that jumps stay inside it).</summary>
    private static bool[] JumpTargets(DecodedInstruction[] code, int start, int end)
    {
        var targets = new bool[end - start + 1];
        for (int pc = start; pc < end; pc++)
        {
            var insn = code[pc];
            if ((insn.Op is Operation.Ja or Operation.MayGoto || insn.IsConditionalJump) && insn.Offset >= start && insn.Offset <= end)
                targets[insn.Offset - start] = true;
        }
        return targets;
    }

    /// <summary>Emits the function; returns its IL size in bytes.</summary>
    public int Emit()
    {
        for (int r = 0; r < _registers.Length; r++)
            _registers[r] = _il.DeclareLocal(typeof(ulong));
        for (int i = 0; i < _labels.Length; i++)
            _labels[i] = _il.DefineLabel();
        for (short r = 0; r <= 9; r++)
        {
            _il.Emit(OpCodes.Ldarg, (short)(FirstRegisterArg + r));
            _il.Emit(OpCodes.Stloc, _registers[r]);
        }
        if (Array.FindIndex(_code, _start, _end - _start, c => c.Op == Operation.MayGoto) >= 0)
        {
            _mayGoto = _il.DeclareLocal(typeof(ulong));
            _il.Emit(OpCodes.Ldc_I8, (long)Interpreter.MayGotoBudget);
            _il.Emit(OpCodes.Stloc, _mayGoto);
        }
        for (int pc = _start; pc < _end; pc++)
        {
            _il.MarkLabel(_labels[pc - _start]);
            if (_isJumpTarget[pc - _start])
                _knownR1 = null; // another path joins here
            EmitInstruction(pc, _code[pc]);
            TrackR1(_code[pc]);
        }
        // Running past the function's last instruction (verified code never does).
        _il.MarkLabel(_labels[_end - _start]);
        _il.Emit(OpCodes.Ldstr, _closure.Name);
        _il.Emit(OpCodes.Ldc_I4, _end);
        _il.Emit(OpCodes.Call, Method(typeof(JitClosure), nameof(JitClosure.FellOffEnd)));
        _il.Emit(OpCodes.Throw);
        return _il.ILOffset;
    }

    private void EmitInstruction(int pc, DecodedInstruction i)
    {
        switch (i.Op)
        {
            // ---- ALU64 ----
            case Operation.Add64K: Binary64K(i, OpCodes.Add); break;
            case Operation.Add64X: Binary64X(i, OpCodes.Add); break;
            case Operation.Sub64K: Binary64K(i, OpCodes.Sub); break;
            case Operation.Sub64X: Binary64X(i, OpCodes.Sub); break;
            case Operation.Mul64K: Binary64K(i, OpCodes.Mul); break;
            case Operation.Mul64X: Binary64X(i, OpCodes.Mul); break;
            case Operation.Or64K: Binary64K(i, OpCodes.Or); break;
            case Operation.Or64X: Binary64X(i, OpCodes.Or); break;
            case Operation.And64K: Binary64K(i, OpCodes.And); break;
            case Operation.And64X: Binary64X(i, OpCodes.And); break;
            case Operation.Xor64K: Binary64K(i, OpCodes.Xor); break;
            case Operation.Xor64X: Binary64X(i, OpCodes.Xor); break;
            case Operation.Lsh64K: Shift64K(i, OpCodes.Shl); break;
            case Operation.Lsh64X: Shift64X(i, OpCodes.Shl); break;
            case Operation.Rsh64K: Shift64K(i, OpCodes.Shr_Un); break;
            case Operation.Rsh64X: Shift64X(i, OpCodes.Shr_Un); break;
            case Operation.Arsh64K: Shift64K(i, OpCodes.Shr); break;
            case Operation.Arsh64X: Shift64X(i, OpCodes.Shr); break;
            case Operation.Neg64: Load(i.Dst); _il.Emit(OpCodes.Neg); Store(i.Dst); break;
            case Operation.Div64K: Arithmetic64K(i, nameof(Interpreter.Div64)); break;
            case Operation.Div64X: Arithmetic64X(i, nameof(Interpreter.Div64)); break;
            case Operation.Mod64K: Arithmetic64K(i, nameof(Interpreter.Mod64)); break;
            case Operation.Mod64X: Arithmetic64X(i, nameof(Interpreter.Mod64)); break;
            case Operation.SDiv64K: Arithmetic64K(i, nameof(Interpreter.SDiv64)); break;
            case Operation.SDiv64X: Arithmetic64X(i, nameof(Interpreter.SDiv64)); break;
            case Operation.SMod64K: Arithmetic64K(i, nameof(Interpreter.SMod64)); break;
            case Operation.SMod64X: Arithmetic64X(i, nameof(Interpreter.SMod64)); break;
            case Operation.Mov64K: _il.Emit(OpCodes.Ldc_I8, i.Imm); Store(i.Dst); break;
            case Operation.Mov64X: Load(i.Src); Store(i.Dst); break;
            case Operation.MovSx64B: Load(i.Src); _il.Emit(OpCodes.Conv_I1); _il.Emit(OpCodes.Conv_I8); Store(i.Dst); break;
            case Operation.MovSx64H: Load(i.Src); _il.Emit(OpCodes.Conv_I2); _il.Emit(OpCodes.Conv_I8); Store(i.Dst); break;
            case Operation.MovSx64W: Load(i.Src); _il.Emit(OpCodes.Conv_I4); _il.Emit(OpCodes.Conv_I8); Store(i.Dst); break;

            // ---- ALU32: computed on int32, zero-extended on store ----
            case Operation.Add32K: Binary32K(i, OpCodes.Add); break;
            case Operation.Add32X: Binary32X(i, OpCodes.Add); break;
            case Operation.Sub32K: Binary32K(i, OpCodes.Sub); break;
            case Operation.Sub32X: Binary32X(i, OpCodes.Sub); break;
            case Operation.Mul32K: Binary32K(i, OpCodes.Mul); break;
            case Operation.Mul32X: Binary32X(i, OpCodes.Mul); break;
            case Operation.Or32K: Binary32K(i, OpCodes.Or); break;
            case Operation.Or32X: Binary32X(i, OpCodes.Or); break;
            case Operation.And32K: Binary32K(i, OpCodes.And); break;
            case Operation.And32X: Binary32X(i, OpCodes.And); break;
            case Operation.Xor32K: Binary32K(i, OpCodes.Xor); break;
            case Operation.Xor32X: Binary32X(i, OpCodes.Xor); break;
            case Operation.Lsh32K: Shift32K(i, OpCodes.Shl); break;
            case Operation.Lsh32X: Shift32X(i, OpCodes.Shl); break;
            case Operation.Rsh32K: Shift32K(i, OpCodes.Shr_Un); break;
            case Operation.Rsh32X: Shift32X(i, OpCodes.Shr_Un); break;
            case Operation.Arsh32K: Shift32K(i, OpCodes.Shr); break;
            case Operation.Arsh32X: Shift32X(i, OpCodes.Shr); break;
            case Operation.Neg32: Load32(i.Dst); _il.Emit(OpCodes.Neg); Store32(i.Dst); break;
            case Operation.Div32K: Arithmetic32K(i, nameof(Interpreter.Div32)); break;
            case Operation.Div32X: Arithmetic32X(i, nameof(Interpreter.Div32)); break;
            case Operation.Mod32K: Arithmetic32K(i, nameof(Interpreter.Mod32)); break;
            case Operation.Mod32X: Arithmetic32X(i, nameof(Interpreter.Mod32)); break;
            case Operation.SDiv32K: Arithmetic32K(i, nameof(Interpreter.SDiv32)); break;
            case Operation.SDiv32X: Arithmetic32X(i, nameof(Interpreter.SDiv32)); break;
            case Operation.SMod32K: Arithmetic32K(i, nameof(Interpreter.SMod32)); break;
            case Operation.SMod32X: Arithmetic32X(i, nameof(Interpreter.SMod32)); break;
            case Operation.Mov32K: _il.Emit(OpCodes.Ldc_I8, (long)(uint)i.Imm); Store(i.Dst); break;
            case Operation.Mov32X: Load32(i.Src); Store32(i.Dst); break;
            case Operation.MovSx32B: Load(i.Src); _il.Emit(OpCodes.Conv_I1); Store32(i.Dst); break;
            case Operation.MovSx32H: Load(i.Src); _il.Emit(OpCodes.Conv_I2); Store32(i.Dst); break;

            // ---- byte order (the decoder already mapped le/be to truncation or a swap for this host) ----
            case Operation.Le16: Load(i.Dst); _il.Emit(OpCodes.Conv_U2); _il.Emit(OpCodes.Conv_U8); Store(i.Dst); break;
            case Operation.Le32: Load(i.Dst); _il.Emit(OpCodes.Conv_U4); _il.Emit(OpCodes.Conv_U8); Store(i.Dst); break;
            case Operation.Le64: break;
            case Operation.Be16 or Operation.Bswap16: Swap(i.Dst, typeof(ushort), OpCodes.Conv_U2); break;
            case Operation.Be32 or Operation.Bswap32: Swap(i.Dst, typeof(uint), OpCodes.Conv_U4); break;
            case Operation.Be64 or Operation.Bswap64: Swap(i.Dst, typeof(ulong), null); break;

            // ---- jumps ----
            case Operation.Ja: _il.Emit(OpCodes.Br, LabelOf(i.Offset)); break;
            case Operation.MayGoto: MayGoto(i.Offset); break;
            case >= Operation.Jeq64K and <= Operation.Jsle32X: ConditionalJump(pc, i); break;

            // ---- lddw (the second slot gets a label but no code: nothing jumps into it) ----
            case Operation.LoadImm64: _il.Emit(OpCodes.Ldc_I8, i.Imm); Store(i.Dst); break;
            case Operation.LoadImm64Tail: break;
            case Operation.LoadFunctionReference: _il.Emit(OpCodes.Ldc_I8, (long)FunctionReference(i.Offset)); Store(i.Dst); break;

            // ---- memory ----
            case Operation.ProbeLoad: ProbeLoad(i); break;
            case Operation.LdxB: LoadMemory(i, OpCodes.Ldind_U1, OpCodes.Conv_U8, aligned: true); break;
            case Operation.LdxH: LoadMemory(i, OpCodes.Ldind_U2, OpCodes.Conv_U8, aligned: false); break;
            case Operation.LdxW: LoadMemory(i, OpCodes.Ldind_U4, OpCodes.Conv_U8, aligned: false); break;
            case Operation.LdxDW: LoadMemory(i, OpCodes.Ldind_I8, null, aligned: false); break;
            case Operation.LdxSxB: LoadMemory(i, OpCodes.Ldind_I1, OpCodes.Conv_I8, aligned: true); break;
            case Operation.LdxSxH: LoadMemory(i, OpCodes.Ldind_I2, OpCodes.Conv_I8, aligned: false); break;
            case Operation.LdxSxW: LoadMemory(i, OpCodes.Ldind_I4, OpCodes.Conv_I8, aligned: false); break;
            case Operation.StB: StoreImmediate(i, OpCodes.Stind_I1, 1); break;
            case Operation.StH: StoreImmediate(i, OpCodes.Stind_I2, 2); break;
            case Operation.StW: StoreImmediate(i, OpCodes.Stind_I4, 4); break;
            case Operation.StDW: StoreImmediate(i, OpCodes.Stind_I8, 8); break;
            case Operation.StxB: StoreRegister(i, OpCodes.Stind_I1, OpCodes.Conv_U1, 1); break;
            case Operation.StxH: StoreRegister(i, OpCodes.Stind_I2, OpCodes.Conv_U2, 2); break;
            case Operation.StxW: StoreRegister(i, OpCodes.Stind_I4, OpCodes.Conv_U4, 4); break;
            case Operation.StxDW: StoreRegister(i, OpCodes.Stind_I8, null, 8); break;
            case >= Operation.AtomicAdd32 and <= Operation.Cmpxchg64: Atomic(i); break;
            case Operation.LoadAcquireB: LoadAcquire(i, OpCodes.Ldind_U1); break;
            case Operation.LoadAcquireH: LoadAcquire(i, OpCodes.Ldind_U2); break;
            case Operation.LoadAcquireW: LoadAcquire(i, OpCodes.Ldind_U4); break;
            case Operation.LoadAcquireDW: LoadAcquire(i, OpCodes.Ldind_I8); break;
            case Operation.StoreReleaseB: StoreRelease(i, OpCodes.Stind_I1, OpCodes.Conv_U1); break;
            case Operation.StoreReleaseH: StoreRelease(i, OpCodes.Stind_I2, OpCodes.Conv_U2); break;
            case Operation.StoreReleaseW: StoreRelease(i, OpCodes.Stind_I4, OpCodes.Conv_U4); break;
            case Operation.StoreReleaseDW: StoreRelease(i, OpCodes.Stind_I8, null); break;

            // ---- calls ----
            case Operation.CallHelper: CallHelper(pc, i.Imm); break;
            case Operation.CallLocal: CallLocal(pc, i.Offset); break;
            case Operation.Exit: Load(0); _il.Emit(OpCodes.Ret); break;

            default:
                // The compiler refuses programs with anything else before emitting.
                throw new InvalidOperationException($"{_closure.Name}: insn {pc}: {i.Op} cannot be compiled");
        }
    }

    // ---- registers ----

    private void Load(int register)
    {
        if (register == 10)
            _il.Emit(OpCodes.Ldarg, FramePointerArg);
        else
            _il.Emit(OpCodes.Ldloc, _registers[register]);
    }

    private void Store(int register) => _il.Emit(OpCodes.Stloc, _registers[register]);

    /// <summary>The low 32 bits as an int32 on the IL stack.</summary>
    private void Load32(int register)
    {
        Load(register);
        _il.Emit(OpCodes.Conv_U4);
    }

    /// <summary>Stores the int32 on the IL stack zero-extended, as every 32-bit ALU result is.</summary>
    private void Store32(int register)
    {
        _il.Emit(OpCodes.Conv_U8);
        Store(register);
    }

    private Label LabelOf(int target) => _labels[target - _start];

    // ---- ALU ----

    private void Binary64K(DecodedInstruction i, OpCode op)
    {
        Load(i.Dst);
        _il.Emit(OpCodes.Ldc_I8, i.Imm);
        _il.Emit(op);
        Store(i.Dst);
    }

    private void Binary64X(DecodedInstruction i, OpCode op)
    {
        Load(i.Dst);
        Load(i.Src);
        _il.Emit(op);
        Store(i.Dst);
    }

    private void Binary32K(DecodedInstruction i, OpCode op)
    {
        Load32(i.Dst);
        _il.Emit(OpCodes.Ldc_I4, (int)i.Imm);
        _il.Emit(op);
        Store32(i.Dst);
    }

    private void Binary32X(DecodedInstruction i, OpCode op)
    {
        Load32(i.Dst);
        Load32(i.Src);
        _il.Emit(op);
        Store32(i.Dst);
    }

    // BPF masks shift counts to the operand width; IL leaves larger counts undefined, so mask explicitly.
    private void Shift64K(DecodedInstruction i, OpCode op)
    {
        Load(i.Dst);
        _il.Emit(OpCodes.Ldc_I4, (int)(i.Imm & 63));
        _il.Emit(op);
        Store(i.Dst);
    }

    private void Shift64X(DecodedInstruction i, OpCode op)
    {
        Load(i.Dst);
        Load32(i.Src);
        _il.Emit(OpCodes.Ldc_I4, 63);
        _il.Emit(OpCodes.And);
        _il.Emit(op);
        Store(i.Dst);
    }

    private void Shift32K(DecodedInstruction i, OpCode op)
    {
        Load32(i.Dst);
        _il.Emit(OpCodes.Ldc_I4, (int)(i.Imm & 31));
        _il.Emit(op);
        Store32(i.Dst);
    }

    private void Shift32X(DecodedInstruction i, OpCode op)
    {
        Load32(i.Dst);
        Load32(i.Src);
        _il.Emit(OpCodes.Ldc_I4, 31);
        _il.Emit(OpCodes.And);
        _il.Emit(op);
        Store32(i.Dst);
    }

    // The interpreter's helpers take (divisor, dividend).
    private void Arithmetic64K(DecodedInstruction i, string name)
    {
        _il.Emit(OpCodes.Ldc_I8, i.Imm);
        Load(i.Dst);
        _il.Emit(OpCodes.Call, Method(typeof(Interpreter), name));
        Store(i.Dst);
    }

    private void Arithmetic64X(DecodedInstruction i, string name)
    {
        Load(i.Src);
        Load(i.Dst);
        _il.Emit(OpCodes.Call, Method(typeof(Interpreter), name));
        Store(i.Dst);
    }

    private void Arithmetic32K(DecodedInstruction i, string name)
    {
        _il.Emit(OpCodes.Ldc_I4, (int)i.Imm);
        Load32(i.Dst);
        _il.Emit(OpCodes.Call, Method(typeof(Interpreter), name));
        Store32(i.Dst);
    }

    private void Arithmetic32X(DecodedInstruction i, string name)
    {
        Load32(i.Src);
        Load32(i.Dst);
        _il.Emit(OpCodes.Call, Method(typeof(Interpreter), name));
        Store32(i.Dst);
    }

    private void Swap(int register, Type width, OpCode? truncate)
    {
        Load(register);
        if (truncate is { } t)
            _il.Emit(t);
        _il.Emit(OpCodes.Call, typeof(BinaryPrimitives).GetMethod(nameof(BinaryPrimitives.ReverseEndianness), [width])!);
        if (width != typeof(ulong))
            _il.Emit(OpCodes.Conv_U8);
        Store(register);
    }

    // ---- jumps ----

    private void ConditionalJump(int pc, DecodedInstruction i)
    {
        bool is32 = i.Op >= Operation.Jeq32K;
        var baseOp = is32 ? Operation.Jeq32K : Operation.Jeq64K;
        int kind = (i.Op - baseOp) / 2; // eq gt ge set ne sgt sge lt le slt sle
        bool immediate = (i.Op - baseOp) % 2 == 0;
        if (is32)
        {
            Load32(i.Dst);
            if (immediate) _il.Emit(OpCodes.Ldc_I4, i.JumpImm); else Load32(i.Src);
        }
        else
        {
            Load(i.Dst);
            if (immediate) _il.Emit(OpCodes.Ldc_I8, (long)i.JumpImm); else Load(i.Src);
        }
        var taken = LabelOf(i.Offset);
        switch (kind)
        {
            case 0: _il.Emit(OpCodes.Beq, taken); break;
            case 1: _il.Emit(OpCodes.Bgt_Un, taken); break;
            case 2: _il.Emit(OpCodes.Bge_Un, taken); break;
            case 3: _il.Emit(OpCodes.And); _il.Emit(OpCodes.Brtrue, taken); break;
            case 4: _il.Emit(OpCodes.Bne_Un, taken); break;
            case 5: _il.Emit(OpCodes.Bgt, taken); break;
            case 6: _il.Emit(OpCodes.Bge, taken); break;
            case 7: _il.Emit(OpCodes.Blt_Un, taken); break;
            case 8: _il.Emit(OpCodes.Ble_Un, taken); break;
            case 9: _il.Emit(OpCodes.Blt, taken); break;
            case 10: _il.Emit(OpCodes.Ble, taken); break;
            default: throw new InvalidOperationException($"{_closure.Name}: insn {pc}: {i.Op}");
        }
        if (i.NotTaken != pc + 1)
            _il.Emit(OpCodes.Br, LabelOf(i.NotTaken));
    }

    // ---- memory ----

    /// <summary>Pushes register + offset as a native pointer.</summary>
    private void Address(int register, int offset)
    {
        Load(register);
        if (offset != 0)
        {
            _il.Emit(OpCodes.Ldc_I8, (long)offset);
            _il.Emit(OpCodes.Add);
        }
        _il.Emit(OpCodes.Conv_U);
    }

    private void LoadMemory(DecodedInstruction i, OpCode load, OpCode? extend, bool aligned)
    {
        Address(i.Src, i.Offset);
        if (!aligned)
            _il.Emit(OpCodes.Unaligned, (byte)1);
        _il.Emit(load);
        if (extend is { } e)
            _il.Emit(e);
        Store(i.Dst);
    }

    /// <summary>BPF_PROBE_MEM: the fault-safe read, a call (rare, off the hot path of ordinary loads).</summary>
    private void ProbeLoad(DecodedInstruction i)
    {
        Load(i.Src);
        if (i.Offset != 0)
        {
            _il.Emit(OpCodes.Ldc_I8, (long)i.Offset);
            _il.Emit(OpCodes.Add);
        }
        _il.Emit(OpCodes.Ldc_I4, (int)i.Imm);
        _il.Emit(OpCodes.Call, Method(typeof(ProbeMemory), nameof(ProbeMemory.Load)));
        Store(i.Dst);
    }

    private void StoreImmediate(DecodedInstruction i, OpCode store, int size)
    {
        Address(i.Dst, i.Offset);
        if (size == 8) _il.Emit(OpCodes.Ldc_I8, i.Imm); else _il.Emit(OpCodes.Ldc_I4, (int)i.Imm);
        if (size > 1)
            _il.Emit(OpCodes.Unaligned, (byte)1);
        _il.Emit(store);
    }

    private void StoreRegister(DecodedInstruction i, OpCode store, OpCode? truncate, int size)
    {
        Address(i.Dst, i.Offset);
        Load(i.Src);
        if (truncate is { } t)
            _il.Emit(t);
        if (size > 1)
            _il.Emit(OpCodes.Unaligned, (byte)1);
        _il.Emit(store);
    }

    private void Atomic(DecodedInstruction i)
    {
        // JitAtomics has one method per operation, named after it: (address, src[, r0]) -> result.
        Address(i.Dst, i.Offset);
        Load(i.Src);
        bool compareExchange = i.Op is Operation.Cmpxchg32 or Operation.Cmpxchg64;
        if (compareExchange)
            Load(0);
        _il.Emit(OpCodes.Call, Method(typeof(JitAtomics), i.Op.ToString()));
        if (compareExchange)
            Store(0);
        else if (JitAtomics.Fetches(i.Op))
            Store(i.Src);
    }

    /// <summary>may_goto: while the budget lasts, spend one unit and fall through; at zero, jump.</summary>
    private void MayGoto(int target)
    {
        _il.Emit(OpCodes.Ldloc, _mayGoto!);
        _il.Emit(OpCodes.Brfalse, LabelOf(target));
        _il.Emit(OpCodes.Ldloc, _mayGoto!);
        _il.Emit(OpCodes.Ldc_I8, 1L);
        _il.Emit(OpCodes.Sub);
        _il.Emit(OpCodes.Stloc, _mayGoto!);
    }

    /// <summary>BPF_LOAD_ACQ: a volatile load (ECMA-335 acquire: no later access moves before it), zero-extended.</summary>
    private void LoadAcquire(DecodedInstruction i, OpCode load)
    {
        Address(i.Src, i.Offset);
        _il.Emit(OpCodes.Volatile);
        _il.Emit(load);
        if (load != OpCodes.Ldind_I8)
            _il.Emit(OpCodes.Conv_U8);
        Store(i.Dst);
    }

    /// <summary>BPF_STORE_REL: a volatile store (release: no earlier access moves after it) of the low bytes of src.</summary>
    private void StoreRelease(DecodedInstruction i, OpCode store, OpCode? narrow)
    {
        Address(i.Dst, i.Offset);
        Load(i.Src);
        if (narrow is { } n)
            _il.Emit(n);
        _il.Emit(OpCodes.Volatile);
        _il.Emit(store);
    }

    /// <summary>
    /// Follows R1 through straight-line code: an lddw of a loader-resolved map pointer into R1 makes it known
    /// (any other lddw is a raw constant the program chose and makes it unknown); anything that may write R1
    /// (an instruction with R1 as destination, an atomic fetching into R1, a call) or leaves the block forgets it.
    /// </summary>
    private void TrackR1(DecodedInstruction i)
    {
        bool writesR1 = i.Dst == 1 && i.Op is not (Operation.StB or Operation.StH or Operation.StW or Operation.StDW
            or Operation.StxB or Operation.StxH or Operation.StxW or Operation.StxDW) && !i.IsConditionalJump;
        if (i.Op == Operation.LoadImm64 && i.Dst == 1)
            _knownR1 = i.Src == DecodedInstruction.MapPointerSource ? (ulong)i.Imm : null;
        else if (i.Op == Operation.LoadImm64Tail)
            return;
        else if (writesR1 || (i.Op is >= Operation.AtomicAdd32 and <= Operation.Cmpxchg64 && (i.Src == 1 || i.Dst == 1))
            || (i.Op is >= Operation.LoadAcquireB and <= Operation.LoadAcquireDW && i.Dst == 1)
            || i.Op is Operation.CallHelper or Operation.CallLocal or Operation.CallRegister or Operation.Exit or Operation.Ja)
            _knownR1 = null;
    }

    // ---- calls ----

    /// <summary>The interpreter's function reference for instruction <paramref name="index"/>: its slot's address in the pinned decoded array.</summary>
    private unsafe ulong FunctionReference(int index) =>
        (ulong)System.Runtime.CompilerServices.Unsafe.AsPointer(ref _code[index]);

    private void CallHelper(int pc, long id)
    {
        if (_passesFunctionReferences)
        {
            // A helper may run a callback of this program: it goes one frame below this one, so the invocation
            // must know how deep the compiled code is (the interpreter keeps that count itself).
            _il.Emit(OpCodes.Ldarg, DepthArg);
            _il.Emit(OpCodes.Call, Method(typeof(JitClosure), nameof(JitClosure.SetCallDepth)));
        }
        if (_knownR1 is { } r1 && _closure.SpecializationOf(id, r1) is { } special)
        {
            CallSpecialized(special);
            return;
        }
        nint pointer = _closure.DirectPointerOf(id);
        if (pointer != 0)
        {
            for (int r = 1; r <= 5; r++)
                Load(r);
            _il.Emit(OpCodes.Ldc_I8, (long)pointer);
            _il.Emit(OpCodes.Conv_I);
            _il.EmitCalli(OpCodes.Calli, CallingConventions.Standard, typeof(ulong), FiveRegisters, null);
        }
        else
        {
            _il.Emit(OpCodes.Ldarg_0);
            _il.Emit(OpCodes.Ldc_I8, id);
            _il.Emit(OpCodes.Ldc_I4, pc);
            for (int r = 1; r <= 5; r++)
                Load(r);
            _il.Emit(OpCodes.Call, Method(typeof(JitClosure), nameof(JitClosure.InvokeHelper)));
        }
        Store(0);
    }

    /// <summary>target.Method(r2, …) with the target fetched from the closure: a direct call RyuJIT may inline.</summary>
    private void CallSpecialized(HelperSpecialization special)
    {
        int index = _closure.AddTarget(special.Target);
        _closure.SpecializedCallSites++;
        _il.Emit(OpCodes.Ldarg_0);
        _il.Emit(OpCodes.Ldfld, typeof(JitClosure).GetField(nameof(JitClosure.Targets))!);
        _il.Emit(OpCodes.Ldc_I4, index);
        _il.Emit(OpCodes.Ldelem_Ref);
        _il.Emit(OpCodes.Castclass, special.Method.DeclaringType!);
        for (int r = 2; r < 2 + special.ArgumentCount; r++)
            Load(r);
        _il.Emit(OpCodes.Call, special.Method);
        Store(0);
    }

    private void CallLocal(int pc, int target)
    {
        // Frames nest at most MaxFrames deep (verified code stays within it; unverified code gets E2BIG, not a host stack overflow).
        var ok = _il.DefineLabel();
        _il.Emit(OpCodes.Ldarg, DepthArg);
        _il.Emit(OpCodes.Ldc_I4, Interpreter.MaxFrames - 1);
        _il.Emit(OpCodes.Blt, ok);
        _il.Emit(OpCodes.Ldstr, _closure.Name);
        _il.Emit(OpCodes.Ldc_I4, pc);
        _il.Emit(OpCodes.Ldarg, DepthArg);
        _il.Emit(OpCodes.Call, Method(typeof(JitClosure), nameof(JitClosure.CallTooDeep)));
        _il.Emit(OpCodes.Throw);
        _il.MarkLabel(ok);

        int function = _functionStarts.IndexOf(target);
        Label done = default;
        if (_closure.SlotsByFunction[function] is not null)
        {
            // A slotted function: one load and test when nothing took it over (the attach swaps the slot, never this code).
            var direct = _il.DefineLabel();
            done = _il.DefineLabel();
            _il.Emit(OpCodes.Ldarg_0);
            _il.Emit(OpCodes.Ldfld, typeof(JitClosure).GetField(nameof(JitClosure.SlotsByFunction))!);
            _il.Emit(OpCodes.Ldc_I4, function);
            _il.Emit(OpCodes.Ldelem_Ref);
            _il.Emit(OpCodes.Ldfld, FunctionSlot.OverrideField);
            _il.Emit(OpCodes.Brfalse, direct);
            _il.Emit(OpCodes.Ldarg_0);
            _il.Emit(OpCodes.Ldc_I4, function);
            for (int r = 1; r <= 5; r++)
                Load(r);
            _il.Emit(OpCodes.Ldarg, FramePointerArg);
            _il.Emit(OpCodes.Ldarg, DepthArg);
            _il.Emit(OpCodes.Call, Method(typeof(JitClosure), nameof(JitClosure.CallSlot)));
            _il.Emit(OpCodes.Br, done);
            _il.MarkLabel(direct);
        }

        _il.Emit(OpCodes.Ldarg_0);
        for (int r = 0; r <= 9; r++)
            Load(r);
        _il.Emit(OpCodes.Ldarg, FramePointerArg);
        _il.Emit(OpCodes.Ldc_I8, (long)Interpreter.StackSize);
        _il.Emit(OpCodes.Sub);
        _il.Emit(OpCodes.Ldarg, DepthArg);
        _il.Emit(OpCodes.Ldc_I4_1);
        _il.Emit(OpCodes.Add);
        _il.Emit(OpCodes.Call, _functions[function]);
        if (_closure.SlotsByFunction[function] is not null)
            _il.MarkLabel(done);
        Store(0);
    }

    private static MethodInfo Method(Type type, string name) =>
        type.GetMethod(name, BindingFlags.Static | BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic)
        ?? throw new InvalidOperationException($"{type.Name}.{name} is missing");

    public override string ToString() => $"{_method.Name} [{_start}, {_end})";
}
