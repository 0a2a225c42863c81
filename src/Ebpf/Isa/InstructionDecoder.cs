namespace Ebpf.Isa;

/// <summary>Instructions outside what Linux accepts that a caller may opt into.</summary>
[Flags]
public enum IsaExtensions
{
    /// <summary>Only what Linux accepts.</summary>
    None = 0,
    /// <summary>callx (opcode 0x8d): call the helper whose id is in a register (ubpf, bpf_conformance callx.data).</summary>
    Callx = 1,
}

/// <summary>
/// Turns raw slots into <see cref="DecodedInstruction"/>s, rejecting what Linux 6.18 (cpu v4) rejects before
/// verification proper: opcodes outside the kernel's table ("unknown opcode %02x"), reserved fields that are
/// not zero ("BPF_ALU uses reserved fields", …), malformed lddw pairs ("invalid bpf_ld_imm64 insn") and
/// registers above r10 ("R%d is invalid"). The messages are the kernel verifier's.
/// </summary>
public static class InstructionDecoder
{
    /// <summary>Decodes the instruction starting at <paramref name="index"/>; false with the kernel's message when invalid.</summary>
    public static bool TryDecode(ReadOnlySpan<Instruction> program, int index, out DecodedInstruction result, out string? error,
        IsaExtensions extensions = IsaExtensions.None)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(index);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(index, program.Length);
        error = Decode(program, index, extensions, out result);
        return error is null;
    }

    /// <summary>Decodes one instruction or throws <see cref="BpfException"/> (EINVAL) "insn N: message".</summary>
    public static DecodedInstruction Decode(ReadOnlySpan<Instruction> program, int index, IsaExtensions extensions = IsaExtensions.None)
    {
        if (!TryDecode(program, index, out var result, out string? error, extensions))
            throw Invalid(index, error!);
        return result;
    }

    /// <summary>Decodes every instruction (an lddw is one entry covering two slots); throws on the first invalid one.</summary>
    public static DecodedInstruction[] DecodeProgram(ReadOnlySpan<Instruction> program, IsaExtensions extensions = IsaExtensions.None)
    {
        var list = new List<DecodedInstruction>(program.Length);
        for (int i = 0; i < program.Length;)
        {
            var d = Decode(program, i, extensions);
            list.Add(d);
            i += d.SlotCount;
        }
        return list.ToArray();
    }

    internal static BpfException Invalid(int index, string kernelMessage) =>
        new(Errno.EINVAL, $"insn {index}: {kernelMessage}", kernelMessage + "\n");

    private static string? Decode(ReadOnlySpan<Instruction> program, int index, IsaExtensions extensions, out DecodedInstruction d)
    {
        var insn = program[index];
        d = new DecodedInstruction
        {
            Index = index,
            Class = insn.Class,
            Dst = insn.Dst,
            Src = insn.Src,
            Offset = insn.Offset,
            Imm = insn.Imm,
        };
        byte code = insn.Opcode;

        // The kernel's first pass (resolve_pseudo_ldimm64) checks LDX modes and lddw pairs before the opcode table.
        if (insn.Class == InstructionClass.Ldx && ((insn.AccessMode != AccessMode.Mem && insn.AccessMode != AccessMode.MemSx) || insn.Imm != 0))
            return "BPF_LDX uses reserved fields";
        if (code == Opcodes.LoadImm64)
            return LoadImm64(program, index, ref d);
        if (code == Opcodes.Callx && (extensions & IsaExtensions.Callx) != 0)
            return Callx(insn, ref d);
        if (!OpcodeTable.IsKnown(code))
            return $"unknown opcode {code:x2}";

        string? error = insn.Class switch
        {
            InstructionClass.Alu or InstructionClass.Alu64 => Alu(insn, ref d),
            InstructionClass.Jmp or InstructionClass.Jmp32 => Jump(insn, ref d),
            InstructionClass.Ld => PacketLoad(insn, ref d),
            InstructionClass.Ldx => Load(insn, ref d),
            InstructionClass.St => StoreImm(insn, ref d),
            _ => Stx(insn, ref d),
        };
        if (error is not null)
            return error;
        return Registers(insn);
    }

    /// <summary>Every register field left non-zero after the reserved-field checks names a register.</summary>
    private static string? Registers(Instruction insn)
    {
        if (insn.Dst > 10)
            return $"R{insn.Dst} is invalid";
        if (insn.Src > 10 && !(insn.Opcode == Opcodes.Call))
            return $"R{insn.Src} is invalid";
        return null;
    }

    private static string? LoadImm64(ReadOnlySpan<Instruction> program, int index, ref DecodedInstruction d)
    {
        var first = program[index];
        if (index == program.Length - 1)
            return "invalid bpf_ld_imm64 insn";
        var second = program[index + 1];
        if (second.Opcode != 0 || second.Dst != 0 || second.Src != 0 || second.Offset != 0)
            return "invalid bpf_ld_imm64 insn";
        switch ((LoadImm64Source)first.Src)
        {
            case LoadImm64Source.Imm64:
            case LoadImm64Source.BtfId:
            case LoadImm64Source.Function:
            case LoadImm64Source.MapValue:
            case LoadImm64Source.MapIndexValue:
                break;
            case LoadImm64Source.MapFd:
            case LoadImm64Source.MapIndex:
                if (second.Imm == 0)
                    break;
                return "unrecognized bpf_ld_imm64 insn";
            default:
                return "unrecognized bpf_ld_imm64 insn";
        }
        if (first.Offset != 0)
            return "BPF_LD_IMM64 uses reserved fields";
        if (first.Dst > 10)
            return $"R{first.Dst} is invalid";
        d = d with
        {
            Kind = InstructionKind.LoadImm64,
            PseudoSource = (LoadImm64Source)first.Src,
            Imm64 = Instruction.Imm64(first, second),
        };
        return null;
    }

    private static string? Callx(Instruction insn, ref DecodedInstruction d)
    {
        // bpf_conformance/ubpf put the register in dst; LLVM (cpu v4 "callx") puts it in imm. Accept either, keep both fields.
        bool dstForm = insn.Imm == 0 && insn.Dst <= 10;
        bool immForm = insn.Dst == 0 && insn.Imm is >= 0 and <= 10;
        if (insn.Src != 0 || insn.Offset != 0 || !(dstForm || immForm))
            return "BPF_CALL uses reserved fields";
        d = d with { Kind = InstructionKind.CallRegister, Source = OperandSource.Register };
        return null;
    }

    private static string? Alu(Instruction insn, ref DecodedInstruction d)
    {
        var op = insn.AluOperation;
        var source = insn.Source;
        d = d with { Source = source };
        switch (op)
        {
            case AluOperation.Neg:
                if (source != OperandSource.Immediate || insn.Src != 0 || insn.Offset != 0 || insn.Imm != 0)
                    return "BPF_NEG uses reserved fields";
                d = d with { Kind = InstructionKind.Negate };
                return null;
            case AluOperation.End:
                if (insn.Src != 0 || insn.Offset != 0 || insn.Imm is not (16 or 32 or 64)
                    || (insn.Class == InstructionClass.Alu64 && source != OperandSource.Immediate))
                    return "BPF_END uses reserved fields";
                d = d with
                {
                    Kind = InstructionKind.ByteSwap,
                    SwapBits = insn.Imm,
                    ByteSwap = insn.Class == InstructionClass.Alu64 ? ByteSwapKind.Unconditional
                        : source == OperandSource.Register ? ByteSwapKind.ToBigEndian : ByteSwapKind.ToLittleEndian,
                };
                return null;
            case AluOperation.Mov:
                if (source == OperandSource.Register)
                {
                    if (insn.Class == InstructionClass.Alu64 && insn.Offset == OpcodeExtras.AddressSpaceCastOffset)
                    {
                        if (insn.Imm != 1 && insn.Imm != 1 << 16)
                            return "addr_space_cast insn can only convert between address space 1 and 0";
                        d = d with { Kind = InstructionKind.AddressSpaceCast };
                        return null;
                    }
                    bool offsetOk = insn.Offset is 0 or 8 or 16 || (insn.Offset == 32 && insn.Class == InstructionClass.Alu64);
                    if (!offsetOk || insn.Imm != 0)
                        return "BPF_MOV uses reserved fields";
                    d = insn.Offset == 0
                        ? d with { Kind = InstructionKind.Alu, AluOperation = AluOperation.Mov }
                        : d with { Kind = InstructionKind.MoveSignExtend, SignExtendBits = insn.Offset };
                    return null;
                }
                if (insn.Src != 0 || insn.Offset != 0)
                    return "BPF_MOV uses reserved fields";
                d = d with { Kind = InstructionKind.Alu, AluOperation = AluOperation.Mov };
                return null;
            default:
                bool signedOk = insn.Offset == 0 || (insn.Offset == 1 && op is AluOperation.Div or AluOperation.Mod);
                if (source == OperandSource.Register ? insn.Imm != 0 || !signedOk : insn.Src != 0 || !signedOk)
                    return "BPF_ALU uses reserved fields";
                d = d with { Kind = InstructionKind.Alu, AluOperation = op, Signed = insn.Offset == 1 };
                return null;
        }
    }

    private static string? Jump(Instruction insn, ref DecodedInstruction d)
    {
        var op = insn.JumpOperation;
        switch (op)
        {
            case JumpOperation.Call:
                if (insn.Src is not ((byte)CallSource.Helper or (byte)CallSource.Local or (byte)CallSource.Kfunc)
                    || (insn.Src != (byte)CallSource.Kfunc && insn.Offset != 0) || insn.Dst != 0)
                    return "BPF_CALL uses reserved fields";
                d = d with { Kind = InstructionKind.Call, CallSource = (CallSource)insn.Src };
                return null;
            case JumpOperation.Ja:
                if (insn.Src != 0 || insn.Dst != 0
                    || (insn.Class == InstructionClass.Jmp && insn.Imm != 0)
                    || (insn.Class == InstructionClass.Jmp32 && insn.Offset != 0))
                    return "BPF_JA uses reserved fields";
                d = d with { Kind = InstructionKind.Jump };
                return null;
            case JumpOperation.Exit:
                if (insn.Imm != 0 || insn.Src != 0 || insn.Dst != 0)
                    return "BPF_EXIT uses reserved fields";
                d = d with { Kind = InstructionKind.Exit };
                return null;
            case (JumpOperation)OpcodeExtras.JumpCond:
                if (insn.Src != 0 || insn.Dst != 0 || insn.Imm != 0)
                    return $"invalid may_goto imm {insn.Imm}";
                d = d with { Kind = InstructionKind.MayGoto };
                return null;
            default:
                if (insn.Source == OperandSource.Register ? insn.Imm != 0 : insn.Src != 0)
                    return "BPF_JMP/JMP32 uses reserved fields";
                d = d with { Kind = InstructionKind.ConditionalJump, Condition = op, Source = insn.Source };
                return null;
        }
    }

    private static string? PacketLoad(Instruction insn, ref DecodedInstruction d)
    {
        // The table only lets LD ABS/IND B/H/W through here (lddw was handled before).
        if (insn.Dst != 0 || insn.Offset != 0 || (insn.AccessMode == AccessMode.Abs && insn.Src != 0))
            return "BPF_LD_[ABS|IND] uses reserved fields";
        d = d with { Kind = InstructionKind.PacketLoad, PacketMode = insn.AccessMode, Size = insn.AccessSize };
        return null;
    }

    private static string? Load(Instruction insn, ref DecodedInstruction d)
    {
        d = d with
        {
            Kind = InstructionKind.Load,
            Size = insn.AccessSize,
            SignExtendBits = insn.AccessMode == AccessMode.MemSx ? Opcodes.SizeInBytes(insn.AccessSize) * 8 : 0,
        };
        return null;
    }

    private static string? StoreImm(Instruction insn, ref DecodedInstruction d)
    {
        if (insn.Src != 0)
            return "BPF_ST uses reserved fields";
        d = d with { Kind = InstructionKind.StoreImm, Size = insn.AccessSize };
        return null;
    }

    private static string? Stx(Instruction insn, ref DecodedInstruction d)
    {
        d = d with { Size = insn.AccessSize };
        if (insn.AccessMode == AccessMode.Mem)
        {
            if (insn.Imm != 0)
                return "BPF_STX uses reserved fields";
            d = d with { Kind = InstructionKind.Store };
            return null;
        }
        switch (insn.Imm)
        {
            case OpcodeExtras.LoadAcquire:
                d = d with { Kind = InstructionKind.LoadAcquire };
                return null;
            case OpcodeExtras.StoreRelease:
                d = d with { Kind = InstructionKind.StoreRelease };
                return null;
        }
        AtomicKind kind;
        bool fetch = (insn.Imm & AtomicOperation.Fetch) != 0;
        switch (insn.Imm & ~AtomicOperation.Fetch)
        {
            case AtomicOperation.Add: kind = AtomicKind.Add; break;
            case AtomicOperation.Or: kind = AtomicKind.Or; break;
            case AtomicOperation.And: kind = AtomicKind.And; break;
            case AtomicOperation.Xor: kind = AtomicKind.Xor; break;
            case AtomicOperation.Xchg & ~AtomicOperation.Fetch when fetch: kind = AtomicKind.Exchange; break;
            case AtomicOperation.Cmpxchg & ~AtomicOperation.Fetch when fetch: kind = AtomicKind.CompareExchange; break;
            default: return $"BPF_ATOMIC uses invalid atomic opcode {insn.Imm:x2}";
        }
        if (insn.AccessSize is not (AccessSize.Word or AccessSize.DoubleWord))
            return "invalid atomic operand size";
        d = d with { Kind = InstructionKind.Atomic, Atomic = kind, Fetch = fetch };
        return null;
    }
}
