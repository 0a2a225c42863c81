namespace Ebpf.Isa;

/// <summary>Policy knobs for <see cref="ProgramValidator"/>.</summary>
public sealed record ValidatorOptions
{
    /// <summary>Linux rules: cpu v4 instruction set, no extensions.</summary>
    public static ValidatorOptions Kernel { get; } = new() { DeferReachedChecks = true };

    /// <summary>The bpf_conformance suite: additionally accepts callx.</summary>
    public static ValidatorOptions Conformance { get; } = new() { Extensions = IsaExtensions.Callx, DeferReachedChecks = true };

    /// <summary>Instructions beyond Linux's the validator accepts (callx).</summary>
    public IsaExtensions Extensions { get; init; }

    /// <summary>
    /// The kernel checks reserved fields and register numbers only in do_check, for instructions verification reaches
    /// (dead code may carry anything the pre-pass allows). True keeps such instructions as
    /// <see cref="InstructionKind.Invalid"/> for the executor to trap on; false refuses the program up front.
    /// </summary>
    public bool DeferReachedChecks { get; init; }

    /// <summary>BPF_COMPLEXITY_LIMIT_INSNS: the kernel refuses longer programs with E2BIG.</summary>
    public int MaxInstructions { get; init; } = 1_000_000;
}

/// <summary>
/// The structural checks the kernel makes before (and outside) abstract interpretation — not the verifier.
/// Every instruction must decode (<see cref="InstructionDecoder"/>: known opcode, zero reserved fields, complete lddw,
/// registers r0..r10); calls and function references must land on an instruction of the program
/// ("call to invalid destination"); each jump must stay inside its own function
/// ("jump out of range from insn %d to %d") and never land on the second slot of an lddw; and each function
/// must end in exit or an unconditional jump ("last insn is not an exit or jmp"). Failures are
/// <see cref="BpfException"/> with EINVAL (E2BIG for size), a message "insn N: …" and the kernel's line in
/// <see cref="BpfException.Log"/>.
/// </summary>
public static class ProgramValidator
{
    private static DecodedInstruction[] DecodeAll(ReadOnlySpan<Instruction> program, ValidatorOptions options)
    {
        if (!options.DeferReachedChecks)
            return InstructionDecoder.DecodeProgram(program, options.Extensions);
        var list = new List<DecodedInstruction>(program.Length);
        for (int i = 0; i < program.Length;)
        {
            if (!InstructionDecoder.TryDecode(program, i, out var d, out string? error, options.Extensions))
                d = new DecodedInstruction { Index = i, Kind = InstructionKind.Invalid, Error = error, Wide = program[i].IsLoadImm64 };
            list.Add(d);
            i += d.SlotCount;
        }
        return [.. list];
    }

    /// <summary>Validates and returns the decoded program (one entry per instruction, lddw covering two slots).</summary>
    public static ValidatedProgram Validate(ReadOnlySpan<Instruction> program, ValidatorOptions? options = null)
    {
        options ??= ValidatorOptions.Kernel;
        if (program.Length == 0)
            throw new BpfException(Errno.E2BIG, "program has no instructions", "program has no instructions\n");
        if (program.Length > options.MaxInstructions)
            throw new BpfException(Errno.E2BIG, $"program has {program.Length} instructions, more than the limit of {options.MaxInstructions}",
                $"BPF program is too large. Processed {program.Length} insn\n");

        // The kernel's pre-pass first, with its messages and in its order; what it lets through is structurally valid.
        if (KernelPrePass.Check(program, options.Extensions) is { } prePass)
            throw InstructionDecoder.Invalid(prePass.Index, prePass.Message);
        var decoded = DecodeAll(program, options);

        // slotToInstruction[s] = index into decoded of the instruction starting at slot s, or -1 for an lddw's second slot.
        var slotToInstruction = new int[program.Length];
        for (int i = 0; i < decoded.Length; i++)
        {
            slotToInstruction[decoded[i].Index] = i;
            if (decoded[i].SlotCount == 2)
                slotToInstruction[decoded[i].Index + 1] = -1;
        }

        // Function starts: slot 0 plus every local call target and every function reference (lddw src=4).
        var starts = new SortedSet<int> { 0 };
        foreach (var d in decoded)
        {
            if (!d.IsLocalCall && !d.IsFunctionReference)
                continue;
            long target = d.Target!.Value;
            if (target < 0 || target >= program.Length)
                throw InstructionDecoder.Invalid(d.Index, "call to invalid destination");
            if (slotToInstruction[target] < 0)
                throw InstructionDecoder.Invalid(d.Index, $"call to the middle of ldimm64 insn {target - 1}");
            starts.Add((int)target);
        }
        int[] functionStarts = starts.ToArray();

        int function = 0;
        foreach (var d in decoded)
        {
            while (function + 1 < functionStarts.Length && d.Index >= functionStarts[function + 1])
                function++;
            int start = functionStarts[function];
            int end = function + 1 < functionStarts.Length ? functionStarts[function + 1] : program.Length;
            if (d.IsBranch)
            {
                long target = d.Target!.Value;
                if (target < start || target >= end)
                    throw InstructionDecoder.Invalid(d.Index, $"jump out of range from insn {d.Index} to {target}");
                if (slotToInstruction[target] < 0)
                    throw InstructionDecoder.Invalid(d.Index, $"jump into the middle of ldimm64 insn {target - 1} from insn {d.Index}");
            }
            bool lastOfFunction = d.Index + d.SlotCount == end;
            if (lastOfFunction && d.Kind is not (InstructionKind.Exit or InstructionKind.Jump or InstructionKind.Invalid))
                throw InstructionDecoder.Invalid(d.Index, "last insn is not an exit or jmp");
        }
        return new ValidatedProgram(decoded, functionStarts, slotToInstruction);
    }
}

/// <summary>A structurally valid program: its decoded instructions and where its functions start.</summary>
/// <remarks>With <see cref="ValidatorOptions.DeferReachedChecks"/> it may hold <see cref="InstructionKind.Invalid"/>
/// entries: instructions the kernel only refuses when verification reaches them.</remarks>
public sealed class ValidatedProgram
{
    private readonly int[] _slotToInstruction;

    internal ValidatedProgram(DecodedInstruction[] instructions, int[] functionStarts, int[] slotToInstruction)
    {
        Instructions = instructions;
        FunctionStarts = functionStarts;
        _slotToInstruction = slotToInstruction;
    }

    /// <summary>One entry per instruction in slot order; an lddw is one entry spanning two slots.</summary>
    public IReadOnlyList<DecodedInstruction> Instructions { get; }

    /// <summary>Slot indices where functions start (0 first), ascending.</summary>
    public IReadOnlyList<int> FunctionStarts { get; }

    /// <summary>Slots in the program (lddw counts two).</summary>
    public int SlotCount => _slotToInstruction.Length;

    /// <summary>The instruction starting at <paramref name="slot"/>, or null for the second slot of an lddw.</summary>
    public DecodedInstruction? AtSlot(int slot)
    {
        int i = _slotToInstruction[slot];
        return i < 0 ? null : Instructions[i];
    }
}
