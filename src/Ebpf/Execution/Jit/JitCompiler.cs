using System.Reflection.Emit;

namespace Ebpf.Execution.Jit;

/// <summary>
/// Compiles a decoded program to IL, one <see cref="DynamicMethod"/> per BPF function, which RyuJIT then
/// turns into native code (register allocation and instruction selection are its job, so x64 and arm64
/// come from one backend). Only for programs that run unchecked: the code does no access checks.
/// </summary>
/// <remarks>
/// What the JIT does not take, it reports as a reason and the program stays in the interpreter (which is
/// the reference semantics): tail calls and callx need the interpreter's frame switching, LD_ABS/LD_IND its
/// skb hook, and jumps that leave their function (possible only in unverified code) have no IL equivalent.
/// Callbacks (bpf_loop, for_each_map_elem …) are fine: a function reference is the same address into the
/// decoded program as in the interpreter, and the helper runs the callback there, one frame below the
/// compiled caller's.
/// </remarks>
internal static class JitCompiler
{
    /// <summary>bpf_tail_call's helper id: a tail call replaces the running program, which compiled code cannot do.</summary>
    private const int TailCallHelperId = 12;

    /// <summary>Compiles <paramref name="code"/> (unfused, with its sentinel slot), or returns null and why not.</summary>
    /// <remarks><paramref name="code"/> must be the pinned array the interpreter keeps: function references point into it.</remarks>
    public static JitEntry? TryCompile(DecodedInstruction[] code, int length, HelperTable helpers, string name, IReadOnlyList<FunctionSlot>? slots,
        out string? reason, out int ilBytes, out int specializedCalls, out JitClosure? compiledClosure)
    {
        ilBytes = 0;
        specializedCalls = 0;
        compiledClosure = null;
        reason = WhyNotCompilable(code, length);
        if (reason is not null)
            return null;
        var starts = FunctionStarts(code, length);
        reason = CheckJumpsStayInFunctions(code, length, starts);
        if (reason is not null)
            return null;

        var closure = new JitClosure(name, helpers);
        closure.SlotsByFunction = new FunctionSlot?[starts.Count];
        if (slots is not null)
            foreach (var slot in slots)
                if (starts.IndexOf(slot.Start) is int f and >= 0)
                    closure.SlotsByFunction[f] = slot;
        var methods = new DynamicMethod[starts.Count];
        for (int f = 0; f < starts.Count; f++)
            methods[f] = new DynamicMethod($"bpf_{name}_{starts[f]}", typeof(ulong), JitFunctionEmitter.ParameterTypes, typeof(JitClosure).Module, skipVisibility: true);
        for (int f = 0; f < starts.Count; f++)
        {
            int end = f + 1 < starts.Count ? starts[f + 1] : length;
            ilBytes += new JitFunctionEmitter(methods[f], code, starts[f], end, closure, starts, methods).Emit();
        }
        closure.FunctionEntries = new JitEntry?[starts.Count];
        for (int f = 0; f < starts.Count; f++)
            if (closure.SlotsByFunction[f] is not null)
                closure.FunctionEntries[f] = methods[f].CreateDelegate<JitEntry>(closure);
        closure.Freeze();
        compiledClosure = closure;
        specializedCalls = closure.SpecializedCallSites;
        return methods[0].CreateDelegate<JitEntry>(closure);
    }

    private static string? WhyNotCompilable(DecodedInstruction[] code, int length)
    {
        for (int pc = 0; pc < length; pc++)
        {
            switch (code[pc].Op)
            {
                case Operation.CallRegister:
                    return $"insn {pc}: callx";
                case Operation.Invalid:
                    return $"insn {pc}: invalid instruction (traps in the interpreter)";
                case Operation.CallHelper when code[pc].Imm == TailCallHelperId:
                    return $"insn {pc}: tail call";
                case >= Operation.LdAbsB and <= Operation.LdIndW:
                    return $"insn {pc}: LD_ABS/LD_IND";
                case >= Operation.Add3 and < Operation.LoadImm64Tail:
                    return $"insn {pc}: fused instruction (compile before fusing)";
            }
        }
        return null;
    }

    /// <summary>Instruction 0 and every bpf-to-bpf call target, ascending.</summary>
    private static List<int> FunctionStarts(DecodedInstruction[] code, int length)
    {
        var starts = new SortedSet<int> { 0 };
        for (int pc = 0; pc < length; pc++)
            if (code[pc].Op == Operation.CallLocal)
                starts.Add(code[pc].Offset);
        return [.. starts];
    }

    private static string? CheckJumpsStayInFunctions(DecodedInstruction[] code, int length, List<int> starts)
    {
        for (int f = 0; f < starts.Count; f++)
        {
            int start = starts[f], end = f + 1 < starts.Count ? starts[f + 1] : length;
            for (int pc = start; pc < end; pc++)
            {
                var insn = code[pc];
                bool jumps = insn.Op is Operation.Ja or Operation.MayGoto || insn.IsConditionalJump;
                if (!jumps)
                    continue;
                if (insn.Offset < start || insn.Offset >= end)
                    return $"insn {pc}: jump to {insn.Offset} leaves its function [{start}, {end})";
                if (insn.IsConditionalJump && (insn.NotTaken < start || insn.NotTaken > end))
                    return $"insn {pc}: fall-through to {insn.NotTaken} leaves its function [{start}, {end})";
            }
        }
        return null;
    }
}

/// <summary>A compiled program's entry: registers r0–r9 in (r1 is usually the ctx), r0 out; <paramref name="framePointer"/> is r10 of the entry frame.</summary>
internal delegate ulong JitEntry(ulong r0, ulong r1, ulong r2, ulong r3, ulong r4, ulong r5, ulong r6, ulong r7, ulong r8, ulong r9, ulong framePointer, int depth);
