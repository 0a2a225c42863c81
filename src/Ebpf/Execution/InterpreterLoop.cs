using System.Buffers.Binary;
using System.Runtime.CompilerServices;

namespace Ebpf.Execution;

public sealed unsafe partial class Interpreter
{
    /// <summary>What a bpf-to-bpf call saves: the callee-saved registers, the frame pointer, the return slot.</summary>
    private struct Frame
    {
        public ulong R6, R7, R8, R9, R10;
        public DecodedInstruction* Return;
        /// <summary>The caller's may_goto budget, restored at the callee's exit.</summary>
        public ulong MayGoto;
    }

    /// <summary>
    /// may_goto's budget per call frame: the kernel's BPF_MAX_LOOPS (8M), which its do_misc_fixups stores in a hidden
    /// stack slot of every function containing may_goto at that function's entry. The count is kept outside the
    /// program's stack here, so no store of the program can change it.
    /// </summary>
    internal const ulong MayGotoBudget = 8 * 1024 * 1024;

    /// <summary>
    /// The hot loop. One switch over a dense operation code; registers in a native array; unchecked
    /// pointer accesses in <see cref="UncheckedMode"/>. Runs until the exit of frame <paramref name="baseDepth"/>.
    /// </summary>
    // AggressiveOptimization: compiled fully optimised at once. A method with stackalloc cannot use
    // on-stack replacement, so under tiering it would otherwise run its loops unoptimised for a long time.
    [SkipLocalsInit]
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static ulong Execute<TMode>(InvocationContext ctx, Interpreter program, int start, ulong* r, int baseDepth)
        where TMode : struct, IExecutionMode
    {
        DecodedInstruction* code = program._codePointer;
        DecodedInstruction* ip = code + start;
        int depth = baseDepth;
        Frame* frames = stackalloc Frame[MaxFrames];
        long budget = TMode.IsChecked ? ctx.Budget : 0;
        ulong mayGoto = MayGotoBudget;

        while (true)
        {
            DecodedInstruction* i = ip++;
            if (TMode.IsChecked && --budget < 0)
                throw BudgetExhausted(ctx, program, (int)(i - code));
            ulong a;
            long helperId;
            int callTarget;
            int sitePc;
            ulong registerValue;
            switch (i->Op)
            {
                // ---- ALU64 ----
                case Operation.Add64K: r[i->Dst] += (ulong)i->Imm; continue;
                case Operation.Add64X: r[i->Dst] += r[i->Src]; continue;
                case Operation.Sub64K: r[i->Dst] -= (ulong)i->Imm; continue;
                case Operation.Sub64X: r[i->Dst] -= r[i->Src]; continue;
                case Operation.Mul64K: r[i->Dst] *= (ulong)i->Imm; continue;
                case Operation.Mul64X: r[i->Dst] *= r[i->Src]; continue;
                case Operation.Div64K: r[i->Dst] = Div64((ulong)i->Imm, r[i->Dst]); continue;
                case Operation.Div64X: r[i->Dst] = Div64(r[i->Src], r[i->Dst]); continue;
                case Operation.SDiv64K: r[i->Dst] = SDiv64(i->Imm, (long)r[i->Dst]); continue;
                case Operation.SDiv64X: r[i->Dst] = SDiv64((long)r[i->Src], (long)r[i->Dst]); continue;
                case Operation.Or64K: r[i->Dst] |= (ulong)i->Imm; continue;
                case Operation.Or64X: r[i->Dst] |= r[i->Src]; continue;
                case Operation.And64K: r[i->Dst] &= (ulong)i->Imm; continue;
                case Operation.And64X: r[i->Dst] &= r[i->Src]; continue;
                case Operation.Lsh64K: r[i->Dst] <<= (int)(i->Imm & 63); continue;
                case Operation.Lsh64X: r[i->Dst] <<= (int)(r[i->Src] & 63); continue;
                case Operation.Rsh64K: r[i->Dst] >>= (int)(i->Imm & 63); continue;
                case Operation.Rsh64X: r[i->Dst] >>= (int)(r[i->Src] & 63); continue;
                case Operation.Neg64: r[i->Dst] = (ulong)-(long)r[i->Dst]; continue;
                case Operation.Mod64K: r[i->Dst] = Mod64((ulong)i->Imm, r[i->Dst]); continue;
                case Operation.Mod64X: r[i->Dst] = Mod64(r[i->Src], r[i->Dst]); continue;
                case Operation.SMod64K: r[i->Dst] = SMod64(i->Imm, (long)r[i->Dst]); continue;
                case Operation.SMod64X: r[i->Dst] = SMod64((long)r[i->Src], (long)r[i->Dst]); continue;
                case Operation.Xor64K: r[i->Dst] ^= (ulong)i->Imm; continue;
                case Operation.Xor64X: r[i->Dst] ^= r[i->Src]; continue;
                case Operation.Mov64K: r[i->Dst] = (ulong)i->Imm; continue;
                case Operation.Mov64X: r[i->Dst] = r[i->Src]; continue;
                case Operation.MovSx64B: r[i->Dst] = (ulong)(long)(sbyte)r[i->Src]; continue;
                case Operation.MovSx64H: r[i->Dst] = (ulong)(long)(short)r[i->Src]; continue;
                case Operation.MovSx64W: r[i->Dst] = (ulong)(long)(int)r[i->Src]; continue;
                case Operation.Arsh64K: r[i->Dst] = (ulong)((long)r[i->Dst] >> (int)(i->Imm & 63)); continue;
                case Operation.Arsh64X: r[i->Dst] = (ulong)((long)r[i->Dst] >> (int)(r[i->Src] & 63)); continue;

                // ---- ALU32: operate on the low halves, zero-extend the result ----
                case Operation.Add32K: r[i->Dst] = (uint)((uint)r[i->Dst] + (uint)i->Imm); continue;
                case Operation.Add32X: r[i->Dst] = (uint)((uint)r[i->Dst] + (uint)r[i->Src]); continue;
                case Operation.Sub32K: r[i->Dst] = (uint)((uint)r[i->Dst] - (uint)i->Imm); continue;
                case Operation.Sub32X: r[i->Dst] = (uint)((uint)r[i->Dst] - (uint)r[i->Src]); continue;
                case Operation.Mul32K: r[i->Dst] = (uint)((uint)r[i->Dst] * (uint)i->Imm); continue;
                case Operation.Mul32X: r[i->Dst] = (uint)((uint)r[i->Dst] * (uint)r[i->Src]); continue;
                case Operation.Div32K: r[i->Dst] = Div32((uint)i->Imm, (uint)r[i->Dst]); continue;
                case Operation.Div32X: r[i->Dst] = Div32((uint)r[i->Src], (uint)r[i->Dst]); continue;
                case Operation.SDiv32K: r[i->Dst] = SDiv32((int)i->Imm, (int)r[i->Dst]); continue;
                case Operation.SDiv32X: r[i->Dst] = SDiv32((int)r[i->Src], (int)r[i->Dst]); continue;
                case Operation.Or32K: r[i->Dst] = (uint)r[i->Dst] | (uint)i->Imm; continue;
                case Operation.Or32X: r[i->Dst] = (uint)r[i->Dst] | (uint)r[i->Src]; continue;
                case Operation.And32K: r[i->Dst] = (uint)r[i->Dst] & (uint)i->Imm; continue;
                case Operation.And32X: r[i->Dst] = (uint)r[i->Dst] & (uint)r[i->Src]; continue;
                case Operation.Lsh32K: r[i->Dst] = (uint)r[i->Dst] << (int)(i->Imm & 31); continue;
                case Operation.Lsh32X: r[i->Dst] = (uint)r[i->Dst] << (int)(r[i->Src] & 31); continue;
                case Operation.Rsh32K: r[i->Dst] = (uint)r[i->Dst] >> (int)(i->Imm & 31); continue;
                case Operation.Rsh32X: r[i->Dst] = (uint)r[i->Dst] >> (int)(r[i->Src] & 31); continue;
                case Operation.Neg32: r[i->Dst] = (uint)-(int)r[i->Dst]; continue;
                case Operation.Mod32K: r[i->Dst] = Mod32((uint)i->Imm, (uint)r[i->Dst]); continue;
                case Operation.Mod32X: r[i->Dst] = Mod32((uint)r[i->Src], (uint)r[i->Dst]); continue;
                case Operation.SMod32K: r[i->Dst] = SMod32((int)i->Imm, (int)r[i->Dst]); continue;
                case Operation.SMod32X: r[i->Dst] = SMod32((int)r[i->Src], (int)r[i->Dst]); continue;
                case Operation.Xor32K: r[i->Dst] = (uint)r[i->Dst] ^ (uint)i->Imm; continue;
                case Operation.Xor32X: r[i->Dst] = (uint)r[i->Dst] ^ (uint)r[i->Src]; continue;
                case Operation.Mov32K: r[i->Dst] = (uint)i->Imm; continue;
                case Operation.Mov32X: r[i->Dst] = (uint)r[i->Src]; continue;
                case Operation.MovSx32B: r[i->Dst] = (uint)(int)(sbyte)r[i->Src]; continue;
                case Operation.MovSx32H: r[i->Dst] = (uint)(int)(short)r[i->Src]; continue;
                case Operation.Arsh32K: r[i->Dst] = (uint)((int)r[i->Dst] >> (int)(i->Imm & 31)); continue;
                case Operation.Arsh32X: r[i->Dst] = (uint)((int)r[i->Dst] >> (int)(r[i->Src] & 31)); continue;

                // ---- byte order (decoder mapped le/be to truncate/swap for this host) ----
                case Operation.Le16: r[i->Dst] = (ushort)r[i->Dst]; continue;
                case Operation.Le32: r[i->Dst] = (uint)r[i->Dst]; continue;
                case Operation.Le64: continue;
                case Operation.Be16:
                case Operation.Bswap16: r[i->Dst] = BinaryPrimitives.ReverseEndianness((ushort)r[i->Dst]); continue;
                case Operation.Be32:
                case Operation.Bswap32: r[i->Dst] = BinaryPrimitives.ReverseEndianness((uint)r[i->Dst]); continue;
                case Operation.Be64:
                case Operation.Bswap64: r[i->Dst] = BinaryPrimitives.ReverseEndianness(r[i->Dst]); continue;

                // ---- jumps ----
                case Operation.Ja: ip = code + i->Offset; continue;
                case Operation.MayGoto:
                    // Falls through while the frame's budget lasts (one unit per pass), then always jumps.
                    if (mayGoto == 0) ip = code + i->Offset;
                    else mayGoto--;
                    continue;
                case Operation.Jeq64K: ip = code + (r[i->Dst] == (ulong)(long)i->JumpImm ? i->Offset : i->NotTaken); continue;
                case Operation.Jeq64X: ip = code + (r[i->Dst] == r[i->Src] ? i->Offset : i->NotTaken); continue;
                case Operation.Jgt64K: ip = code + (r[i->Dst] > (ulong)(long)i->JumpImm ? i->Offset : i->NotTaken); continue;
                case Operation.Jgt64X: ip = code + (r[i->Dst] > r[i->Src] ? i->Offset : i->NotTaken); continue;
                case Operation.Jge64K: ip = code + (r[i->Dst] >= (ulong)(long)i->JumpImm ? i->Offset : i->NotTaken); continue;
                case Operation.Jge64X: ip = code + (r[i->Dst] >= r[i->Src] ? i->Offset : i->NotTaken); continue;
                case Operation.Jset64K: ip = code + ((r[i->Dst] & (ulong)(long)i->JumpImm) != 0 ? i->Offset : i->NotTaken); continue;
                case Operation.Jset64X: ip = code + ((r[i->Dst] & r[i->Src]) != 0 ? i->Offset : i->NotTaken); continue;
                case Operation.Jne64K: ip = code + (r[i->Dst] != (ulong)(long)i->JumpImm ? i->Offset : i->NotTaken); continue;
                case Operation.Jne64X: ip = code + (r[i->Dst] != r[i->Src] ? i->Offset : i->NotTaken); continue;
                case Operation.Jsgt64K: ip = code + ((long)r[i->Dst] > (long)i->JumpImm ? i->Offset : i->NotTaken); continue;
                case Operation.Jsgt64X: ip = code + ((long)r[i->Dst] > (long)r[i->Src] ? i->Offset : i->NotTaken); continue;
                case Operation.Jsge64K: ip = code + ((long)r[i->Dst] >= (long)i->JumpImm ? i->Offset : i->NotTaken); continue;
                case Operation.Jsge64X: ip = code + ((long)r[i->Dst] >= (long)r[i->Src] ? i->Offset : i->NotTaken); continue;
                case Operation.Jlt64K: ip = code + (r[i->Dst] < (ulong)(long)i->JumpImm ? i->Offset : i->NotTaken); continue;
                case Operation.Jlt64X: ip = code + (r[i->Dst] < r[i->Src] ? i->Offset : i->NotTaken); continue;
                case Operation.Jle64K: ip = code + (r[i->Dst] <= (ulong)(long)i->JumpImm ? i->Offset : i->NotTaken); continue;
                case Operation.Jle64X: ip = code + (r[i->Dst] <= r[i->Src] ? i->Offset : i->NotTaken); continue;
                case Operation.Jslt64K: ip = code + ((long)r[i->Dst] < (long)i->JumpImm ? i->Offset : i->NotTaken); continue;
                case Operation.Jslt64X: ip = code + ((long)r[i->Dst] < (long)r[i->Src] ? i->Offset : i->NotTaken); continue;
                case Operation.Jsle64K: ip = code + ((long)r[i->Dst] <= (long)i->JumpImm ? i->Offset : i->NotTaken); continue;
                case Operation.Jsle64X: ip = code + ((long)r[i->Dst] <= (long)r[i->Src] ? i->Offset : i->NotTaken); continue;
                case Operation.Jeq32K: ip = code + ((uint)r[i->Dst] == (uint)i->JumpImm ? i->Offset : i->NotTaken); continue;
                case Operation.Jeq32X: ip = code + ((uint)r[i->Dst] == (uint)r[i->Src] ? i->Offset : i->NotTaken); continue;
                case Operation.Jgt32K: ip = code + ((uint)r[i->Dst] > (uint)i->JumpImm ? i->Offset : i->NotTaken); continue;
                case Operation.Jgt32X: ip = code + ((uint)r[i->Dst] > (uint)r[i->Src] ? i->Offset : i->NotTaken); continue;
                case Operation.Jge32K: ip = code + ((uint)r[i->Dst] >= (uint)i->JumpImm ? i->Offset : i->NotTaken); continue;
                case Operation.Jge32X: ip = code + ((uint)r[i->Dst] >= (uint)r[i->Src] ? i->Offset : i->NotTaken); continue;
                case Operation.Jset32K: ip = code + (((uint)r[i->Dst] & (uint)i->JumpImm) != 0 ? i->Offset : i->NotTaken); continue;
                case Operation.Jset32X: ip = code + (((uint)r[i->Dst] & (uint)r[i->Src]) != 0 ? i->Offset : i->NotTaken); continue;
                case Operation.Jne32K: ip = code + ((uint)r[i->Dst] != (uint)i->JumpImm ? i->Offset : i->NotTaken); continue;
                case Operation.Jne32X: ip = code + ((uint)r[i->Dst] != (uint)r[i->Src] ? i->Offset : i->NotTaken); continue;
                case Operation.Jsgt32K: ip = code + ((int)r[i->Dst] > i->JumpImm ? i->Offset : i->NotTaken); continue;
                case Operation.Jsgt32X: ip = code + ((int)r[i->Dst] > (int)r[i->Src] ? i->Offset : i->NotTaken); continue;
                case Operation.Jsge32K: ip = code + ((int)r[i->Dst] >= i->JumpImm ? i->Offset : i->NotTaken); continue;
                case Operation.Jsge32X: ip = code + ((int)r[i->Dst] >= (int)r[i->Src] ? i->Offset : i->NotTaken); continue;
                case Operation.Jlt32K: ip = code + ((uint)r[i->Dst] < (uint)i->JumpImm ? i->Offset : i->NotTaken); continue;
                case Operation.Jlt32X: ip = code + ((uint)r[i->Dst] < (uint)r[i->Src] ? i->Offset : i->NotTaken); continue;
                case Operation.Jle32K: ip = code + ((uint)r[i->Dst] <= (uint)i->JumpImm ? i->Offset : i->NotTaken); continue;
                case Operation.Jle32X: ip = code + ((uint)r[i->Dst] <= (uint)r[i->Src] ? i->Offset : i->NotTaken); continue;
                case Operation.Jslt32K: ip = code + ((int)r[i->Dst] < i->JumpImm ? i->Offset : i->NotTaken); continue;
                case Operation.Jslt32X: ip = code + ((int)r[i->Dst] < (int)r[i->Src] ? i->Offset : i->NotTaken); continue;
                case Operation.Jsle32K: ip = code + ((int)r[i->Dst] <= i->JumpImm ? i->Offset : i->NotTaken); continue;
                case Operation.Jsle32X: ip = code + ((int)r[i->Dst] <= (int)r[i->Src] ? i->Offset : i->NotTaken); continue;

                // ---- lddw ----
                case Operation.LoadImm64: r[i->Dst] = (ulong)i->Imm; ip++; continue;
                case Operation.LoadFunctionReference: r[i->Dst] = (ulong)(code + i->Offset); ip++; continue;

                // ---- loads ----
                case Operation.ProbeLoad:
                    r[i->Dst] = ProbeMemory.Load(r[i->Src] + (ulong)(long)i->Offset, (int)i->Imm);
                    continue;
                case Operation.LdxB:
                    a = r[i->Src] + (ulong)(long)i->Offset;
                    if (TMode.IsChecked) Check(ctx, program, code, i, a, 1, MemoryAccess.Read, depth);
                    r[i->Dst] = *(byte*)a;
                    continue;
                case Operation.LdxH:
                    a = r[i->Src] + (ulong)(long)i->Offset;
                    if (TMode.IsChecked) Check(ctx, program, code, i, a, 2, MemoryAccess.Read, depth);
                    r[i->Dst] = Unsafe.ReadUnaligned<ushort>((void*)a);
                    continue;
                case Operation.LdxW:
                    a = r[i->Src] + (ulong)(long)i->Offset;
                    if (TMode.IsChecked)
                    {
                        if (program.ContextFields is not null && TryLoadContextPointer(ctx, program, a, out ulong pointer))
                        {
                            r[i->Dst] = pointer;
                            continue;
                        }
                        Check(ctx, program, code, i, a, 4, MemoryAccess.Read, depth);
                    }
                    r[i->Dst] = Unsafe.ReadUnaligned<uint>((void*)a);
                    continue;
                case Operation.LdxDW:
                    a = r[i->Src] + (ulong)(long)i->Offset;
                    if (TMode.IsChecked) Check(ctx, program, code, i, a, 8, MemoryAccess.Read, depth);
                    r[i->Dst] = Unsafe.ReadUnaligned<ulong>((void*)a);
                    continue;
                case Operation.LdxSxB:
                    a = r[i->Src] + (ulong)(long)i->Offset;
                    if (TMode.IsChecked) Check(ctx, program, code, i, a, 1, MemoryAccess.Read, depth);
                    r[i->Dst] = (ulong)(long)*(sbyte*)a;
                    continue;
                case Operation.LdxSxH:
                    a = r[i->Src] + (ulong)(long)i->Offset;
                    if (TMode.IsChecked) Check(ctx, program, code, i, a, 2, MemoryAccess.Read, depth);
                    r[i->Dst] = (ulong)(long)Unsafe.ReadUnaligned<short>((void*)a);
                    continue;
                case Operation.LdxSxW:
                    a = r[i->Src] + (ulong)(long)i->Offset;
                    if (TMode.IsChecked) Check(ctx, program, code, i, a, 4, MemoryAccess.Read, depth);
                    r[i->Dst] = (ulong)(long)Unsafe.ReadUnaligned<int>((void*)a);
                    continue;

                // ---- stores ----
                case Operation.StB:
                    a = r[i->Dst] + (ulong)(long)i->Offset;
                    if (TMode.IsChecked) Check(ctx, program, code, i, a, 1, MemoryAccess.Write, depth);
                    *(byte*)a = (byte)i->Imm;
                    continue;
                case Operation.StH:
                    a = r[i->Dst] + (ulong)(long)i->Offset;
                    if (TMode.IsChecked) Check(ctx, program, code, i, a, 2, MemoryAccess.Write, depth);
                    Unsafe.WriteUnaligned((void*)a, (ushort)i->Imm);
                    continue;
                case Operation.StW:
                    a = r[i->Dst] + (ulong)(long)i->Offset;
                    if (TMode.IsChecked) Check(ctx, program, code, i, a, 4, MemoryAccess.Write, depth);
                    Unsafe.WriteUnaligned((void*)a, (uint)i->Imm);
                    continue;
                case Operation.StDW:
                    a = r[i->Dst] + (ulong)(long)i->Offset;
                    if (TMode.IsChecked) Check(ctx, program, code, i, a, 8, MemoryAccess.Write, depth);
                    Unsafe.WriteUnaligned((void*)a, (ulong)i->Imm);
                    continue;
                case Operation.StxB:
                    a = r[i->Dst] + (ulong)(long)i->Offset;
                    if (TMode.IsChecked) Check(ctx, program, code, i, a, 1, MemoryAccess.Write, depth);
                    *(byte*)a = (byte)r[i->Src];
                    continue;
                case Operation.StxH:
                    a = r[i->Dst] + (ulong)(long)i->Offset;
                    if (TMode.IsChecked) Check(ctx, program, code, i, a, 2, MemoryAccess.Write, depth);
                    Unsafe.WriteUnaligned((void*)a, (ushort)r[i->Src]);
                    continue;
                case Operation.StxW:
                    a = r[i->Dst] + (ulong)(long)i->Offset;
                    if (TMode.IsChecked) Check(ctx, program, code, i, a, 4, MemoryAccess.Write, depth);
                    Unsafe.WriteUnaligned((void*)a, (uint)r[i->Src]);
                    continue;
                case Operation.StxDW:
                    a = r[i->Dst] + (ulong)(long)i->Offset;
                    if (TMode.IsChecked) Check(ctx, program, code, i, a, 8, MemoryAccess.Write, depth);
                    Unsafe.WriteUnaligned((void*)a, r[i->Src]);
                    continue;

                // ---- atomics ----
                case Operation.AtomicAdd32: case Operation.AtomicOr32: case Operation.AtomicAnd32: case Operation.AtomicXor32:
                case Operation.AtomicFetchAdd32: case Operation.AtomicFetchOr32: case Operation.AtomicFetchAnd32: case Operation.AtomicFetchXor32:
                case Operation.Xchg32: case Operation.Cmpxchg32:
                case Operation.AtomicAdd64: case Operation.AtomicOr64: case Operation.AtomicAnd64: case Operation.AtomicXor64:
                case Operation.AtomicFetchAdd64: case Operation.AtomicFetchOr64: case Operation.AtomicFetchAnd64: case Operation.AtomicFetchXor64:
                case Operation.Xchg64: case Operation.Cmpxchg64:
                    ExecuteAtomic<TMode>(ctx, program, code, (int)(i - code), r, depth);
                    continue;
                case Operation.LoadAcquireB: case Operation.LoadAcquireH: case Operation.LoadAcquireW: case Operation.LoadAcquireDW:
                case Operation.StoreReleaseB: case Operation.StoreReleaseH: case Operation.StoreReleaseW: case Operation.StoreReleaseDW:
                    ExecuteAcquireRelease<TMode>(ctx, program, code, (int)(i - code), r, depth);
                    continue;

                // ---- calls ----
                case Operation.CallRegister:
                    // Calls are rare: everything needed from i is read before the first call, so that i itself
                    // is never live across a call (which would make the JIT spill it on every dispatch).
                    sitePc = (int)(i - code);
                    registerValue = r[i->Dst];
                    callTarget = program.FunctionIndexOf(registerValue);
                    if (callTarget >= 0)
                        goto localCall;
                    // Not a function reference: the conformance suite's convention (as in ubpf) is a helper id.
                    helperId = registerValue <= int.MaxValue ? (long)registerValue : -1;
                    goto helperCall;
                case Operation.CallHelper:
                    sitePc = (int)(i - code);
                    registerValue = 0;
                    helperId = i->Imm;
                helperCall:
                {
                    if (!program.Helpers.TryGet(helperId, out var helper))
                        throw UnknownHelper(program, sitePc, code[sitePc].Op, helperId, registerValue);
                    ulong arg1 = r[1];
                    if (TMode.IsChecked)
                        ctx.Budget = budget;
                    ctx.Depth = depth;
                    r[0] = helper.Invoke(arg1, r[2], r[3], r[4], r[5]);
                    if (TMode.IsChecked)
                        budget = ctx.Budget;
                    if (ctx.PendingTailCall is { } tailTarget)
                    {
                        // bpf_tail_call: the target replaces the running program in this frame, with r1 = ctx.
                        ctx.PendingTailCall = null;
                        program = tailTarget;
                        ctx.Program = tailTarget;
                        code = tailTarget._codePointer;
                        ip = code;
                        r[1] = arg1;
                        mayGoto = MayGotoBudget; // the target's prologue sets its own counter
                    }
                    continue;
                }
                case Operation.CallLocal:
                    sitePc = (int)(i - code);
                    callTarget = i->Offset;
                localCall:
                {
                    if (depth + 1 >= MaxFrames)
                        throw Fault(program, sitePc, Errno.E2BIG, $"the call stack of {depth + 2} frames is too deep (at most {MaxFrames})");
                    if (program._slotAt is { } slots && slots[callTarget] is { } slot && slot.Override is { } takenOver)
                    {
                        // An extension or trampoline took the function over: it runs in frames of its own.
                        if (TMode.IsChecked)
                            ctx.Budget = budget;
                        r[0] = CallThroughSlot(takenOver, slot, program, ctx, depth, r);
                        if (TMode.IsChecked)
                            budget = ctx.Budget;
                        continue;
                    }
                    Frame* f = frames + (depth - baseDepth);
                    f->R6 = r[6];
                    f->R7 = r[7];
                    f->R8 = r[8];
                    f->R9 = r[9];
                    f->R10 = r[10];
                    f->Return = ip;
                    f->MayGoto = mayGoto;
                    mayGoto = MayGotoBudget;
                    ctx.FramePrograms[depth] = program;
                    depth++;
                    r[10] -= StackSize;
                    ip = code + callTarget;
                    continue;
                }
                case Operation.Exit:
                {
                    if (depth == baseDepth)
                    {
                        if (TMode.IsChecked)
                            ctx.Budget = budget;
                        return r[0];
                    }
                    depth--;
                    Frame* f = frames + (depth - baseDepth);
                    r[6] = f->R6;
                    r[7] = f->R7;
                    r[8] = f->R8;
                    r[9] = f->R9;
                    r[10] = f->R10;
                    ip = f->Return;
                    mayGoto = f->MayGoto;
                    var caller = ctx.FramePrograms[depth]!;
                    if (caller != program)
                    {
                        // The callee tail-called into another program; return into the caller's code.
                        program = caller;
                        ctx.Program = caller;
                        code = caller._codePointer;
                    }
                    continue;
                }

                // ---- legacy packet loads ----
                case Operation.LdAbsB: case Operation.LdAbsH: case Operation.LdAbsW:
                case Operation.LdIndB: case Operation.LdIndH: case Operation.LdIndW:
                {
                    if (!LegacyLoad(ctx, program, code, (int)(i - code), r))
                    {
                        if (TMode.IsChecked)
                            ctx.Budget = budget;
                        return 0;
                    }
                    continue;
                }

                // ---- superinstructions (unchecked only) ----
                case Operation.Add3: r[i->Dst] = r[i->Src] + r[i->Src2]; ip++; continue;
                case Operation.Add64KK: r[i->Dst] += (ulong)(long)i->JumpImm; r[i->Src] += (ulong)(long)i->NotTaken; ip++; continue;
                case Operation.Mov64XJa: r[i->Dst] = r[i->Src]; ip = code + i->Offset; continue;
                case Operation.Mov64KJa: r[i->Dst] = (ulong)i->Imm; ip = code + i->Offset; continue;
                case Operation.Add64KJa: r[i->Dst] += (ulong)i->Imm; ip = code + i->Offset; continue;
                case Operation.Add64XJa: r[i->Dst] += r[i->Src]; ip = code + i->Offset; continue;
                case Operation.LoadIndexedB: r[i->Dst] = *(byte*)(r[i->Src] + r[i->Src2] + (ulong)(long)i->Offset); ip += 2; continue;
                case Operation.LoadIndexedH: r[i->Dst] = Unsafe.ReadUnaligned<ushort>((void*)(r[i->Src] + r[i->Src2] + (ulong)(long)i->Offset)); ip += 2; continue;
                case Operation.LoadIndexedW: r[i->Dst] = Unsafe.ReadUnaligned<uint>((void*)(r[i->Src] + r[i->Src2] + (ulong)(long)i->Offset)); ip += 2; continue;
                case Operation.LoadIndexedDW: r[i->Dst] = Unsafe.ReadUnaligned<ulong>((void*)(r[i->Src] + r[i->Src2] + (ulong)(long)i->Offset)); ip += 2; continue;

                // load + compare: the loaded value is compared before any further register read, so Src2 == Dst works
                case Operation.LoadDWJeqX: r[i->Dst] = a = Unsafe.ReadUnaligned<ulong>((void*)(r[i->Src] + (ulong)(long)i->JumpImm)); ip = code + (a == r[i->Src2] ? i->Offset : i->NotTaken); continue;
                case Operation.LoadDWJneX: r[i->Dst] = a = Unsafe.ReadUnaligned<ulong>((void*)(r[i->Src] + (ulong)(long)i->JumpImm)); ip = code + (a != r[i->Src2] ? i->Offset : i->NotTaken); continue;
                case Operation.LoadDWJgtX: r[i->Dst] = a = Unsafe.ReadUnaligned<ulong>((void*)(r[i->Src] + (ulong)(long)i->JumpImm)); ip = code + (a > r[i->Src2] ? i->Offset : i->NotTaken); continue;
                case Operation.LoadDWJgeX: r[i->Dst] = a = Unsafe.ReadUnaligned<ulong>((void*)(r[i->Src] + (ulong)(long)i->JumpImm)); ip = code + (a >= r[i->Src2] ? i->Offset : i->NotTaken); continue;
                case Operation.LoadDWJltX: r[i->Dst] = a = Unsafe.ReadUnaligned<ulong>((void*)(r[i->Src] + (ulong)(long)i->JumpImm)); ip = code + (a < r[i->Src2] ? i->Offset : i->NotTaken); continue;
                case Operation.LoadDWJleX: r[i->Dst] = a = Unsafe.ReadUnaligned<ulong>((void*)(r[i->Src] + (ulong)(long)i->JumpImm)); ip = code + (a <= r[i->Src2] ? i->Offset : i->NotTaken); continue;
                case Operation.LoadDWJsgtX: r[i->Dst] = a = Unsafe.ReadUnaligned<ulong>((void*)(r[i->Src] + (ulong)(long)i->JumpImm)); ip = code + ((long)a > (long)r[i->Src2] ? i->Offset : i->NotTaken); continue;
                case Operation.LoadDWJsgeX: r[i->Dst] = a = Unsafe.ReadUnaligned<ulong>((void*)(r[i->Src] + (ulong)(long)i->JumpImm)); ip = code + ((long)a >= (long)r[i->Src2] ? i->Offset : i->NotTaken); continue;
                case Operation.LoadDWJsltX: r[i->Dst] = a = Unsafe.ReadUnaligned<ulong>((void*)(r[i->Src] + (ulong)(long)i->JumpImm)); ip = code + ((long)a < (long)r[i->Src2] ? i->Offset : i->NotTaken); continue;
                case Operation.LoadDWJsleX: r[i->Dst] = a = Unsafe.ReadUnaligned<ulong>((void*)(r[i->Src] + (ulong)(long)i->JumpImm)); ip = code + ((long)a <= (long)r[i->Src2] ? i->Offset : i->NotTaken); continue;
                // move + compare: the compare reads the registers after the move
                case Operation.MovJeqX: r[i->Dst] = r[i->Src]; ip = code + (r[i->JumpDst] == r[i->JumpSrc] ? i->Offset : i->NotTaken); continue;
                case Operation.MovJneX: r[i->Dst] = r[i->Src]; ip = code + (r[i->JumpDst] != r[i->JumpSrc] ? i->Offset : i->NotTaken); continue;
                case Operation.MovJgtX: r[i->Dst] = r[i->Src]; ip = code + (r[i->JumpDst] > r[i->JumpSrc] ? i->Offset : i->NotTaken); continue;
                case Operation.MovJgeX: r[i->Dst] = r[i->Src]; ip = code + (r[i->JumpDst] >= r[i->JumpSrc] ? i->Offset : i->NotTaken); continue;
                case Operation.MovJltX: r[i->Dst] = r[i->Src]; ip = code + (r[i->JumpDst] < r[i->JumpSrc] ? i->Offset : i->NotTaken); continue;
                case Operation.MovJleX: r[i->Dst] = r[i->Src]; ip = code + (r[i->JumpDst] <= r[i->JumpSrc] ? i->Offset : i->NotTaken); continue;
                case Operation.MovJsgtX: r[i->Dst] = r[i->Src]; ip = code + ((long)r[i->JumpDst] > (long)r[i->JumpSrc] ? i->Offset : i->NotTaken); continue;
                case Operation.MovJsgeX: r[i->Dst] = r[i->Src]; ip = code + ((long)r[i->JumpDst] >= (long)r[i->JumpSrc] ? i->Offset : i->NotTaken); continue;
                case Operation.MovJsltX: r[i->Dst] = r[i->Src]; ip = code + ((long)r[i->JumpDst] < (long)r[i->JumpSrc] ? i->Offset : i->NotTaken); continue;
                case Operation.MovJsleX: r[i->Dst] = r[i->Src]; ip = code + ((long)r[i->JumpDst] <= (long)r[i->JumpSrc] ? i->Offset : i->NotTaken); continue;
                case Operation.StxDW2:
                    Unsafe.WriteUnaligned((void*)(r[i->Dst] + (ulong)(long)i->Offset), r[i->Src]);
                    Unsafe.WriteUnaligned((void*)(r[i->Src2] + (ulong)(long)i->JumpImm), r[i->NotTaken]);
                    ip++;
                    continue;

                case Operation.FellOffEnd:
                    // The message lives in a helper: a string literal here is a lazy-load call made before the
                    // arguments, which would keep i live across a call (and spilled on every dispatch).
                    throw FellOffEnd(program, (int)(i - code));
                case Operation.Invalid:
                    throw InvalidInstruction(program, (int)(i - code));
                case Operation.LoadImm64Tail:
                default:
                    // Read before the first call: if i were live across a call, the JIT would spill it on every dispatch.
                    sitePc = (int)(i - code);
                    throw BadSlot(program, sitePc, i->Op);
            }
        }
    }

    private static BpfException FellOffEnd(Interpreter program, int pc) =>
        Fault(program, pc, Errno.EINVAL, "fell off the end of the program (no exit)");

    private static BpfException InvalidInstruction(Interpreter program, int pc) =>
        Fault(program, pc, Errno.EINVAL, "invalid instruction (reserved fields; the kernel refuses it when verification reaches it)");

    private static BpfException BadSlot(Interpreter program, int pc, Operation op) =>
        Fault(program, pc, Errno.EINVAL, $"jump into the second half of an ldimm64 ({op})");

    private static BpfException UnknownHelper(Interpreter program, int pc, Operation op, long helperId, ulong register) =>
        op == Operation.CallRegister
            ? Fault(program, pc, Errno.EINVAL, $"callx to 0x{register:x}, which is neither a function reference of this program nor a helper id")
            : Fault(program, pc, Errno.EINVAL, $"invalid func unknown#{helperId}");

    internal static ulong Div64(ulong divisor, ulong dividend) => divisor == 0 ? 0 : dividend / divisor;
    internal static ulong Mod64(ulong divisor, ulong dividend) => divisor == 0 ? dividend : dividend % divisor;
    internal static uint Div32(uint divisor, uint dividend) => divisor == 0 ? 0 : dividend / divisor;
    internal static uint Mod32(uint divisor, uint dividend) => divisor == 0 ? dividend : dividend % divisor;

    // Signed: x/0 = 0, x%0 = x, and the one overflowing case (MIN / -1) wraps to MIN with remainder 0.
    internal static ulong SDiv64(long divisor, long dividend) =>
        divisor == 0 ? 0 : divisor == -1 ? (ulong)(0 - dividend) : (ulong)(dividend / divisor);
    internal static ulong SMod64(long divisor, long dividend) =>
        divisor == 0 ? (ulong)dividend : divisor == -1 ? 0 : (ulong)(dividend % divisor);
    internal static uint SDiv32(int divisor, int dividend) =>
        divisor == 0 ? 0 : divisor == -1 ? (uint)(0 - dividend) : (uint)(dividend / divisor);
    internal static uint SMod32(int divisor, int dividend) =>
        divisor == 0 ? (uint)dividend : divisor == -1 ? 0 : (uint)(dividend % divisor);

    private static void ExecuteAtomic<TMode>(InvocationContext ctx, Interpreter program, DecodedInstruction* code, int pc, ulong* r, int depth)
        where TMode : struct, IExecutionMode
    {
        DecodedInstruction* i = code + pc;
        ulong a = r[i->Dst] + (ulong)(long)i->Offset;
        bool is64 = i->Op >= Operation.AtomicAdd64;
        if (TMode.IsChecked)
        {
            int size = is64 ? 8 : 4;
            Check(ctx, program, code, i, a, size, MemoryAccess.ReadWrite, depth);
            if ((a & (ulong)(size - 1)) != 0)
                throw Fault(program, (int)(i - code), Errno.EFAULT, $"misaligned atomic access of size {size} at 0x{a:x}");
        }
        if (!is64)
        {
            ref int cell = ref *(int*)a;
            int v = (int)r[i->Src];
            switch (i->Op)
            {
                case Operation.AtomicAdd32: Interlocked.Add(ref cell, v); break;
                case Operation.AtomicOr32: Interlocked.Or(ref cell, v); break;
                case Operation.AtomicAnd32: Interlocked.And(ref cell, v); break;
                case Operation.AtomicXor32: Xor32(ref cell, v); break;
                case Operation.AtomicFetchAdd32: r[i->Src] = (uint)(Interlocked.Add(ref cell, v) - v); break;
                case Operation.AtomicFetchOr32: r[i->Src] = (uint)Interlocked.Or(ref cell, v); break;
                case Operation.AtomicFetchAnd32: r[i->Src] = (uint)Interlocked.And(ref cell, v); break;
                case Operation.AtomicFetchXor32: r[i->Src] = (uint)Xor32(ref cell, v); break;
                case Operation.Xchg32: r[i->Src] = (uint)Interlocked.Exchange(ref cell, v); break;
                default: r[0] = (uint)Interlocked.CompareExchange(ref cell, v, (int)r[0]); break;
            }
        }
        else
        {
            ref long cell = ref *(long*)a;
            long v = (long)r[i->Src];
            switch (i->Op)
            {
                case Operation.AtomicAdd64: Interlocked.Add(ref cell, v); break;
                case Operation.AtomicOr64: Interlocked.Or(ref cell, v); break;
                case Operation.AtomicAnd64: Interlocked.And(ref cell, v); break;
                case Operation.AtomicXor64: Xor64(ref cell, v); break;
                case Operation.AtomicFetchAdd64: r[i->Src] = (ulong)(Interlocked.Add(ref cell, v) - v); break;
                case Operation.AtomicFetchOr64: r[i->Src] = (ulong)Interlocked.Or(ref cell, v); break;
                case Operation.AtomicFetchAnd64: r[i->Src] = (ulong)Interlocked.And(ref cell, v); break;
                case Operation.AtomicFetchXor64: r[i->Src] = (ulong)Xor64(ref cell, v); break;
                case Operation.Xchg64: r[i->Src] = (ulong)Interlocked.Exchange(ref cell, v); break;
                default: r[0] = (ulong)Interlocked.CompareExchange(ref cell, v, (long)r[0]); break;
            }
        }
    }

    private static void ExecuteAcquireRelease<TMode>(InvocationContext ctx, Interpreter program, DecodedInstruction* code, int pc, ulong* r, int depth)
        where TMode : struct, IExecutionMode
    {
        DecodedInstruction* i = code + pc;
        bool load = i->Op <= Operation.LoadAcquireDW;
        int width = load ? i->Op - Operation.LoadAcquireB : i->Op - Operation.StoreReleaseB;
        int size = 1 << width;
        ulong a = r[load ? i->Src : i->Dst] + (ulong)(long)i->Offset;
        if (TMode.IsChecked)
        {
            Check(ctx, program, code, i, a, size, load ? MemoryAccess.Read : MemoryAccess.Write, depth);
            // The kernel's verifier demands natural alignment of both (strict alignment, whatever the program's flags).
            if ((a & (ulong)(size - 1)) != 0)
                throw Fault(program, pc, Errno.EFAULT, $"misaligned {(load ? "load-acquire" : "store-release")} of size {size} at 0x{a:x}");
        }
        if (load)
            r[i->Dst] = LoadAcquire(a, size);
        else
            StoreRelease(a, size, r[i->Src]);
    }

    /// <summary>BPF_LOAD_ACQ: a load no later access may be reordered before; zero-extended.</summary>
    internal static ulong LoadAcquire(ulong a, int size) => size switch
    {
        1 => Volatile.Read(ref *(byte*)a),
        2 => Volatile.Read(ref *(ushort*)a),
        4 => Volatile.Read(ref *(uint*)a),
        _ => Volatile.Read(ref *(ulong*)a),
    };

    /// <summary>BPF_STORE_REL: a store no earlier access may be reordered after; the low <paramref name="size"/> bytes of the value.</summary>
    internal static void StoreRelease(ulong a, int size, ulong value)
    {
        switch (size)
        {
            case 1: Volatile.Write(ref *(byte*)a, (byte)value); break;
            case 2: Volatile.Write(ref *(ushort*)a, (ushort)value); break;
            case 4: Volatile.Write(ref *(uint*)a, (uint)value); break;
            default: Volatile.Write(ref *(ulong*)a, value); break;
        }
    }

    /// <summary>Atomic xor (no Interlocked primitive): compare-exchange loop; returns the old value.</summary>
    internal static int Xor32(ref int cell, int v)
    {
        int old = Volatile.Read(ref cell);
        while (true)
        {
            int seen = Interlocked.CompareExchange(ref cell, old ^ v, old);
            if (seen == old)
                return old;
            old = seen;
        }
    }

    internal static long Xor64(ref long cell, long v)
    {
        long old = Volatile.Read(ref cell);
        while (true)
        {
            long seen = Interlocked.CompareExchange(ref cell, old ^ v, old);
            if (seen == old)
                return old;
            old = seen;
        }
    }

    /// <summary>LD_ABS/LD_IND: r0 = big-endian load from the skb in r6; false = out of packet, program returns 0.</summary>
    private static bool LegacyLoad(InvocationContext ctx, Interpreter program, DecodedInstruction* code, int pc, ulong* r)
    {
        DecodedInstruction* i = code + pc;
        var access = ctx.PacketAccess
            ?? throw Fault(program, (int)(i - code), Errno.EOPNOTSUPP, "LD_ABS/LD_IND needs a socket buffer context, and this invocation has none");
        bool ind = i->Op >= Operation.LdIndB;
        int size = (i->Op - (ind ? Operation.LdIndB : Operation.LdAbsB)) switch { 0 => 1, 1 => 2, _ => 4 };
        long offset = ind ? (int)((uint)i->Imm + (uint)r[i->Src]) : (int)i->Imm;
        if (!access.TryLoad(r[6], offset, size, out uint value))
            return false;
        r[0] = value;
        return true;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void Check(InvocationContext ctx, Interpreter program, DecodedInstruction* code, DecodedInstruction* i, ulong address, int size, MemoryAccess access, int depth)
    {
        // Fast accept: inside the active stack frames.
        ulong stackLow = (ulong)(ctx.StackTop - (depth + 1) * StackSize);
        if (address >= stackLow && address <= (ulong)ctx.StackTop - (ulong)size)
            return;
        string? violation = ctx.FindViolation(address, size, access, depth);
        if (violation is not null)
            throw Fault(program, (int)(i - code), Errno.EFAULT, violation, "invalid memory access");
        if (program.ContextFields is { } fields && ctx.ContextAddress != 0
            && fields.Overlapping((long)(address - ctx.ContextAddress), size) is { } slot)
            throw Fault(program, (int)(i - code), Errno.EFAULT,
                $"{Kind(access)} of size {size} at ctx+{(long)(address - ctx.ContextAddress)} touches ctx field {slot.Name}, which only a 4-byte load at ctx+{slot.UserOffset} reads",
                "invalid ctx access");
    }

    /// <summary>An untranslated program's 4-byte load of a ctx pointer field (by address): the internal 64-bit pointer.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static bool TryLoadContextPointer(InvocationContext ctx, Interpreter program, ulong address, out ulong pointer)
    {
        pointer = 0;
        if (ctx.ContextAddress == 0 || program.ContextFields!.LoadAt((long)(address - ctx.ContextAddress)) is not { } slot)
            return false;
        pointer = Unsafe.ReadUnaligned<ulong>((void*)(ctx.ContextAddress + (ulong)slot.InternalOffset));
        return true;
    }

    private static string Kind(MemoryAccess access) => access switch
    {
        MemoryAccess.Read => "read",
        MemoryAccess.Write => "write",
        _ => "atomic access",
    };

    private static BpfException Fault(Interpreter program, int pc, Errno errno, string message, string? what = null) =>
        new(errno, what is null ? $"{program.Name}: insn {pc}: {message}" : $"{program.Name}: {what} at insn {pc}: {message}");

    private static BpfException BudgetExhausted(InvocationContext ctx, Interpreter program, int pc)
    {
        ctx.Budget = 0;
        return Fault(program, pc, Errno.ETIME,
            $"instruction budget of {ctx.InitialBudget} exhausted (an unbounded loop?)");
    }
}
