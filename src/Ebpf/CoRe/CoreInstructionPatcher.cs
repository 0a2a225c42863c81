using Ebpf.Isa;

namespace Ebpf.CoRe;

/// <summary>
/// bpf_core_patch_insn: writes a resolved value into the instruction that carries the relocation — an ALU immediate,
/// a load/store offset (adjusting the access size when the field's size changed), or a 64-bit immediate — after
/// checking that the instruction holds what the compiler computed from the local BTF. A poisoned relocation
/// becomes <c>call 0xbad2310</c>, which the verifier refuses only if it is reachable.
/// </summary>
internal static class CoreInstructionPatcher
{
    /// <summary>The invalid helper id a poisoned instruction calls ("bad relo").</summary>
    public const int PoisonHelperId = 0xbad2310;

    public static Instruction PoisonInstruction => new(Opcodes.Call, 0, 0, 0, PoisonHelperId);

    /// <summary>Patches <paramref name="insns"/>[<paramref name="index"/>]; throws BpfException with libbpf's message on a mismatch.</summary>
    public static void Patch(string program, int reloIndex, Span<Instruction> insns, int index, CoreRelocationResult res, Action<string>? debug)
    {
        string Where(string what) => $"prog '{program}': relo #{reloIndex}: {what}";
        if ((uint)index >= (uint)insns.Length)
            throw new BpfException(Errno.EINVAL, Where($"insn #{index} is out of range ({insns.Length} insns)"));
        ref var insn = ref insns[index];
        // The instruction's shape is checked before anything else, poisoning included (the kernel's relo_core: a
        // poisoned relocation on an exit, a jump or a register ALU fails the load instead of being substituted).
        bool ldImm64 = insn.Class == InstructionClass.Ld;
        bool recognised = insn.Class switch
        {
            InstructionClass.Alu or InstructionClass.Alu64 => insn.Source == OperandSource.Immediate,
            InstructionClass.Ldx or InstructionClass.St or InstructionClass.Stx or InstructionClass.Ld => true,
            _ => false,
        };
        if (!recognised)
            throw new BpfException(Errno.EINVAL, Where($"trying to relocate unrecognized insn #{index}, code:0x{insn.Opcode:x}, src:0x{insn.Src:x}, dst:0x{insn.Dst:x}, off:0x{(ushort)insn.Offset:x}, imm:0x{insn.Imm:x}"));
        if (ldImm64 && (!insn.IsLoadImm64 || index + 1 >= insns.Length || insn.Src != 0 || insn.Offset != 0
            || insns[index + 1].Opcode != 0 || insns[index + 1].Dst != 0 || insns[index + 1].Src != 0 || insns[index + 1].Offset != 0))
            throw new BpfException(Errno.EINVAL, Where($"insn #{index} (LDIMM64) has unexpected form"));
        if (res.Poison)
        {
            Poison(insns, index, debug, Where);
            return;
        }
        ulong orig = res.Original, @new = res.New;
        switch (insn.Class)
        {
            case InstructionClass.Alu or InstructionClass.Alu64:
                if (res.Validate && (ulong)(long)insn.Imm != orig)
                    throw new BpfException(Errno.EINVAL, Where($"unexpected insn #{index} (ALU/ALU64) value: got {(uint)insn.Imm}, exp {orig} -> {@new}"));
                debug?.Invoke(Where($"patched insn #{index} (ALU/ALU64) imm {(uint)insn.Imm} -> {@new}"));
                insn = new Instruction(insn.Opcode, insn.Dst, insn.Src, insn.Offset, (int)(uint)@new);
                break;
            case InstructionClass.Ldx or InstructionClass.St or InstructionClass.Stx:
                if (res.Validate && (ulong)(long)insn.Offset != orig)
                    throw new BpfException(Errno.EINVAL, Where($"unexpected insn #{index} (LDX/ST/STX) value: got {(ushort)insn.Offset}, exp {orig} -> {@new}"));
                if (@new > (ulong)short.MaxValue)
                    throw new BpfException(Errno.ERANGE, Where($"insn #{index} (LDX/ST/STX) value too big: {@new}"));
                if (res.FailMemorySizeAdjust)
                {
                    debug?.Invoke(Where($"insn #{index} (LDX/ST/STX) accesses field incorrectly. Make sure you are accessing pointers, unsigned integers, or fields of matching type and size."));
                    Poison(insns, index, debug, Where);
                    return;
                }
                debug?.Invoke(Where($"patched insn #{index} (LDX/ST/STX) off {insn.Offset} -> {@new}"));
                byte opcode = insn.Opcode;
                if (res.NewSize != res.OriginalSize)
                {
                    int bytes = Opcodes.SizeInBytes(insn.AccessSize);
                    if (bytes != res.OriginalSize)
                        throw new BpfException(Errno.EINVAL, Where($"insn #{index} (LDX/ST/STX) unexpected mem size: got {bytes}, exp {res.OriginalSize}"));
                    AccessSize size = res.NewSize switch
                    {
                        1 => AccessSize.Byte, 2 => AccessSize.Half, 4 => AccessSize.Word, 8 => AccessSize.DoubleWord,
                        _ => throw new BpfException(Errno.EINVAL, Where($"insn #{index} (LDX/ST/STX) invalid new mem size: {res.NewSize}")),
                    };
                    opcode = (byte)((opcode & ~0x18) | (byte)size);
                    debug?.Invoke(Where($"patched insn #{index} (LDX/ST/STX) mem_sz {res.OriginalSize} -> {res.NewSize}"));
                }
                insn = new Instruction(opcode, insn.Dst, insn.Src, (short)@new, insn.Imm);
                break;
            case InstructionClass.Ld:
                ulong imm = (uint)insn.Imm | ((ulong)(uint)insns[index + 1].Imm << 32);
                if (res.Validate && imm != orig)
                    throw new BpfException(Errno.EINVAL, Where($"unexpected insn #{index} (LDIMM64) value: got {imm}, exp {orig} -> {@new}"));
                insn = new Instruction(insn.Opcode, insn.Dst, 0, 0, (int)(uint)@new);
                insns[index + 1] = new Instruction(0, 0, 0, 0, (int)(uint)(@new >> 32));
                debug?.Invoke(Where($"patched insn #{index} (LDIMM64) imm64 {imm} -> {@new}"));
                break;
            default:
                throw new BpfException(Errno.EINVAL, Where($"trying to relocate unrecognized insn #{index}, code:0x{insn.Opcode:x}, src:0x{insn.Src:x}, dst:0x{insn.Dst:x}, off:0x{(ushort)insn.Offset:x}, imm:0x{insn.Imm:x}"));
        }
    }

    private static void Poison(Span<Instruction> insns, int index, Action<string>? debug, Func<string, string> where)
    {
        // Poison the second half of an ld_imm64 too, or the verifier would complain about "unknown opcode 00" first;
        // each substitution is logged, the first half first (as the kernel logs them).
        bool wide = insns[index].IsLoadImm64 && index + 1 < insns.Length;
        insns[index] = PoisonInstruction;
        debug?.Invoke(where($"substituting insn #{index} w/ invalid insn"));
        if (wide)
        {
            insns[index + 1] = PoisonInstruction;
            debug?.Invoke(where($"substituting insn #{index + 1} w/ invalid insn"));
        }
    }
}
