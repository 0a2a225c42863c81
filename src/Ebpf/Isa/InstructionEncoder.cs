namespace Ebpf.Isa;

/// <summary>
/// Produces raw slots from <see cref="DecodedInstruction"/>s. The opcode byte is rebuilt from the semantic
/// fields (kind, class, operation, source, size, sign extension, atomic op, byte order) and only the fields
/// that kind uses are written, so encoding a decoded instruction proves the decoded form is complete.
/// </summary>
public static class InstructionEncoder
{
    /// <summary>Writes the instruction's slots (1, or 2 for lddw) into <paramref name="destination"/>; returns the count.</summary>
    public static int Encode(in DecodedInstruction d, Span<Instruction> destination)
    {
        if (destination.Length < d.SlotCount)
            throw new ArgumentException($"need {d.SlotCount} slots to encode insn {d.Index}", nameof(destination));
        if (d.Kind == InstructionKind.LoadImm64)
        {
            var (first, second) = Instruction.LoadImm64(d.Dst, d.Imm64, d.PseudoSource);
            destination[0] = first;
            destination[1] = second;
            return 2;
        }
        destination[0] = EncodeSingle(d);
        return 1;
    }

    /// <summary>The slots of one instruction as a new array.</summary>
    public static Instruction[] Encode(in DecodedInstruction d)
    {
        var slots = new Instruction[d.SlotCount];
        Encode(d, slots);
        return slots;
    }

    /// <summary>Concatenates the slots of a sequence of instructions.</summary>
    public static Instruction[] EncodeProgram(IEnumerable<DecodedInstruction> instructions)
    {
        var output = new List<Instruction>();
        Span<Instruction> buffer = stackalloc Instruction[2];
        foreach (var d in instructions)
        {
            int n = Encode(d, buffer);
            for (int i = 0; i < n; i++)
                output.Add(buffer[i]);
        }
        return output.ToArray();
    }

    private static Instruction EncodeSingle(in DecodedInstruction d)
    {
        switch (d.Kind)
        {
            case InstructionKind.Alu:
            {
                bool reg = d.Source == OperandSource.Register;
                return new Instruction(Opcodes.Alu(d.Class, d.AluOperation, d.Source), d.Dst, reg ? d.Src : (byte)0,
                    d.Signed ? (short)1 : (short)0, reg ? 0 : d.Imm);
            }
            case InstructionKind.Negate:
                return new Instruction(Opcodes.Alu(d.Class, AluOperation.Neg, OperandSource.Immediate), d.Dst, 0, 0, 0);
            case InstructionKind.MoveSignExtend:
                return new Instruction(Opcodes.Alu(d.Class, AluOperation.Mov, OperandSource.Register), d.Dst, d.Src, (short)d.SignExtendBits, 0);
            case InstructionKind.AddressSpaceCast:
                return new Instruction(Opcodes.Alu(InstructionClass.Alu64, AluOperation.Mov, OperandSource.Register), d.Dst, d.Src,
                    OpcodeExtras.AddressSpaceCastOffset, d.Imm);
            case InstructionKind.ByteSwap:
            {
                var (cls, source) = d.ByteSwap switch
                {
                    ByteSwapKind.ToLittleEndian => (InstructionClass.Alu, OperandSource.Immediate),
                    ByteSwapKind.ToBigEndian => (InstructionClass.Alu, OperandSource.Register),
                    _ => (InstructionClass.Alu64, OperandSource.Immediate),
                };
                return new Instruction(Opcodes.Alu(cls, AluOperation.End, source), d.Dst, 0, 0, d.SwapBits);
            }
            case InstructionKind.Jump:
                return d.Class == InstructionClass.Jmp32
                    ? new Instruction(Opcodes.Ja32, 0, 0, 0, d.Imm)
                    : new Instruction(Opcodes.Ja, 0, 0, d.Offset, 0);
            case InstructionKind.ConditionalJump:
            {
                bool reg = d.Source == OperandSource.Register;
                return new Instruction(Opcodes.Jump(d.Class, d.Condition, d.Source), d.Dst, reg ? d.Src : (byte)0, d.Offset, reg ? 0 : d.Imm);
            }
            case InstructionKind.MayGoto:
                return new Instruction(OpcodeExtras.MayGoto, 0, 0, d.Offset, 0);
            case InstructionKind.Call:
                return new Instruction(Opcodes.Call, 0, (byte)d.CallSource, d.CallSource == CallSource.Kfunc ? d.Offset : (short)0, d.Imm);
            case InstructionKind.CallRegister:
                return new Instruction(Opcodes.Callx, d.Dst, 0, 0, d.Imm);
            case InstructionKind.Exit:
                return Instruction.Exit();
            case InstructionKind.Load:
                return new Instruction(
                    Opcodes.Memory(InstructionClass.Ldx, d.SignExtendBits != 0 ? AccessMode.MemSx : AccessMode.Mem, d.Size),
                    d.Dst, d.Src, d.Offset, 0);
            case InstructionKind.Store:
                return Instruction.StoreMem(d.Size, d.Dst, d.Src, d.Offset);
            case InstructionKind.StoreImm:
                return Instruction.StoreImm(d.Size, d.Dst, d.Offset, d.Imm);
            case InstructionKind.Atomic:
            {
                int imm = d.Atomic switch
                {
                    AtomicKind.Add => AtomicOperation.Add,
                    AtomicKind.Or => AtomicOperation.Or,
                    AtomicKind.And => AtomicOperation.And,
                    AtomicKind.Xor => AtomicOperation.Xor,
                    AtomicKind.Exchange => AtomicOperation.Xchg,
                    _ => AtomicOperation.Cmpxchg,
                };
                if (d.Fetch)
                    imm |= AtomicOperation.Fetch;
                return new Instruction(Opcodes.Memory(InstructionClass.Stx, AccessMode.Atomic, d.Size), d.Dst, d.Src, d.Offset, imm);
            }
            case InstructionKind.LoadAcquire:
                return new Instruction(Opcodes.Memory(InstructionClass.Stx, AccessMode.Atomic, d.Size), d.Dst, d.Src, d.Offset, OpcodeExtras.LoadAcquire);
            case InstructionKind.StoreRelease:
                return new Instruction(Opcodes.Memory(InstructionClass.Stx, AccessMode.Atomic, d.Size), d.Dst, d.Src, d.Offset, OpcodeExtras.StoreRelease);
            case InstructionKind.PacketLoad:
                return new Instruction(Opcodes.Memory(InstructionClass.Ld, d.PacketMode, d.Size), 0,
                    d.PacketMode == AccessMode.Ind ? d.Src : (byte)0, 0, d.Imm);
            default:
                throw new ArgumentException($"insn {d.Index}: cannot encode kind {d.Kind}", nameof(d));
        }
    }
}
