namespace Ebpf.Isa;

/// <summary>What an instruction does, independent of how its opcode byte spells it.</summary>
public enum InstructionKind : byte
{
    /// <summary>dst op= src|imm for add..arsh and mov (ALU/ALU64); sdiv/smod have <see cref="DecodedInstruction.Signed"/>.</summary>
    Alu,
    /// <summary>dst = -dst (BPF_NEG, immediate form only).</summary>
    Negate,
    /// <summary>movsx: dst = (s8|s16|s32)src, width <see cref="DecodedInstruction.SignExtendBits"/> (off 8/16/32).</summary>
    MoveSignExtend,
    /// <summary>ALU64 MOV X with off=1: arena address space cast (imm 1 = to arena, 0x10000 = from arena).</summary>
    AddressSpaceCast,
    /// <summary>le16/32/64, be16/32/64 (ALU END) and bswap16/32/64 (ALU64 END).</summary>
    ByteSwap,
    /// <summary>Unconditional jump: ja (JMP, off) or gotol (JMP32, imm).</summary>
    Jump,
    /// <summary>if dst cond src|imm goto off (JMP and JMP32).</summary>
    ConditionalJump,
    /// <summary>may_goto (JMP JCOND, src=0): a bounded-loop escape whose off is taken when the budget runs out.</summary>
    MayGoto,
    /// <summary>call to a helper (src 0), a bpf-to-bpf function (src 1) or a kfunc (src 2).</summary>
    Call,
    /// <summary>callx: call through a register (dst). Not accepted by Linux; ubpf/bpf_conformance extension.</summary>
    CallRegister,
    /// <summary>exit: return r0 to the caller.</summary>
    Exit,
    /// <summary>lddw: two slots, a 64-bit immediate or a pseudo reference (map, BTF id, function…).</summary>
    LoadImm64,
    /// <summary>dst = *(size *)(src + off); sign-extending when <see cref="DecodedInstruction.SignExtendBits"/> ≠ 0 (MEMSX).</summary>
    Load,
    /// <summary>*(size *)(dst + off) = src.</summary>
    Store,
    /// <summary>*(size *)(dst + off) = imm.</summary>
    StoreImm,
    /// <summary>Atomic read-modify-write on *(size *)(dst + off) with src (W and DW).</summary>
    Atomic,
    /// <summary>dst = load_acquire((size *)(src + off)) — BPF_ATOMIC with imm BPF_LOAD_ACQ (0x100).</summary>
    LoadAcquire,
    /// <summary>store_release((size *)(dst + off), src) — BPF_ATOMIC with imm BPF_STORE_REL (0x110).</summary>
    StoreRelease,
    /// <summary>Legacy packet loads LD_ABS/LD_IND (r0 = ntoh(*(size *)(skb->data + [src +] imm))).</summary>
    PacketLoad,
    /// <summary>An instruction the kernel's pre-pass lets through but whose fields do_check refuses when it reaches it
    /// (reserved fields, registers above r10): legal in code that never runs, never executed (<see cref="DecodedInstruction.Error"/> says why).</summary>
    Invalid,
}

/// <summary>The read-modify-write operation of a BPF_ATOMIC instruction.</summary>
public enum AtomicKind : byte
{
    /// <summary>BPF_ADD: <c>*addr += src</c>.</summary>
    Add,
    /// <summary>BPF_OR: <c>*addr |= src</c>.</summary>
    Or,
    /// <summary>BPF_AND: <c>*addr &amp;= src</c>.</summary>
    And,
    /// <summary>BPF_XOR: <c>*addr ^= src</c>.</summary>
    Xor,
    /// <summary>xchg: always fetches.</summary>
    Exchange,
    /// <summary>cmpxchg: compares with r0, always fetches into r0.</summary>
    CompareExchange,
}

/// <summary>Byte order of a <see cref="InstructionKind.ByteSwap"/>.</summary>
public enum ByteSwapKind : byte
{
    /// <summary>le16/32/64 (ALU END TO_LE): a truncation on a little-endian machine.</summary>
    ToLittleEndian,
    /// <summary>be16/32/64 (ALU END TO_BE): a byte swap on a little-endian machine.</summary>
    ToBigEndian,
    /// <summary>bswap16/32/64 (ALU64 END): unconditional swap (cpu v4).</summary>
    Unconditional,
}

/// <summary>Extra opcode fields the kernel defines beyond <see cref="Opcodes"/>.</summary>
public static class OpcodeExtras
{
    /// <summary>JMP opcode 0xe0: conditional pseudo-jumps (may_goto, src=0).</summary>
    public const byte JumpCond = 0xe0;
    /// <summary>may_goto: <c>BPF_JMP | BPF_JCOND</c> (0xe5).</summary>
    public const byte MayGoto = (byte)InstructionClass.Jmp | JumpCond; // 0xe5
    /// <summary>BPF_ATOMIC imm: load-acquire and store-release (kernel 6.15+).</summary>
    public const int LoadAcquire = 0x100;
    /// <summary>BPF_STORE_REL: store-release imm of BPF_ATOMIC (kernel 6.15+).</summary>
    public const int StoreRelease = 0x110;
    /// <summary>off of ALU64 MOV X that marks an arena address-space cast.</summary>
    public const short AddressSpaceCastOffset = 1;
}
