using Ebpf.Isa;

namespace Ebpf.Execution;

/// <summary>
/// Turns raw slots into <see cref="DecodedInstruction"/>s: one dense <see cref="Operation"/> per slot,
/// absolute jump targets, immediates pre-extended. Everything the hot loop relies on without checking
/// (register numbers, jump targets inside the program and not into an lddw's second half, known
/// opcodes) is established here, so a malformed program is rejected before it runs, in both modes.
/// </summary>
internal static class ProgramDecoder
{
    public const int MaxRegister = 10;

    /// <summary>Decodes <paramref name="program"/>; the result has one extra slot, the fell-off-the-end sentinel.</summary>
    public static DecodedInstruction[] Decode(ReadOnlySpan<Instruction> program, string name)
    {
        if (program.Length == 0)
            throw new BpfException(Errno.EINVAL, $"{name}: empty program");
        if (program.Length > Verification.Verifier.ComplexityLimit)
            throw new BpfException(Errno.E2BIG, $"{name}: program of {program.Length} instructions is too large (limit {Verification.Verifier.ComplexityLimit})");

        var decoded = GC.AllocateArray<DecodedInstruction>(program.Length + 1, pinned: true);
        var isTail = new bool[program.Length + 1];
        for (int pc = 0; pc < program.Length; pc++)
        {
            var insn = program[pc];
            if (ReachedOnlyError(program, pc))
            {
                // Legal where it never runs, as in the kernel (do_check refuses it only when reached): trap if it does.
                decoded[pc] = new DecodedInstruction(Operation.Invalid, 0, 0, 0, 0);
                if (insn.IsLoadImm64)
                {
                    decoded[++pc] = new DecodedInstruction(Operation.LoadImm64Tail, 0, 0, 0, 0);
                    isTail[pc] = true;
                }
                continue;
            }
            if (insn.IsLoadImm64)
            {
                decoded[pc] = DecodeLoadImm64(program, pc, name);
                decoded[pc + 1] = new DecodedInstruction(Operation.LoadImm64Tail, 0, 0, 0, 0);
                isTail[pc + 1] = true;
                pc++;
                continue;
            }
            decoded[pc] = DecodeOne(insn, pc, name);
        }
        decoded[program.Length] = new DecodedInstruction(Operation.FellOffEnd, 0, 0, 0, 0);

        // Second pass: every jump and call target must be a real instruction start.
        for (int pc = 0; pc < program.Length; pc++)
        {
            var op = decoded[pc].Op;
            if (!HasTarget(op))
                continue;
            int target = decoded[pc].Offset;
            if (target < 0 || target >= program.Length)
                throw Error(Errno.EINVAL, name, pc, op is Operation.CallLocal or Operation.LoadFunctionReference
                    ? $"call target {target} is outside the program (0..{program.Length - 1})"
                    : $"jump out of range from insn {pc} to {target}");
            if (isTail[target])
                throw Error(Errno.EINVAL, name, pc, $"jump into the middle of ldimm64 insn {target - 1}");
        }
        return decoded;
    }

    /// <summary>
    /// The shared decoder (<see cref="InstructionDecoder"/>) refuses the instruction, but only for what the kernel checks
    /// when do_check reaches it: the per-instruction pre-pass (<see cref="KernelPrePass.InstructionError"/>) lets it through.
    /// </summary>
    private static bool ReachedOnlyError(ReadOnlySpan<Instruction> program, int pc) =>
        !InstructionDecoder.TryDecode(program, pc, out _, out _, IsaExtensions.Callx)
        && KernelPrePass.InstructionError(program, pc, IsaExtensions.Callx) is null;

    private static bool HasTarget(Operation op) =>
        op is (>= Operation.Ja and <= Operation.Jsle32X) or Operation.MayGoto or Operation.CallLocal or Operation.LoadFunctionReference;

    internal static BpfException Error(Errno errno, string name, int pc, string message) =>
        new(errno, $"{name}: insn {pc}: {message}");

    private static DecodedInstruction DecodeLoadImm64(ReadOnlySpan<Instruction> program, int pc, string name)
    {
        var first = program[pc];
        CheckRegister(first.Dst, pc, name, write: true);
        if (pc + 1 >= program.Length)
            throw Error(Errno.EINVAL, name, pc, "invalid BPF_LD_IMM insn: the second half of ldimm64 is missing");
        var second = program[pc + 1];
        if (second.Opcode != 0 || second.Registers != 0 || second.Offset != 0)
            throw Error(Errno.EINVAL, name, pc, $"invalid BPF_LD_IMM insn: second half is {second}");
        long value = Instruction.Imm64(first, second);
        switch ((LoadImm64Source)first.Src)
        {
            case LoadImm64Source.Imm64:
                return new DecodedInstruction(Operation.LoadImm64, first.Dst, 0, 0, value);
            case LoadImm64Source.Function:
                // imm is the callee's position relative to the next slot, as for call src=1.
                return new DecodedInstruction(Operation.LoadFunctionReference, first.Dst, 0, pc + 1 + first.Imm, 0);
            default:
                throw Error(Errno.EINVAL, name, pc,
                    $"ldimm64 with pseudo source {first.Src} ({(LoadImm64Source)first.Src}) must be resolved by the loader before execution");
        }
    }

    private static void CheckRegister(byte reg, int pc, string name, bool write)
    {
        if (reg > MaxRegister)
            throw Error(Errno.EINVAL, name, pc, $"R{reg} is invalid");
        if (write && reg == MaxRegister)
            throw Error(Errno.EACCES, name, pc, "frame pointer is read only");
    }

    private static BpfException Unknown(Instruction insn, int pc, string name) =>
        Error(Errno.EINVAL, name, pc, $"unknown opcode {insn.Opcode:x2} ({insn})");

    private static DecodedInstruction DecodeOne(Instruction insn, int pc, string name)
    {
        return insn.Class switch
        {
            InstructionClass.Alu64 or InstructionClass.Alu => DecodeAlu(insn, pc, name),
            InstructionClass.Jmp or InstructionClass.Jmp32 => DecodeJump(insn, pc, name),
            InstructionClass.Ld => DecodeLegacyLoad(insn, pc, name),
            InstructionClass.Ldx => DecodeLoad(insn, pc, name),
            InstructionClass.St => DecodeStoreImm(insn, pc, name),
            _ => DecodeStoreReg(insn, pc, name),
        };
    }

    private static DecodedInstruction DecodeAlu(Instruction insn, int pc, string name)
    {
        bool is64 = insn.Class == InstructionClass.Alu64;
        bool reg = insn.Source == OperandSource.Register;
        byte dst = insn.Dst, src = insn.Src;
        CheckRegister(dst, pc, name, write: true);
        if (reg)
            CheckRegister(src, pc, name, write: false);
        short off = insn.Offset;

        Operation Pick(Operation k64, Operation x64, Operation k32, Operation x32) =>
            is64 ? (reg ? x64 : k64) : (reg ? x32 : k32);

        Operation op;
        switch (insn.AluOperation)
        {
            case AluOperation.Add: op = Pick(Operation.Add64K, Operation.Add64X, Operation.Add32K, Operation.Add32X); break;
            case AluOperation.Sub: op = Pick(Operation.Sub64K, Operation.Sub64X, Operation.Sub32K, Operation.Sub32X); break;
            case AluOperation.Mul: op = Pick(Operation.Mul64K, Operation.Mul64X, Operation.Mul32K, Operation.Mul32X); break;
            case AluOperation.Or: op = Pick(Operation.Or64K, Operation.Or64X, Operation.Or32K, Operation.Or32X); break;
            case AluOperation.And: op = Pick(Operation.And64K, Operation.And64X, Operation.And32K, Operation.And32X); break;
            case AluOperation.Lsh: op = Pick(Operation.Lsh64K, Operation.Lsh64X, Operation.Lsh32K, Operation.Lsh32X); break;
            case AluOperation.Rsh: op = Pick(Operation.Rsh64K, Operation.Rsh64X, Operation.Rsh32K, Operation.Rsh32X); break;
            case AluOperation.Xor: op = Pick(Operation.Xor64K, Operation.Xor64X, Operation.Xor32K, Operation.Xor32X); break;
            case AluOperation.Arsh: op = Pick(Operation.Arsh64K, Operation.Arsh64X, Operation.Arsh32K, Operation.Arsh32X); break;
            case AluOperation.Div when off == 0: op = Pick(Operation.Div64K, Operation.Div64X, Operation.Div32K, Operation.Div32X); break;
            case AluOperation.Div when off == 1: op = Pick(Operation.SDiv64K, Operation.SDiv64X, Operation.SDiv32K, Operation.SDiv32X); break;
            case AluOperation.Mod when off == 0: op = Pick(Operation.Mod64K, Operation.Mod64X, Operation.Mod32K, Operation.Mod32X); break;
            case AluOperation.Mod when off == 1: op = Pick(Operation.SMod64K, Operation.SMod64X, Operation.SMod32K, Operation.SMod32X); break;
            case AluOperation.Neg when !reg:
                op = is64 ? Operation.Neg64 : Operation.Neg32;
                break;
            case AluOperation.Mov:
                if (off == 0)
                {
                    op = Pick(Operation.Mov64K, Operation.Mov64X, Operation.Mov32K, Operation.Mov32X);
                }
                else if (reg && (off == 8 || off == 16 || (off == 32 && is64)))
                {
                    op = off switch
                    {
                        8 => is64 ? Operation.MovSx64B : Operation.MovSx32B,
                        16 => is64 ? Operation.MovSx64H : Operation.MovSx32H,
                        _ => Operation.MovSx64W,
                    };
                }
                else
                {
                    throw Error(Errno.EINVAL, name, pc, $"invalid movsx offset {off} ({insn})");
                }
                break;
            case AluOperation.End:
                op = DecodeEnd(insn, is64, reg, pc, name);
                break;
            case AluOperation.Div or AluOperation.Mod:
                throw Error(Errno.EINVAL, name, pc, $"invalid offset {off} for div/mod (0 unsigned, 1 signed) ({insn})");
            default:
                throw Unknown(insn, pc, name);
        }
        return new DecodedInstruction(op, dst, reg ? src : (byte)0, 0, insn.Imm);
    }

    private static Operation DecodeEnd(Instruction insn, bool is64, bool toBigEndian, int pc, string name)
    {
        int width = insn.Imm;
        if (width is not (16 or 32 or 64))
            throw Error(Errno.EINVAL, name, pc, $"invalid byte swap width {width} ({insn})");
        bool swap;
        if (is64)
        {
            if (toBigEndian)
                throw Unknown(insn, pc, name);
            swap = true; // bswap: unconditional
        }
        else
        {
            // le: a no-op (truncation) on little-endian hosts; be: a swap there. Reversed on big-endian hosts.
            swap = toBigEndian == BitConverter.IsLittleEndian;
        }
        return (swap, width) switch
        {
            (true, 16) => Operation.Bswap16,
            (true, 32) => Operation.Bswap32,
            (true, _) => Operation.Bswap64,
            (false, 16) => Operation.Le16,
            (false, 32) => Operation.Le32,
            _ => Operation.Le64,
        };
    }

    private static DecodedInstruction DecodeJump(Instruction insn, int pc, string name)
    {
        bool is64 = insn.Class == InstructionClass.Jmp;
        bool reg = insn.Source == OperandSource.Register;
        switch (insn.JumpOperation)
        {
            case JumpOperation.Ja:
                if (reg)
                    throw Unknown(insn, pc, name);
                // gotol (JMP32 | JA) carries its 32-bit displacement in imm.
                return new DecodedInstruction(Operation.Ja, 0, 0, pc + 1 + (is64 ? insn.Offset : insn.Imm), 0);
            case JumpOperation.Call when is64:
                if (reg)
                {
                    // callx: LLVM encodes the target register in dst.
                    CheckRegister(insn.Dst, pc, name, write: false);
                    return new DecodedInstruction(Operation.CallRegister, insn.Dst, 0, 0, 0);
                }
                return (CallSource)insn.Src switch
                {
                    CallSource.Helper => new DecodedInstruction(Operation.CallHelper, 0, 0, 0, insn.Imm),
                    CallSource.Local => new DecodedInstruction(Operation.CallLocal, 0, 0, pc + 1 + insn.Imm, 0),
                    CallSource.Kfunc => throw Error(Errno.EOPNOTSUPP, name, pc, $"kfunc call (btf id {insn.Imm}) must be resolved by the loader before execution"),
                    _ => throw Error(Errno.EINVAL, name, pc, $"invalid call source {insn.Src} ({insn})"),
                };
            case JumpOperation.Exit when is64 && !reg:
                return new DecodedInstruction(Operation.Exit, 0, 0, 0, 0);
            case JumpOperation.Call or JumpOperation.Exit:
                throw Unknown(insn, pc, name);
            case (JumpOperation)OpcodeExtras.JumpCond when is64 && !reg:
                // may_goto (src 0 is the only kind; the decoder refused any other field).
                if (insn.Src != 0 || insn.Dst != 0 || insn.Imm != 0)
                    throw Error(Errno.EINVAL, name, pc, $"invalid may_goto imm {insn.Imm}");
                return new DecodedInstruction(Operation.MayGoto, 0, 0, pc + 1 + insn.Offset, 0);
        }

        Operation baseOp = insn.JumpOperation switch
        {
            JumpOperation.Jeq => Operation.Jeq64K,
            JumpOperation.Jgt => Operation.Jgt64K,
            JumpOperation.Jge => Operation.Jge64K,
            JumpOperation.Jset => Operation.Jset64K,
            JumpOperation.Jne => Operation.Jne64K,
            JumpOperation.Jsgt => Operation.Jsgt64K,
            JumpOperation.Jsge => Operation.Jsge64K,
            JumpOperation.Jlt => Operation.Jlt64K,
            JumpOperation.Jle => Operation.Jle64K,
            JumpOperation.Jslt => Operation.Jslt64K,
            JumpOperation.Jsle => Operation.Jsle64K,
            _ => throw Unknown(insn, pc, name),
        };
        CheckRegister(insn.Dst, pc, name, write: false);
        if (reg)
            CheckRegister(insn.Src, pc, name, write: false);
        int shift = (is64 ? 0 : Operation.Jeq32K - Operation.Jeq64K) + (reg ? 1 : 0);
        return DecodedInstruction.Jump((Operation)((int)baseOp + shift), insn.Dst, reg ? insn.Src : (byte)0, pc + 1 + insn.Offset, insn.Imm, pc + 1);
    }

    private static DecodedInstruction DecodeLegacyLoad(Instruction insn, int pc, string name)
    {
        var mode = insn.AccessMode;
        if (mode is not (AccessMode.Abs or AccessMode.Ind) || insn.AccessSize == AccessSize.DoubleWord)
            throw Unknown(insn, pc, name);
        bool ind = mode == AccessMode.Ind;
        if (ind)
            CheckRegister(insn.Src, pc, name, write: false);
        Operation op = insn.AccessSize switch
        {
            AccessSize.Byte => ind ? Operation.LdIndB : Operation.LdAbsB,
            AccessSize.Half => ind ? Operation.LdIndH : Operation.LdAbsH,
            _ => ind ? Operation.LdIndW : Operation.LdAbsW,
        };
        return new DecodedInstruction(op, 0, ind ? insn.Src : (byte)0, 0, insn.Imm);
    }

    private static DecodedInstruction DecodeLoad(Instruction insn, int pc, string name)
    {
        CheckRegister(insn.Dst, pc, name, write: true);
        CheckRegister(insn.Src, pc, name, write: false);
        Operation op = (insn.AccessMode, insn.AccessSize) switch
        {
            (AccessMode.Mem, AccessSize.Byte) => Operation.LdxB,
            (AccessMode.Mem, AccessSize.Half) => Operation.LdxH,
            (AccessMode.Mem, AccessSize.Word) => Operation.LdxW,
            (AccessMode.Mem, AccessSize.DoubleWord) => Operation.LdxDW,
            (AccessMode.MemSx, AccessSize.Byte) => Operation.LdxSxB,
            (AccessMode.MemSx, AccessSize.Half) => Operation.LdxSxH,
            (AccessMode.MemSx, AccessSize.Word) => Operation.LdxSxW,
            _ => throw Unknown(insn, pc, name),
        };
        return new DecodedInstruction(op, insn.Dst, insn.Src, insn.Offset, 0);
    }

    private static DecodedInstruction DecodeStoreImm(Instruction insn, int pc, string name)
    {
        if (insn.AccessMode != AccessMode.Mem)
            throw Unknown(insn, pc, name);
        CheckRegister(insn.Dst, pc, name, write: false);
        Operation op = insn.AccessSize switch
        {
            AccessSize.Byte => Operation.StB,
            AccessSize.Half => Operation.StH,
            AccessSize.Word => Operation.StW,
            _ => Operation.StDW,
        };
        return new DecodedInstruction(op, insn.Dst, 0, insn.Offset, insn.Imm);
    }

    private static DecodedInstruction DecodeStoreReg(Instruction insn, int pc, string name)
    {
        CheckRegister(insn.Dst, pc, name, write: false);
        CheckRegister(insn.Src, pc, name, write: false);
        if (insn.AccessMode == AccessMode.Mem)
        {
            Operation store = insn.AccessSize switch
            {
                AccessSize.Byte => Operation.StxB,
                AccessSize.Half => Operation.StxH,
                AccessSize.Word => Operation.StxW,
                _ => Operation.StxDW,
            };
            return new DecodedInstruction(store, insn.Dst, insn.Src, insn.Offset, 0);
        }
        if (insn.AccessMode != AccessMode.Atomic)
            throw Unknown(insn, pc, name);
        if (insn.Imm is OpcodeExtras.LoadAcquire or OpcodeExtras.StoreRelease)
            return DecodeAcquireRelease(insn, pc, name);
        if (insn.AccessSize is not (AccessSize.Word or AccessSize.DoubleWord))
            throw Unknown(insn, pc, name);

        bool is64 = insn.AccessSize == AccessSize.DoubleWord;
        Operation? atomic = insn.Imm switch
        {
            AtomicOperation.Add => Operation.AtomicAdd32,
            AtomicOperation.Or => Operation.AtomicOr32,
            AtomicOperation.And => Operation.AtomicAnd32,
            AtomicOperation.Xor => Operation.AtomicXor32,
            AtomicOperation.Add | AtomicOperation.Fetch => Operation.AtomicFetchAdd32,
            AtomicOperation.Or | AtomicOperation.Fetch => Operation.AtomicFetchOr32,
            AtomicOperation.And | AtomicOperation.Fetch => Operation.AtomicFetchAnd32,
            AtomicOperation.Xor | AtomicOperation.Fetch => Operation.AtomicFetchXor32,
            AtomicOperation.Xchg => Operation.Xchg32,
            AtomicOperation.Cmpxchg => Operation.Cmpxchg32,
            _ => null,
        };
        if (atomic is null)
            throw Error(Errno.EINVAL, name, pc, $"BPF_ATOMIC uses invalid atomic opcode {insn.Imm:x2}");
        if (is64)
            atomic = (Operation)((int)atomic.Value + (Operation.AtomicAdd64 - Operation.AtomicAdd32));
        // Fetch variants write the old value into src (cmpxchg into r0): src may not be r10 then.
        if (insn.Imm != AtomicOperation.Cmpxchg && (insn.Imm & AtomicOperation.Fetch) != 0)
            CheckRegister(insn.Src, pc, name, write: true);
        return new DecodedInstruction(atomic.Value, insn.Dst, insn.Src, insn.Offset, 0);
    }

    /// <summary>BPF_LOAD_ACQ loads into dst from src + off; BPF_STORE_REL stores src at dst + off; both in every width.</summary>
    private static DecodedInstruction DecodeAcquireRelease(Instruction insn, int pc, string name)
    {
        bool load = insn.Imm == OpcodeExtras.LoadAcquire;
        if (load)
            CheckRegister(insn.Dst, pc, name, write: true);
        int width = insn.AccessSize switch
        {
            AccessSize.Byte => 0,
            AccessSize.Half => 1,
            AccessSize.Word => 2,
            _ => 3,
        };
        var op = (Operation)((int)(load ? Operation.LoadAcquireB : Operation.StoreReleaseB) + width);
        return new DecodedInstruction(op, insn.Dst, insn.Src, insn.Offset, 0);
    }
}
