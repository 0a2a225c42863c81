using Ebpf.Abi.Helpers;
using Ebpf.Isa;

namespace Ebpf.Verification;

/// <summary>
/// Instruction text as the kernel's verifier log prints it (<c>kernel/bpf/disasm.c</c>): <c>r0 = 0</c>,
/// <c>*(u32 *)(r10 -4) = 0</c>, <c>if r0 == 0x0 goto pc+2</c>, <c>call bpf_map_lookup_elem#1</c>.
/// ALU immediates print in decimal, jump immediates in hex.
/// </summary>
public static class KernelDisassembler
{
    private static readonly string[] AluOps =
        ["+=", "-=", "*=", "/=", "|=", "&=", "<<=", ">>=", "neg", "%=", "^=", "=", "s>>=", "endian"];
    private static readonly string[] JumpOps =
        ["jmp", "==", ">", ">=", "&", "!=", "s>", "s>=", "call", "exit", "<", "<=", "s<", "s<="];

    /// <summary>Formats instruction <paramref name="index"/> (reads the second slot of an ld_imm64).</summary>
    public static string Format(IReadOnlyList<Instruction> insns, int index)
    {
        var insn = insns[index];
        switch (insn.Class)
        {
            case InstructionClass.Alu:
            case InstructionClass.Alu64:
                return FormatAlu(insn);
            case InstructionClass.Jmp:
            case InstructionClass.Jmp32:
                return FormatJump(insn);
            case InstructionClass.Ldx:
                return $"r{insn.Dst} = *({(insn.AccessMode == AccessMode.MemSx ? "s" : "u")}{Bits(insn.AccessSize)} *)(r{insn.Src} {Off(insn.Offset)})";
            case InstructionClass.St:
                return $"*(u{Bits(insn.AccessSize)} *)(r{insn.Dst} {Off(insn.Offset)}) = {insn.Imm}";
            case InstructionClass.Stx:
                if (insn.AccessMode == AccessMode.Atomic) return FormatAtomic(insn);
                return $"*(u{Bits(insn.AccessSize)} *)(r{insn.Dst} {Off(insn.Offset)}) = r{insn.Src}";
            case InstructionClass.Ld:
                if (insn.IsLoadImm64)
                {
                    long imm = index + 1 < insns.Count ? Instruction.Imm64(insn, insns[index + 1]) : insn.Imm;
                    return insn.Src switch
                    {
                        (byte)LoadImm64Source.MapFd or (byte)LoadImm64Source.MapIndex => $"r{insn.Dst} = map[id:{insn.Imm}]",
                        (byte)LoadImm64Source.MapValue or (byte)LoadImm64Source.MapIndexValue =>
                            $"r{insn.Dst} = map[id:{insn.Imm}][0]+{(index + 1 < insns.Count ? insns[index + 1].Imm : 0)}",
                        _ => $"r{insn.Dst} = 0x{(ulong)imm:x}",
                    };
                }
                if (insn.AccessMode == AccessMode.Abs) return $"r0 = *(u{Bits(insn.AccessSize)} *)skb[{insn.Imm}]";
                if (insn.AccessMode == AccessMode.Ind) return $"r0 = *(u{Bits(insn.AccessSize)} *)skb[r{insn.Src} + {insn.Imm}]";
                break;
        }
        return $"(bad opcode 0x{insn.Opcode:x2})";
    }

    private static int Bits(AccessSize size) => Opcodes.SizeInBytes(size) * 8;

    private static string Off(short off) => off >= 0 ? $"+{off}" : off.ToString(System.Globalization.CultureInfo.InvariantCulture);

    private static string FormatAlu(Instruction insn)
    {
        bool is64 = insn.Class == InstructionClass.Alu64;
        char r = is64 ? 'r' : 'w';
        var op = insn.AluOperation;
        string src = insn.Source == OperandSource.Register ? $"{r}{insn.Src}" : insn.Imm.ToString(System.Globalization.CultureInfo.InvariantCulture);
        switch (op)
        {
            case AluOperation.Neg:
                return $"{r}{insn.Dst} = -{r}{insn.Dst}";
            case AluOperation.End:
                if (is64) return $"r{insn.Dst} = bswap{insn.Imm} r{insn.Dst}";
                return $"r{insn.Dst} = {(insn.Source == OperandSource.Register ? "be" : "le")}{insn.Imm} r{insn.Dst}";
            case AluOperation.Mov when insn.Offset != 0 && insn.Source == OperandSource.Register:
                return $"{r}{insn.Dst} = (s{insn.Offset}){r}{insn.Src}";
            case AluOperation.Div when insn.Offset == 1:
                return $"{r}{insn.Dst} s/= {src}";
            case AluOperation.Mod when insn.Offset == 1:
                return $"{r}{insn.Dst} s%= {src}";
        }
        int i = (int)op >> 4;
        return $"{r}{insn.Dst} {(i < AluOps.Length ? AluOps[i] : "?")} {src}";
    }

    private static string FormatJump(Instruction insn)
    {
        var op = insn.JumpOperation;
        bool is32 = insn.Class == InstructionClass.Jmp32;
        if (op == JumpOperation.Exit) return "exit";
        if (op == JumpOperation.Call)
        {
            if (insn.Src == (byte)CallSource.Local) return $"call pc{Signed(insn.Imm)}";
            if (insn.Src == (byte)CallSource.Kfunc) return $"call kernel-function#{insn.Imm}";
            return $"call {HelperNames.KernelName(insn.Imm)}#{insn.Imm}";
        }
        if (op == JumpOperation.Ja)
            return is32 ? $"gotol pc{Signed(insn.Imm)}" : $"goto pc{Signed(insn.Offset)}";
        char r = is32 ? 'w' : 'r';
        string src = insn.Source == OperandSource.Register ? $"{r}{insn.Src}" : $"0x{(uint)insn.Imm:x}";
        return $"if {r}{insn.Dst} {((int)op >> 4 < JumpOps.Length ? JumpOps[(int)op >> 4] : "?")} {src} goto pc{Signed(insn.Offset)}"; // 0xe0/0xf0 are no jump: the level-2 header lists them before they are refused
    }

    private static string Signed(int v) => v >= 0 ? $"+{v}" : v.ToString(System.Globalization.CultureInfo.InvariantCulture);

    private static string FormatAtomic(Instruction insn)
    {
        bool is64 = insn.AccessSize == AccessSize.DoubleWord;
        string sz = is64 ? "u64" : "u32";
        string w = is64 ? "r" : "w";
        string mem = $"({sz} *)(r{insn.Dst} {Off(insn.Offset)})";
        string op = (insn.Imm & ~AtomicOperation.Fetch) switch
        {
            AtomicOperation.Add => "add",
            AtomicOperation.Or => "or",
            AtomicOperation.And => "and",
            AtomicOperation.Xor => "xor",
            _ => "",
        };
        if (insn.Imm == AtomicOperation.Xchg) return $"{w}{insn.Src} = atomic{(is64 ? "64" : "")}_xchg({mem}, {w}{insn.Src})";
        if (insn.Imm == AtomicOperation.Cmpxchg) return $"{w}0 = atomic{(is64 ? "64" : "")}_cmpxchg({mem}, {w}0, {w}{insn.Src})";
        if ((insn.Imm & AtomicOperation.Fetch) != 0) return $"{w}{insn.Src} = atomic{(is64 ? "64" : "")}_fetch_{op}({mem}, {w}{insn.Src})";
        string sym = op switch { "add" => "+=", "or" => "|=", "and" => "&=", _ => "^=" };
        return $"lock *{mem} {sym} {w}{insn.Src}";
    }
}
