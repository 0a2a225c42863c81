using System.Globalization;

namespace Ebpf.Isa;

/// <summary>Returns the text objdump appends to a branch, e.g. <c>" &lt;LBB0_4&gt;"</c>, for a target byte address, or null.</summary>
public delegate string? BranchLabeler(ulong targetAddress);

/// <summary>
/// The instruction text <c>llvm-objdump-14 -d</c> prints for BPF (LLVM 14, default cpu), reproduced exactly,
/// including its gaps: what LLVM 14 cannot decode prints <c>&lt;unknown&gt;</c> (32-bit fetch atomics,
/// store-immediate, mod, jset, sdiv/movsx/ldsx encodings are printed by opcode alone, etc.),
/// and fields LLVM ignores are ignored here too. LLVM 14 knows r0..r11; a register field above 11
/// that it decodes makes the instruction unknown.
/// </summary>
public static class LlvmDisassembler
{
    /// <summary>What LLVM 14 prints for an instruction it cannot decode.</summary>
    public const string Unknown = "<unknown>";

    /// <summary>
    /// Formats the instruction at <paramref name="index"/>. <paramref name="slotCount"/> is 2 for a decoded lddw,
    /// else 1. An lddw in the last slot prints <c>&lt;unknown&gt;</c> (objdump prints its 8 bytes one by one).
    /// </summary>
    public static string Format(ReadOnlySpan<Instruction> program, int index, out int slotCount, BranchLabeler? labeler = null,
        ulong sectionAddress = 0)
    {
        slotCount = 1;
        var insn = program[index];
        byte op = insn.Opcode;
        var cls = insn.Class;
        switch (cls)
        {
            case InstructionClass.Alu64:
            case InstructionClass.Alu:
                return Alu(insn);
            case InstructionClass.Jmp:
            case InstructionClass.Jmp32:
                return Jump(insn, index, labeler, sectionAddress);
            case InstructionClass.Ld:
                if (op == Opcodes.LoadImm64)
                {
                    if (index + 1 >= program.Length || insn.Offset != 0 || !Reg(insn.Dst))
                        return Unknown;
                    slotCount = 2;
                    if (insn.Src == 0)
                        return $"r{insn.Dst} = {Num(Instruction.Imm64(insn, program[index + 1]))} ll";
                    return $"ld_pseudo\tr{insn.Dst}, {insn.Src}, {(uint)insn.Imm}";
                }
                return PacketLoad(insn);
            case InstructionClass.Ldx:
                if (insn.AccessMode != AccessMode.Mem || !Reg(insn.Dst) || !Reg(insn.Src))
                    return Unknown;
                return $"r{insn.Dst} = *({Width(insn.AccessSize)} *)({Address(insn.Src, insn.Offset)})";
            case InstructionClass.Stx:
                if (!Reg(insn.Dst) || !Reg(insn.Src))
                    return Unknown;
                if (insn.AccessMode == AccessMode.Mem)
                    return $"*({Width(insn.AccessSize)} *)({Address(insn.Dst, insn.Offset)}) = r{insn.Src}";
                if (insn.AccessMode == AccessMode.Atomic)
                    return Atomic(insn);
                return Unknown;
            default:
                return Unknown; // ST (store immediate) is not in LLVM 14's BPF decoder
        }
    }

    private static bool Reg(int r) => r <= 11;

    private static string Num(long v) => v.ToString(CultureInfo.InvariantCulture);

    private static string Width(AccessSize size) => size switch
    {
        AccessSize.Byte => "u8",
        AccessSize.Half => "u16",
        AccessSize.Word => "u32",
        _ => "u64",
    };

    private static string Address(int reg, short offset) =>
        offset >= 0 ? $"r{reg} + {offset}" : $"r{reg} - {-(int)offset}";

    private static string Alu(Instruction insn)
    {
        char r = insn.Class == InstructionClass.Alu64 ? 'r' : 'w';
        bool x = insn.Source == OperandSource.Register;
        string? symbol = insn.AluOperation switch
        {
            AluOperation.Add => "+=",
            AluOperation.Sub => "-=",
            AluOperation.Mul => "*=",
            AluOperation.Div => "/=",
            AluOperation.Or => "|=",
            AluOperation.And => "&=",
            AluOperation.Lsh => "<<=",
            AluOperation.Rsh => ">>=",
            AluOperation.Xor => "^=",
            AluOperation.Mov => "=",
            AluOperation.Arsh => "s>>=",
            _ => null,
        };
        if (symbol is not null)
        {
            if (!Reg(insn.Dst) || (x && !Reg(insn.Src)))
                return Unknown;
            return x ? $"{r}{insn.Dst} {symbol} {r}{insn.Src}" : $"{r}{insn.Dst} {symbol} {insn.Imm}";
        }
        if (insn.AluOperation == AluOperation.Neg && !x)
            return Reg(insn.Dst) ? $"{r}{insn.Dst} = -{r}{insn.Dst}" : Unknown;
        if (insn.AluOperation == AluOperation.End && insn.Class == InstructionClass.Alu
            && insn.Imm is 16 or 32 or 64 && Reg(insn.Dst))
            return $"r{insn.Dst} = {(x ? "be" : "le")}{insn.Imm} r{insn.Dst}";
        return Unknown; // mod, neg X, bswap (ALU64 END), 0xe0/0xf0
    }

    private static string Jump(Instruction insn, int index, BranchLabeler? labeler, ulong sectionAddress)
    {
        bool x = insn.Source == OperandSource.Register;
        if (insn.Class == InstructionClass.Jmp)
        {
            switch (insn.Opcode)
            {
                case Opcodes.Ja:
                    return $"goto {Displacement(insn.Offset)}{Label(index, insn.Offset, labeler, sectionAddress)}";
                case Opcodes.Call:
                    return $"call {insn.Imm}";
                case Opcodes.Callx:
                    return insn.Imm is >= 0 and <= 11 ? $"callx r{insn.Imm}" : Unknown;
                case Opcodes.Exit:
                    return insn.Imm == 0 ? "exit" : Unknown;
            }
        }
        string? symbol = insn.JumpOperation switch
        {
            JumpOperation.Jeq => "==",
            JumpOperation.Jgt => ">",
            JumpOperation.Jge => ">=",
            JumpOperation.Jne => "!=",
            JumpOperation.Jsgt => "s>",
            JumpOperation.Jsge => "s>=",
            JumpOperation.Jlt => "<",
            JumpOperation.Jle => "<=",
            JumpOperation.Jslt => "s<",
            JumpOperation.Jsle => "s<=",
            _ => null, // ja32/gotol, jset, may_goto and the rest are unknown to LLVM 14
        };
        if (symbol is null || !Reg(insn.Dst) || (x && !Reg(insn.Src)))
            return Unknown;
        char r = insn.Class == InstructionClass.Jmp ? 'r' : 'w';
        string right = x ? $"{r}{insn.Src}" : insn.Imm.ToString(CultureInfo.InvariantCulture);
        return $"if {r}{insn.Dst} {symbol} {right} goto {Displacement(insn.Offset)}{Label(index, insn.Offset, labeler, sectionAddress)}";
    }

    private static string Displacement(short offset) => offset >= 0 ? $"+{offset}" : offset.ToString(CultureInfo.InvariantCulture);

    private static string Label(int index, short offset, BranchLabeler? labeler, ulong sectionAddress)
    {
        if (labeler is null)
            return "";
        // objdump: Target = Addr + Size + Imm * Size, in 64-bit unsigned arithmetic.
        ulong target = unchecked(sectionAddress + (ulong)index * 8 + 8 + (ulong)(long)offset * 8);
        return labeler(target) ?? "";
    }

    private static string PacketLoad(Instruction insn)
    {
        if (insn.AccessSize == AccessSize.DoubleWord)
            return Unknown;
        string width = Width(insn.AccessSize);
        return insn.AccessMode switch
        {
            AccessMode.Abs => $"r0 = *({width} *)skb[{insn.Imm}]",
            AccessMode.Ind when Reg(insn.Src) => $"r0 = *({width} *)skb[r{insn.Src}]",
            _ => Unknown,
        };
    }

    private static string Atomic(Instruction insn)
    {
        string address = Address(insn.Dst, insn.Offset);
        int op = (insn.Imm >> 4) & 0xf;
        int low = insn.Imm & 0xf;
        if (insn.AccessSize == AccessSize.Word)
            return op == 0 ? $"lock *(u32 *)({address}) += r{insn.Src}" : Unknown;
        if (insn.AccessSize != AccessSize.DoubleWord)
            return Unknown;
        string? name = op switch
        {
            0x0 => "add",
            0x4 => "or",
            0x5 => "and",
            0xa => "xor",
            _ => null,
        };
        if (name is not null)
        {
            if (low == 1)
                return $"r{insn.Src} = atomic_fetch_{name}((u64 *)({address}), r{insn.Src})";
            string symbol = op switch { 0x0 => "+=", 0x4 => "|=", 0x5 => "&=", _ => "^=" };
            return $"lock *(u64 *)({address}) {symbol} r{insn.Src}";
        }
        if (op == 0xe && low == 1)
            return $"r{insn.Src} = xchg_64({address}, r{insn.Src})";
        if (op == 0xf && low == 1)
            return $"r0 = cmpxchg_64({address}, r0, r{insn.Src})";
        return Unknown;
    }
}
