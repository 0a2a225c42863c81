using System.Globalization;
using System.Text;

namespace Ebpf.Isa;

/// <summary>
/// Disassembles into the bpf_conformance dialect that <see cref="Assembler"/> reads, such that
/// <c>Assembler.Assemble(Disassemble(x))</c> reproduces x bit for bit. Jump targets are numeric (<c>+3</c>);
/// instructions the dialect has no words for (address-space casts, load-acquire/store-release, kfunc calls
/// with a module offset, LLVM-style callx, anything the decoder rejects) are written as <c>.insn 0x…</c>.
/// </summary>
public static class ConformanceDisassembler
{
    /// <summary>The whole program, one instruction per line, each line ending in '\n'.</summary>
    public static string Disassemble(ReadOnlySpan<Instruction> program)
    {
        var text = new StringBuilder();
        for (int i = 0; i < program.Length;)
        {
            text.Append(Format(program, i, out int count)).Append('\n');
            i += count;
        }
        return text.ToString();
    }

    /// <summary>One instruction; <paramref name="slotCount"/> is 2 for a valid lddw, else 1.</summary>
    public static string Format(ReadOnlySpan<Instruction> program, int index, out int slotCount)
    {
        slotCount = 1;
        if (!InstructionDecoder.TryDecode(program, index, out var d, out _, IsaExtensions.Callx))
            return Raw(program[index]);
        slotCount = d.SlotCount;
        return Format(d, 0) ?? Raw(program[index]);
    }

    /// <summary>The text of a decoded instruction (<c>.insn</c> with its encoding when the dialect has no words for it).</summary>
    public static string Format(in DecodedInstruction instruction) =>
        Format(instruction, 0) ?? Raw(InstructionEncoder.Encode(instruction)[0]);

    private static string Raw(Instruction insn) => $".insn 0x{insn.ToRaw():x16}";

    private static string R(int reg) => $"%r{reg}";

    private static string Num(long v) => v.ToString(CultureInfo.InvariantCulture);

    private static string Jump(long displacement) => displacement >= 0 ? $"+{displacement}" : Num(displacement);

    private static string Memory(int reg, short offset) => offset >= 0 ? $"[%r{reg}+{offset}]" : $"[%r{reg}{offset}]";

    private static string SizeSuffix(AccessSize size) => size switch
    {
        AccessSize.Byte => "b",
        AccessSize.Half => "h",
        AccessSize.Word => "w",
        _ => "dw",
    };

    private static string? Format(in DecodedInstruction d, int _)
    {
        string w = d.Is64 ? "" : "32";
        switch (d.Kind)
        {
            case InstructionKind.Alu:
            {
                string name = d.AluOperation switch
                {
                    AluOperation.Add => "add",
                    AluOperation.Sub => "sub",
                    AluOperation.Mul => "mul",
                    AluOperation.Div => d.Signed ? "sdiv" : "div",
                    AluOperation.Or => "or",
                    AluOperation.And => "and",
                    AluOperation.Lsh => "lsh",
                    AluOperation.Rsh => "rsh",
                    AluOperation.Mod => d.Signed ? "smod" : "mod",
                    AluOperation.Xor => "xor",
                    AluOperation.Mov => "mov",
                    _ => "arsh",
                };
                string operand = d.Source == OperandSource.Register ? R(d.Src) : Num(d.Imm);
                return $"{name}{w} {R(d.Dst)}, {operand}";
            }
            case InstructionKind.Negate:
                return $"neg{w} {R(d.Dst)}";
            case InstructionKind.MoveSignExtend:
                return $"movsx{d.SignExtendBits}{(d.Is64 ? "64" : "32")} {R(d.Dst)}, {R(d.Src)}";
            case InstructionKind.ByteSwap:
            {
                string name = d.ByteSwap switch
                {
                    ByteSwapKind.ToLittleEndian => "le",
                    ByteSwapKind.ToBigEndian => "be",
                    _ => "bswap",
                };
                return $"{name}{d.SwapBits} {R(d.Dst)}";
            }
            case InstructionKind.Jump:
                return d.IsLongJump ? $"ja32 {Jump(d.Imm)}" : $"ja {Jump(d.Offset)}";
            case InstructionKind.ConditionalJump:
            {
                string name = d.Condition switch
                {
                    JumpOperation.Jeq => "jeq",
                    JumpOperation.Jgt => "jgt",
                    JumpOperation.Jge => "jge",
                    JumpOperation.Jset => "jset",
                    JumpOperation.Jne => "jne",
                    JumpOperation.Jsgt => "jsgt",
                    JumpOperation.Jsge => "jsge",
                    JumpOperation.Jlt => "jlt",
                    JumpOperation.Jle => "jle",
                    JumpOperation.Jslt => "jslt",
                    _ => "jsle",
                };
                string operand = d.Source == OperandSource.Register ? R(d.Src) : Num(d.Imm);
                return $"{name}{w} {R(d.Dst)}, {operand}, {Jump(d.Offset)}";
            }
            case InstructionKind.MayGoto:
                return $"may_goto {Jump(d.Offset)}";
            case InstructionKind.Call:
                return d.CallSource switch
                {
                    CallSource.Helper => $"call {Num(d.Imm)}",
                    CallSource.Local => $"call local {Jump(d.Imm)}",
                    _ => d.Offset == 0 ? $"call runtime {Num(d.Imm)}" : null,
                };
            case InstructionKind.CallRegister:
                return d.Imm == 0 ? $"callx {R(d.Dst)}" : null;
            case InstructionKind.Exit:
                return "exit";
            case InstructionKind.LoadImm64:
            {
                string source = d.PseudoSource switch
                {
                    LoadImm64Source.Imm64 => "",
                    LoadImm64Source.MapFd => "map_fd ",
                    LoadImm64Source.MapValue => "map_value ",
                    LoadImm64Source.BtfId => "btf_id ",
                    LoadImm64Source.Function => "func ",
                    LoadImm64Source.MapIndex => "map_idx ",
                    _ => "map_idx_value ",
                };
                return $"lddw {R(d.Dst)}, {source}0x{(ulong)d.Imm64:x}";
            }
            case InstructionKind.Load:
                return $"ldx{(d.SignExtendBits != 0 ? "s" : "")}{SizeSuffix(d.Size)} {R(d.Dst)}, {Memory(d.Src, d.Offset)}";
            case InstructionKind.Store:
                return $"stx{SizeSuffix(d.Size)} {Memory(d.Dst, d.Offset)}, {R(d.Src)}";
            case InstructionKind.StoreImm:
                return $"st{SizeSuffix(d.Size)} {Memory(d.Dst, d.Offset)}, {Num(d.Imm)}";
            case InstructionKind.Atomic:
            {
                string name = d.Atomic switch
                {
                    AtomicKind.Add => "add",
                    AtomicKind.Or => "or",
                    AtomicKind.And => "and",
                    AtomicKind.Xor => "xor",
                    AtomicKind.Exchange => "xchg",
                    _ => "cmpxchg",
                };
                bool explicitFetch = d.Fetch && d.Atomic is not (AtomicKind.Exchange or AtomicKind.CompareExchange);
                string width = d.Size == AccessSize.Word ? "32" : "";
                return $"lock {(explicitFetch ? "fetch " : "")}{name}{width} {Memory(d.Dst, d.Offset)}, {R(d.Src)}";
            }
            case InstructionKind.PacketLoad:
                return d.PacketMode == AccessMode.Abs
                    ? $"ldabs{SizeSuffix(d.Size)} {Num(d.Imm)}"
                    : $"ldind{SizeSuffix(d.Size)} {R(d.Src)}, {Num(d.Imm)}";
            case InstructionKind.LoadAcquire:
                return $"ldacq{SizeSuffix(d.Size)} {R(d.Dst)}, {Memory(d.Src, d.Offset)}";
            case InstructionKind.StoreRelease:
                return $"strel{SizeSuffix(d.Size)} {Memory(d.Dst, d.Offset)}, {R(d.Src)}";
            default:
                return null; // address-space cast
        }
    }
}
