namespace Ebpf.Isa;

/// <summary>
/// The set of opcode bytes Linux 6.18 accepts (the kernel's <c>bpf_opcode_in_insntable</c>): everything else
/// is rejected with "unknown opcode %02x" before any field is looked at.
/// </summary>
internal static class OpcodeTable
{
    private static readonly bool[] Known = Build();

    public static bool IsKnown(byte opcode) => Known[opcode];

    private static bool[] Build()
    {
        var t = new bool[256];
        AluOperation[] binary =
        [
            AluOperation.Add, AluOperation.Sub, AluOperation.Mul, AluOperation.Div, AluOperation.Or, AluOperation.And,
            AluOperation.Lsh, AluOperation.Rsh, AluOperation.Mod, AluOperation.Xor, AluOperation.Mov, AluOperation.Arsh,
        ];
        foreach (var cls in new[] { InstructionClass.Alu, InstructionClass.Alu64 })
        {
            foreach (var op in binary)
            {
                t[Opcodes.Alu(cls, op, OperandSource.Immediate)] = true;
                t[Opcodes.Alu(cls, op, OperandSource.Register)] = true;
            }
            t[Opcodes.Alu(cls, AluOperation.Neg, OperandSource.Immediate)] = true;
        }
        t[Opcodes.Alu(InstructionClass.Alu, AluOperation.End, OperandSource.Immediate)] = true; // le
        t[Opcodes.Alu(InstructionClass.Alu, AluOperation.End, OperandSource.Register)] = true;  // be
        t[Opcodes.Alu(InstructionClass.Alu64, AluOperation.End, OperandSource.Immediate)] = true; // bswap

        JumpOperation[] conditions =
        [
            JumpOperation.Jeq, JumpOperation.Jgt, JumpOperation.Jge, JumpOperation.Jset, JumpOperation.Jne,
            JumpOperation.Jsgt, JumpOperation.Jsge, JumpOperation.Jlt, JumpOperation.Jle, JumpOperation.Jslt, JumpOperation.Jsle,
        ];
        foreach (var cls in new[] { InstructionClass.Jmp, InstructionClass.Jmp32 })
        {
            foreach (var op in conditions)
            {
                t[Opcodes.Jump(cls, op, OperandSource.Immediate)] = true;
                t[Opcodes.Jump(cls, op, OperandSource.Register)] = true;
            }
        }
        t[Opcodes.Ja] = true;
        t[Opcodes.Ja32] = true;
        t[Opcodes.Call] = true;
        t[Opcodes.Exit] = true;
        t[OpcodeExtras.MayGoto] = true;

        t[Opcodes.LoadImm64] = true;
        foreach (var size in new[] { AccessSize.Byte, AccessSize.Half, AccessSize.Word })
        {
            t[Opcodes.Memory(InstructionClass.Ld, AccessMode.Abs, size)] = true;
            t[Opcodes.Memory(InstructionClass.Ld, AccessMode.Ind, size)] = true;
            t[Opcodes.Memory(InstructionClass.Ldx, AccessMode.MemSx, size)] = true;
        }
        foreach (var size in new[] { AccessSize.Byte, AccessSize.Half, AccessSize.Word, AccessSize.DoubleWord })
        {
            t[Opcodes.Memory(InstructionClass.Ldx, AccessMode.Mem, size)] = true;
            t[Opcodes.Memory(InstructionClass.St, AccessMode.Mem, size)] = true;
            t[Opcodes.Memory(InstructionClass.Stx, AccessMode.Mem, size)] = true;
            // B and H atomics exist for load-acquire/store-release only (checked per imm by the decoder).
            t[Opcodes.Memory(InstructionClass.Stx, AccessMode.Atomic, size)] = true;
        }
        return t;
    }
}
