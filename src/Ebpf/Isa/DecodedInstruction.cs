namespace Ebpf.Isa;

/// <summary>
/// The semantic form of one instruction (one slot, or two for lddw) as <see cref="InstructionDecoder"/> produces it
/// and <see cref="InstructionEncoder"/> consumes it. Only the fields meaningful for <see cref="Kind"/> are set; the
/// others are zero. Because the decoder only accepts instructions whose reserved fields are zero
/// (as the kernel does), decode→encode reproduces every slot bit for bit.
/// </summary>
public readonly record struct DecodedInstruction
{
    /// <summary>Slot index of the (first) slot in its program.</summary>
    public int Index { get; init; }
    /// <summary>What the instruction does; selects which of the other fields are meaningful.</summary>
    public InstructionKind Kind { get; init; }
    /// <summary>The opcode class: selects 32/64-bit width for ALU and JMP, gotol vs ja, le/be vs bswap.</summary>
    public InstructionClass Class { get; init; }
    /// <summary>Destination register number (0..10).</summary>
    public byte Dst { get; init; }
    /// <summary>Source register number (0..10), or the pseudo source of lddw and call.</summary>
    public byte Src { get; init; }
    /// <summary>The 16-bit offset: jump distance in slots, memory displacement, or the signed-division flag.</summary>
    public short Offset { get; init; }
    /// <summary>The 32-bit immediate (low half for lddw).</summary>
    public int Imm { get; init; }

    /// <summary>ALU operation (<see cref="InstructionKind.Alu"/>).</summary>
    public AluOperation AluOperation { get; init; }
    /// <summary>sdiv/smod (ALU DIV/MOD with off=1).</summary>
    public bool Signed { get; init; }
    /// <summary>Jump condition (<see cref="InstructionKind.ConditionalJump"/>).</summary>
    public JumpOperation Condition { get; init; }
    /// <summary>Immediate or register second operand (ALU and conditional jumps).</summary>
    public OperandSource Source { get; init; }
    /// <summary>Access width of loads, stores, atomics and packet loads.</summary>
    public AccessSize Size { get; init; }
    /// <summary>movsx source width (8/16/32) or, for sign-extending loads, the loaded width; 0 otherwise.</summary>
    public int SignExtendBits { get; init; }
    /// <summary>The read-modify-write operation of an atomic instruction.</summary>
    public AtomicKind Atomic { get; init; }
    /// <summary>The atomic returns the old value in src (always true for xchg/cmpxchg).</summary>
    public bool Fetch { get; init; }
    /// <summary>Byte order of a byte swap.</summary>
    public ByteSwapKind ByteSwap { get; init; }
    /// <summary>Byte-swap width: 16, 32 or 64.</summary>
    public int SwapBits { get; init; }
    /// <summary>Abs or Ind for <see cref="InstructionKind.PacketLoad"/>.</summary>
    public AccessMode PacketMode { get; init; }
    /// <summary>The 64-bit value of an lddw (low half from the first slot, high half from the second).</summary>
    public long Imm64 { get; init; }
    /// <summary>
    /// What the 64-bit immediate of an lddw denotes (plain value, map fd, map value, BTF id, function).
    /// </summary>
    public LoadImm64Source PseudoSource { get; init; }
    /// <summary>Whom a call targets (helper, bpf-to-bpf function, kfunc).</summary>
    public CallSource CallSource { get; init; }

    /// <summary>Slots the instruction occupies: 2 for lddw, 1 otherwise.</summary>
    public int SlotCount => Kind == InstructionKind.LoadImm64 || (Kind == InstructionKind.Invalid && Wide) ? 2 : 1;

    /// <summary>For <see cref="InstructionKind.Invalid"/>: the kernel's message when do_check reaches the instruction.</summary>
    public string? Error { get; init; }

    /// <summary>For <see cref="InstructionKind.Invalid"/>: an lddw pair (the pre-pass checked its shape), two slots.</summary>
    public bool Wide { get; init; }

    /// <summary>True for 64-bit ALU (ALU64) and 64-bit compares (JMP).</summary>
    public bool Is64 => Class is InstructionClass.Alu64 or InstructionClass.Jmp;

    /// <summary>gotol: the JMP32 form of ja, whose displacement is imm (32 bits) instead of off.</summary>
    public bool IsLongJump => Kind == InstructionKind.Jump && Class == InstructionClass.Jmp32;

    /// <summary>A bpf-to-bpf call (<c>call pc+imm</c>).</summary>
    public bool IsLocalCall => Kind == InstructionKind.Call && CallSource == CallSource.Local;
    /// <summary>A helper call (<c>call imm</c>, imm = helper id).</summary>
    public bool IsHelperCall => Kind == InstructionKind.Call && CallSource == CallSource.Helper;
    /// <summary>A kfunc call (imm = BTF id of the kernel function).</summary>
    public bool IsKfuncCall => Kind == InstructionKind.Call && CallSource == CallSource.Kfunc;
    /// <summary>An lddw that loads the address of a subprogram (BPF_PSEUDO_FUNC, for callbacks).</summary>
    public bool IsFunctionReference => Kind == InstructionKind.LoadImm64 && PseudoSource == LoadImm64Source.Function;

    /// <summary>Load size in bytes (1, 2, 4 or 8).</summary>
    public int SizeInBytes => Opcodes.SizeInBytes(Size);

    /// <summary>
    /// Slot index a jump, may_goto, local call or function reference goes to (index + displacement + 1),
    /// or null for everything else.
    /// </summary>
    public long? Target => Kind switch
    {
        InstructionKind.Jump => Index + (long)(IsLongJump ? Imm : Offset) + 1,
        InstructionKind.ConditionalJump or InstructionKind.MayGoto => Index + (long)Offset + 1,
        InstructionKind.Call when CallSource == CallSource.Local => Index + (long)Imm + 1,
        InstructionKind.LoadImm64 when PseudoSource == LoadImm64Source.Function => Index + (long)Imm + 1,
        _ => null,
    };

    /// <summary>The instruction in the bpf_conformance dialect, e.g. <c>lock fetch add32 [%r1+4], %r2</c>.</summary>
    public override string ToString() => ConformanceDisassembler.Format(this);

    /// <summary>True for kinds that can transfer control to <see cref="Target"/> within the same function.</summary>
    public bool IsBranch => Kind is InstructionKind.Jump or InstructionKind.ConditionalJump or InstructionKind.MayGoto;
}
