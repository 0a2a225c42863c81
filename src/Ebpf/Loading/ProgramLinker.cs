using Ebpf.Isa;

namespace Ebpf.Loading;

/// <summary>
/// libbpf's bpf_object__relocate for one entry program: walk its instructions; at the first call (or function
/// pointer) into a subprogram not yet in this program, append that subprogram's code and walk it in turn
/// (depth first, so the order matches libbpf's); fix every call immediate to the callee's place in this program.
/// Map, data and extern references are encoded in the "map index" form and listed for the backend.
/// </summary>
internal static class ProgramLinker
{
    public static ProgramSpec Link(ObjectReader reader, ObjectFunction entry)
    {
        var info = SectionDefinitions.Resolve(entry.SectionName);
        var code = new List<Instruction>(entry.Length);
        code.AddRange(entry.Code);
        var placed = new Dictionary<ObjectFunction, int> { [entry] = 0 };
        var functions = new List<LinkedFunction> { new(entry.Name, entry.SectionName, 0, entry.Length, entry.IsGlobal) };
        var relocations = new List<ProgramRelocation>();

        // Explicit stack instead of recursion: a hostile object may chain thousands of functions.
        var stack = new Stack<(ObjectFunction Function, int Base, int Next)>();
        stack.Push((entry, 0, 0));
        Walk(reader, code, placed, functions, relocations, stack);
        // libbpf: the main program need not call its exception callback (__exception_cb); append it after the rest.
        if (ExceptionCallback(reader, entry) is { } callback && !placed.ContainsKey(callback))
        {
            placed[callback] = code.Count;
            functions.Add(new LinkedFunction(callback.Name, callback.SectionName, code.Count, callback.Length, callback.IsGlobal));
            stack.Push((callback, code.Count, 0));
            code.AddRange(callback.Code);
            Walk(reader, code, placed, functions, relocations, stack);
        }

        var spec = new ProgramSpec
        {
            Name = entry.Name,
            SectionName = entry.SectionName,
            Type = info.Type,
            ExpectedAttachType = info.ExpectedAttachType,
            AttachTarget = info.AttachTarget,
            Autoload = info.Autoload,
            Flags = info.Flags,
            SectionKnown = info.Known,
            Instructions = [.. code],
            Functions = functions,
            Relocations = relocations,
            License = reader.Spec.License,
            KernelVersion = reader.Spec.KernelVersion,
        };
        reader.AttachLineAndFuncInfo(spec, placed);
        return spec;
    }

    /// <summary>The subprogram the entry's first <c>exception_callback:NAME</c> BTF decl tag names, or null. A second
    /// tag is left for the kernel to refuse ("multiple exception callback tags for main subprog").</summary>
    private static ObjectFunction? ExceptionCallback(ObjectReader reader, ObjectFunction entry)
    {
        if (reader.Spec.Btf is not { } btf) return null;
        foreach (uint id in btf.FindAllByName(entry.Name, Btf.BtfKind.Func))
            foreach (string tag in btf.GetDeclTagValues(id))
                if (tag.StartsWith("exception_callback:", StringComparison.Ordinal))
                    return reader.SubprogramNamed(tag["exception_callback:".Length..]);
        return null;
    }

    private static void Walk(ObjectReader reader, List<Instruction> code, Dictionary<ObjectFunction, int> placed,
        List<LinkedFunction> functions, List<ProgramRelocation> relocations, Stack<(ObjectFunction Function, int Base, int Next)> stack)
    {
        while (stack.Count > 0)
        {
            var (function, baseOffset, next) = stack.Pop();
            for (int i = next; i < function.Length; i++)
            {
                int at = baseOffset + i;
                var insn = code[at];
                function.Relocations.TryGetValue(function.Start + i, out var relo);
                if (relo is not null && ApplyDataRelocation(reader, code, at, relo, relocations))
                {
                    if (insn.IsLoadImm64)
                        i++;
                    continue;
                }
                bool isCall = insn.Opcode == Opcodes.Call && insn.Src == (byte)CallSource.Local;
                bool isFunctionPointer = insn.IsLoadImm64 && (insn.Src == (byte)LoadImm64Source.Function || relo?.Kind == RawRelocationKind.FunctionAddress);
                if (!isCall && !isFunctionPointer)
                {
                    if (insn.IsLoadImm64)
                        i++;
                    continue;
                }

                var callee = ResolveCallee(reader, function, i, insn, relo, isCall);
                if (!placed.TryGetValue(callee, out int calleeOffset))
                {
                    calleeOffset = code.Count;
                    placed[callee] = calleeOffset;
                    code.AddRange(callee.Code);
                    functions.Add(new LinkedFunction(callee.Name, callee.SectionName, calleeOffset, callee.Length, callee.IsGlobal));
                    // Resume this function after the call once the callee (and what it reaches) is placed.
                    code[at] = Retarget(insn, calleeOffset - at - 1, isCall);
                    stack.Push((function, baseOffset, isCall ? i + 1 : i + 2));
                    stack.Push((callee, calleeOffset, 0));
                    break;
                }
                code[at] = Retarget(insn, calleeOffset - at - 1, isCall);
                if (!isCall)
                    i++;
            }
        }
    }

    private static Instruction Retarget(Instruction insn, int relative, bool isCall) =>
        isCall ? insn.WithImm(relative) : insn.WithSrc((byte)LoadImm64Source.Function).WithImm(relative);

    private static ObjectFunction ResolveCallee(ObjectReader reader, ObjectFunction caller, int local, Instruction insn, RawRelocation? relo, bool isCall)
    {
        int sectionIndex;
        long target;
        if (relo is not null)
        {
            if (relo.Kind is not (RawRelocationKind.Call or RawRelocationKind.FunctionAddress))
                throw new BpfException(Errno.EINVAL,
                    $"{reader.Source}: program {caller.Name}: unexpected relocation against '{relo.SymbolName}' at insn {local}");
            sectionIndex = relo.SymbolSectionIndex;
            // Calls: the symbol's offset plus the pc-relative imm (-1 for a global function symbol).
            // Function pointers: the byte offset is symbol offset + imm.
            target = unchecked(relo.Kind == RawRelocationKind.Call
                ? relo.SymbolOffset / Instruction.Size + insn.Imm + 1
                : (relo.SymbolOffset + insn.Imm) / Instruction.Size);
        }
        else if (!isCall)
        {
            throw new BpfException(Errno.EINVAL, $"{reader.Source}: program {caller.Name}: missing subprog addr relo for insn #{local}");
        }
        else
        {
            // A static callee in the same section needs no relocation: imm is relative to the call's own position.
            sectionIndex = caller.SectionIndex;
            target = (long)caller.Start + local + insn.Imm + 1;
        }

        var callee = target is >= 0 and <= int.MaxValue ? reader.FunctionAt(sectionIndex, (int)target) : null;
        if (callee is null)
            throw new BpfException(Errno.EINVAL,
                $"{reader.Source}: program {caller.Name}: call at insn {local} targets insn {target} of section '{reader.SectionName(sectionIndex)}', where no function is");
        if (callee.Start != target)
            throw new BpfException(Errno.EINVAL,
                $"{reader.Source}: program {caller.Name}: call at insn {local} targets the middle of function '{callee.Name}'");
        return callee;
    }

    /// <summary>Encodes a map, data or extern reference and records it; false for call/function relocations.</summary>
    private static bool ApplyDataRelocation(ObjectReader reader, List<Instruction> code, int at, RawRelocation relo, List<ProgramRelocation> relocations)
    {
        var insn = code[at];
        switch (relo.Kind)
        {
            case RawRelocationKind.Map:
            {
                var map = reader.Maps[relo.MapIndex];
                code[at] = insn.WithSrc((byte)LoadImm64Source.MapIndex).WithImm(relo.MapIndex);
                relocations.Add(new ProgramRelocation(at, ProgramRelocationKind.MapReference, relo.SymbolName, map.Name, 0));
                return true;
            }
            case RawRelocationKind.Data:
            {
                var map = reader.Maps[relo.MapIndex];
                // libbpf: insn[1].imm = insn[0].imm + symbol offset, truncated to 32 bits; the verifier checks the range.
                uint offset = unchecked((uint)(relo.SymbolOffset + insn.Imm));
                code[at] = insn.WithSrc((byte)LoadImm64Source.MapIndexValue).WithImm(relo.MapIndex);
                code[at + 1] = code[at + 1].WithImm(unchecked((int)offset));
                relocations.Add(new ProgramRelocation(at, ProgramRelocationKind.MapValue, relo.SymbolName, map.Name, offset));
                return true;
            }
            case RawRelocationKind.Extern:
            {
                var ext = relo.Extern!;
                if (insn.Opcode == Opcodes.Call)
                {
                    code[at] = insn.WithSrc((byte)CallSource.Kfunc);
                    relocations.Add(new ProgramRelocation(at, ProgramRelocationKind.KfuncCall, ext.Name, null, 0));
                    return true;
                }
                if (ext.Kind == ExternKind.Kconfig && reader.KconfigMapIndex >= 0)
                {
                    var map = reader.Maps[reader.KconfigMapIndex];
                    code[at] = insn.WithSrc((byte)LoadImm64Source.MapIndexValue).WithImm(reader.KconfigMapIndex);
                    code[at + 1] = code[at + 1].WithImm(unchecked((int)ext.DataOffset));
                    relocations.Add(new ProgramRelocation(at, ProgramRelocationKind.KconfigExtern, ext.Name, map.Name, ext.DataOffset));
                    return true;
                }
                relocations.Add(new ProgramRelocation(at, ProgramRelocationKind.KsymVariable, ext.Name, null, 0));
                return true;
            }
            case RawRelocationKind.Unresolved:
                relocations.Add(new ProgramRelocation(at, ProgramRelocationKind.Unresolved, relo.SymbolName, null, 0));
                return true;
            default:
                return false;
        }
    }
}
