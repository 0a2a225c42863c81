using System.Globalization;

namespace Ebpf.Isa;

/// <summary>
/// The instruction text of the kernel's verifier log and bpftool's xlated dump (<c>kernel/bpf/disasm.c</c>,
/// <c>print_bpf_insn</c>): <c>(bf) r6 = r1</c>, <c>(62) *(u32 *)(r10 -4) = 0</c>, <c>(15) if r0 == 0x0 goto pc+2</c>,
/// <c>(85) call bpf_map_lookup_elem#1</c>, <c>(18) r1 = 0x…</c>. The "(opcode) " prefix is part of the text, as in
/// the kernel; the verifier prepends "<c>idx: </c>". Malformed encodings print the kernel's <c>BUG_…</c> forms.
/// </summary>
public static class KernelDisassembler
{
    /// <summary>Names a helper (src 0) or kfunc (src 2) call, or null when unknown (the kernel then prints "unknown").</summary>
    public delegate string? CallNamer(Instruction call);

    /// <summary>
    /// How an ld_imm64 that refers to a map prints. The kernel's verifier log prints the resolved kernel address of
    /// the map (<c>r1 = 0xffff…</c>: it has no <c>cb_imm</c> callback); bpftool's xlated dump prints
    /// <c>map[id:N]</c> / <c>map[id:N][0]+off</c>. A verifier without kernel addresses prints the map reference form,
    /// with the fd or fd_array index the instruction carries in place of the id.
    /// </summary>
    public enum MapLoadStyle
    {
        /// <summary>The 64-bit immediate as written: <c>r1 = 0x…</c>.</summary>
        Immediate,
        /// <summary><c>r1 = map[id:N]</c>, <c>r1 = map[id:N][0]+off</c> for map fd/index and map value loads.</summary>
        MapReference,
    }

    /// <summary>
    /// <see cref="Format(ReadOnlySpan{Instruction}, int, CallNamer?, MapLoadStyle)"/> over a list (the verifier's
    /// program): only the instruction and, for an ld_imm64, its second slot are read.
    /// </summary>
    public static string Format(IReadOnlyList<Instruction> program, int index, CallNamer? callName = null, MapLoadStyle maps = MapLoadStyle.Immediate)
    {
        ReadOnlySpan<Instruction> slots = index + 1 < program.Count ? [program[index], program[index + 1]] : [program[index]];
        return Format(slots, 0, callName, maps);
    }

    /// <summary>
    /// Formats the instruction at <paramref name="index"/> (an lddw reads the next slot, which must exist).
    /// <paramref name="callName"/> supplies helper/kfunc names (kernel: func_id_str and the kfunc BTF name).
    /// </summary>
    public static string Format(ReadOnlySpan<Instruction> program, int index, CallNamer? callName = null, MapLoadStyle maps = MapLoadStyle.Immediate)
    {
        var insn = program[index];
        string code = $"({insn.Opcode:x2}) ";
        var cls = insn.Class;
        switch (cls)
        {
            case InstructionClass.Alu:
            case InstructionClass.Alu64:
                return code + Alu(insn);
            case InstructionClass.Stx:
                return Stx(insn, code);
            case InstructionClass.St:
                if (insn.AccessMode == AccessMode.Mem)
                    return code + $"*({Width(insn.AccessSize)} *)(r{insn.Dst} {Signed(insn.Offset)}) = {Num(insn.Imm)}";
                if (insn.AccessMode == AccessMode.Atomic) // BPF_NOSPEC (0xc0): internal only
                    return code + "nospec";
                return $"BUG_st_{insn.Opcode:x2}";
            case InstructionClass.Ldx:
                if (insn.AccessMode is not (AccessMode.Mem or AccessMode.MemSx))
                    return $"BUG_ldx_{insn.Opcode:x2}";
                string width = insn.AccessMode == AccessMode.Mem ? Width(insn.AccessSize) : SignedWidth(insn.AccessSize);
                return code + $"r{insn.Dst} = *({width} *)(r{insn.Src} {Signed(insn.Offset)})";
            case InstructionClass.Ld:
                if (insn.AccessMode == AccessMode.Abs)
                    return code + $"r0 = *({Width(insn.AccessSize)} *)skb[{Num(insn.Imm)}]";
                if (insn.AccessMode == AccessMode.Ind)
                    return code + $"r0 = *({Width(insn.AccessSize)} *)skb[r{insn.Src} + {Num(insn.Imm)}]";
                if (insn.AccessMode == AccessMode.Imm && insn.AccessSize == AccessSize.DoubleWord)
                {
                    if (maps == MapLoadStyle.MapReference)
                    {
                        if (insn.Src is (byte)LoadImm64Source.MapFd or (byte)LoadImm64Source.MapIndex)
                            return code + $"r{insn.Dst} = map[id:{Num(insn.Imm)}]";
                        if (insn.Src is (byte)LoadImm64Source.MapValue or (byte)LoadImm64Source.MapIndexValue)
                            return code + $"r{insn.Dst} = map[id:{Num(insn.Imm)}][0]+{Num(index + 1 < program.Length ? program[index + 1].Imm : 0)}";
                    }
                    ulong imm = index + 1 < program.Length ? (ulong)Instruction.Imm64(insn, program[index + 1]) : (uint)insn.Imm;
                    return code + $"r{insn.Dst} = 0x{imm:x}";
                }
                return $"BUG_ld_{insn.Opcode:x2}";
            default:
                return code + Jump(insn, callName);
        }
    }

    private static string Num(int v) => v.ToString(CultureInfo.InvariantCulture);

    /// <summary>printf "%+d".</summary>
    private static string Signed(int v) => v >= 0 ? $"+{v}" : Num(v);

    private static string Width(AccessSize size) => size switch
    {
        AccessSize.Word => "u32",
        AccessSize.Half => "u16",
        AccessSize.Byte => "u8",
        _ => "u64",
    };

    private static string SignedWidth(AccessSize size) => size switch
    {
        AccessSize.Word => "s32",
        AccessSize.Half => "s16",
        AccessSize.Byte => "s8",
        _ => "(null)",
    };

    private static string AluSymbol(AluOperation op) => op switch
    {
        AluOperation.Add => "+=",
        AluOperation.Sub => "-=",
        AluOperation.Mul => "*=",
        AluOperation.Div => "/=",
        AluOperation.Or => "|=",
        AluOperation.And => "&=",
        AluOperation.Lsh => "<<=",
        AluOperation.Rsh => ">>=",
        AluOperation.Neg => "neg",
        AluOperation.Mod => "%=",
        AluOperation.Xor => "^=",
        AluOperation.Mov => "=",
        AluOperation.Arsh => "s>>=",
        AluOperation.End => "endian",
        _ => "(null)",
    };

    private static string Alu(Instruction insn)
    {
        char r = insn.Class == InstructionClass.Alu ? 'w' : 'r';
        var op = insn.AluOperation;
        if (op == AluOperation.End)
        {
            return insn.Class == InstructionClass.Alu64
                ? $"r{insn.Dst} = bswap{insn.Imm} r{insn.Dst}"
                : $"r{insn.Dst} = {(insn.Source == OperandSource.Register ? "be" : "le")}{insn.Imm} r{insn.Dst}";
        }
        if (op == AluOperation.Neg)
            return $"{r}{insn.Dst} = -{r}{insn.Dst}";
        bool isMovX64 = insn.Opcode == Opcodes.Alu(InstructionClass.Alu64, AluOperation.Mov, OperandSource.Register);
        if (isMovX64 && insn.Offset == OpcodeExtras.AddressSpaceCastOffset)
            return $"r{insn.Dst} = addr_space_cast(r{insn.Src}, {(uint)insn.Imm >> 16}, {(ushort)insn.Imm})";
        if (isMovX64 && insn.Offset == -1) // BPF_ADDR_PERCPU: internal per-CPU address resolution
            return $"r{insn.Dst} = &(void __percpu *)(r{insn.Src})";
        bool signedOp = op is AluOperation.Div or AluOperation.Mod && insn.Offset == 1;
        string symbol = signedOp ? (op == AluOperation.Div ? "s/=" : "s%=") : AluSymbol(op);
        if (insn.Source == OperandSource.Register)
        {
            string cast = op == AluOperation.Mov ? insn.Offset switch { 8 => "(s8)", 16 => "(s16)", 32 => "(s32)", _ => "" } : "";
            return $"{r}{insn.Dst} {symbol} {cast}{r}{insn.Src}";
        }
        return $"{r}{insn.Dst} {symbol} {Num(insn.Imm)}";
    }

    private static string Stx(Instruction insn, string code)
    {
        string width = Width(insn.AccessSize);
        string at = $"r{insn.Dst} {Signed(insn.Offset)}";
        if (insn.AccessMode == AccessMode.Mem)
            return code + $"*({width} *)({at}) = r{insn.Src}";
        if (insn.AccessMode != AccessMode.Atomic)
            return $"BUG_{insn.Opcode:x2}";
        string bits = insn.AccessSize == AccessSize.DoubleWord ? "64" : "";
        switch (insn.Imm)
        {
            case AtomicOperation.Add or AtomicOperation.And or AtomicOperation.Or or AtomicOperation.Xor:
                return code + $"lock *({width} *)({at}) {AluSymbol((AluOperation)insn.Imm)} r{insn.Src}";
            case AtomicOperation.Add | AtomicOperation.Fetch or AtomicOperation.And | AtomicOperation.Fetch
                or AtomicOperation.Or | AtomicOperation.Fetch or AtomicOperation.Xor | AtomicOperation.Fetch:
            {
                string name = (insn.Imm & ~AtomicOperation.Fetch) switch
                {
                    AtomicOperation.Add => "add",
                    AtomicOperation.And => "and",
                    AtomicOperation.Or => "or",
                    _ => "xor",
                };
                return code + $"r{insn.Src} = atomic{bits}_fetch_{name}(({width} *)({at}), r{insn.Src})";
            }
            case AtomicOperation.Cmpxchg:
                return code + $"r0 = atomic{bits}_cmpxchg(({width} *)({at}), r0, r{insn.Src})";
            case AtomicOperation.Xchg:
                return code + $"r{insn.Src} = atomic{bits}_xchg(({width} *)({at}), r{insn.Src})";
            case OpcodeExtras.LoadAcquire:
                return code + $"r{insn.Dst} = load_acquire(({width} *)(r{insn.Src} {Signed(insn.Offset)}))";
            case OpcodeExtras.StoreRelease:
                return code + $"store_release(({width} *)({at}), r{insn.Src})";
            default:
                return $"BUG_{insn.Opcode:x2}";
        }
    }

    private static string Jump(Instruction insn, CallNamer? callName)
    {
        char r = insn.Class == InstructionClass.Jmp32 ? 'w' : 'r';
        var op = insn.JumpOperation;
        if (op == JumpOperation.Call)
        {
            string? name = callName?.Invoke(insn);
            if (insn.Src == (byte)CallSource.Local)
                return $"call pc{name ?? Signed(insn.Imm)}";
            name ??= insn.Src == (byte)CallSource.Kfunc ? "kernel-function" : "unknown";
            return $"call {name}#{Num(insn.Imm)}";
        }
        if (insn.Opcode == Opcodes.Ja)
            return $"goto pc{Signed(insn.Offset)}";
        if (insn.Opcode == OpcodeExtras.MayGoto && insn.Src == 0)
            return $"may_goto pc{Signed(insn.Offset)}";
        if (insn.Opcode == Opcodes.Ja32)
            return $"gotol pc{Signed(insn.Imm)}";
        if (insn.Opcode == Opcodes.Exit)
            return "exit";
        string symbol = op switch
        {
            JumpOperation.Ja => "jmp",
            JumpOperation.Jeq => "==",
            JumpOperation.Jgt => ">",
            JumpOperation.Jlt => "<",
            JumpOperation.Jge => ">=",
            JumpOperation.Jle => "<=",
            JumpOperation.Jset => "&",
            JumpOperation.Jne => "!=",
            JumpOperation.Jsgt => "s>",
            JumpOperation.Jslt => "s<",
            JumpOperation.Jsge => "s>=",
            JumpOperation.Jsle => "s<=",
            JumpOperation.Exit => "exit",
            _ => "(null)",
        };
        return insn.Source == OperandSource.Register
            ? $"if {r}{insn.Dst} {symbol} {r}{insn.Src} goto pc{Signed(insn.Offset)}"
            : $"if {r}{insn.Dst} {symbol} 0x{(uint)insn.Imm:x} goto pc{Signed(insn.Offset)}";
    }
}
