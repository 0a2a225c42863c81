using System.Buffers.Binary;
using System.Runtime.InteropServices;

namespace Ebpf.Isa;

/// <summary>
/// One 8-byte BPF instruction slot, laid out exactly as the kernel's <c>struct bpf_insn</c>
/// (opcode, dst:4/src:4, s16 offset, s32 imm). A 64-bit immediate load (lddw) occupies two slots;
/// its second slot is an ordinary <see cref="Instruction"/> whose <see cref="Imm"/> holds the high half.
/// The struct is blittable, so a program's bytes can be viewed as <c>Span&lt;Instruction&gt;</c> directly.
/// </summary>
[StructLayout(LayoutKind.Sequential, Pack = 1, Size = 8)]
public readonly struct Instruction : IEquatable<Instruction>
{
    /// <summary>Bytes in one instruction slot.</summary>
    public const int Size = 8;

    private readonly byte _opcode;
    private readonly byte _registers;
    private readonly short _offset;
    private readonly int _imm;

    /// <summary>
    /// One slot from its fields; <paramref name="dst"/> and <paramref name="src"/> are 4-bit register numbers.
    /// </summary>
    public Instruction(byte opcode, byte dst, byte src, short offset, int imm)
    {
        _opcode = opcode;
        _registers = (byte)((dst & 0x0f) | ((src & 0x0f) << 4));
        _offset = offset;
        _imm = imm;
    }

    /// <summary>The 8-bit opcode: class, operation and source/size/mode bits.</summary>
    public byte Opcode => _opcode;
    /// <summary>Destination register (low nibble of the register byte).</summary>
    public byte Dst => (byte)(_registers & 0x0f);
    /// <summary>Source register (high nibble of the register byte).</summary>
    public byte Src => (byte)(_registers >> 4);
    /// <summary>The raw register byte (dst in the low nibble, src in the high nibble).</summary>
    public byte Registers => _registers;
    /// <summary>Signed 16-bit offset: jump distance or memory displacement.</summary>
    public short Offset => _offset;
    /// <summary>Signed 32-bit immediate.</summary>
    public int Imm => _imm;

    /// <summary>The opcode's class (low three bits).</summary>
    public InstructionClass Class => (InstructionClass)(_opcode & 0x07);
    /// <summary>ALU or ALU64.</summary>
    public bool IsAlu => Class is InstructionClass.Alu or InstructionClass.Alu64;
    /// <summary>JMP or JMP32.</summary>
    public bool IsJump => Class is InstructionClass.Jmp or InstructionClass.Jmp32;
    /// <summary>LD, LDX, ST or STX.</summary>
    public bool IsLoadStore => Class is InstructionClass.Ld or InstructionClass.Ldx or InstructionClass.St or InstructionClass.Stx;
    /// <summary>The ALU operation bits (meaningful for ALU classes).</summary>
    public AluOperation AluOperation => (AluOperation)(_opcode & 0xf0);
    /// <summary>The jump operation bits (meaningful for JMP classes).</summary>
    public JumpOperation JumpOperation => (JumpOperation)(_opcode & 0xf0);
    /// <summary>Whether an ALU/JMP operand is <c>imm</c> (K) or <c>src</c> (X).</summary>
    public OperandSource Source => (OperandSource)(_opcode & 0x08);
    /// <summary>The access width bits (meaningful for load/store classes).</summary>
    public AccessSize AccessSize => (AccessSize)(_opcode & 0x18);
    /// <summary>The addressing mode bits (meaningful for load/store classes).</summary>
    public AccessMode AccessMode => (AccessMode)(_opcode & 0xe0);

    /// <summary>True for the first slot of a 64-bit immediate load, which is followed by a second slot.</summary>
    public bool IsLoadImm64 => _opcode == Opcodes.LoadImm64;
    /// <summary><c>exit</c>.</summary>
    public bool IsExit => _opcode == Opcodes.Exit;
    /// <summary>Any <c>call</c> (helper, local or kfunc).</summary>
    public bool IsCall => _opcode == Opcodes.Call;
    /// <summary>A helper call (src 0).</summary>
    public bool IsHelperCall => IsCall && Src == (byte)CallSource.Helper;
    /// <summary>A bpf-to-bpf call (src 1).</summary>
    public bool IsLocalCall => IsCall && Src == (byte)CallSource.Local;
    /// <summary>A kfunc call (src 2).</summary>
    public bool IsKfuncCall => IsCall && Src == (byte)CallSource.Kfunc;
    /// <summary>lddw r, func: loads the address of a subprogram (callback) relative to this instruction.</summary>
    public bool IsFunctionReference => IsLoadImm64 && Src == (byte)LoadImm64Source.Function;

    /// <summary>Reinterprets a 64-bit value in the kernel's little-endian encoding.</summary>
    public static Instruction FromRaw(ulong raw) =>
        new((byte)raw, (byte)((raw >> 8) & 0x0f), (byte)((raw >> 12) & 0x0f), (short)(raw >> 16), (int)(raw >> 32));

    /// <summary>The slot as the kernel stores it (little-endian u64).</summary>
    public ulong ToRaw() =>
        _opcode | ((ulong)_registers << 8) | ((ulong)(ushort)_offset << 16) | ((ulong)(uint)_imm << 32);

    /// <summary>A copy with the immediate replaced (relocations patch it).</summary>
    public Instruction WithImm(int imm) => new(_opcode, Dst, Src, _offset, imm);
    /// <summary>A copy with the offset replaced.</summary>
    public Instruction WithOffset(short offset) => new(_opcode, Dst, Src, offset, _imm);
    /// <summary>A copy with the source register replaced.</summary>
    public Instruction WithSrc(byte src) => new(_opcode, Dst, src, _offset, _imm);
    /// <summary>A copy with the destination register replaced.</summary>
    public Instruction WithDst(byte dst) => new(_opcode, dst, Src, _offset, _imm);

    /// <summary>The full 64-bit immediate of an lddw from its two slots.</summary>
    public static long Imm64(Instruction first, Instruction second) => (long)(((ulong)(uint)second.Imm << 32) | (uint)first.Imm);

    /// <summary>Slot-for-slot equality (all 64 bits).</summary>
    public bool Equals(Instruction other) => ToRaw() == other.ToRaw();
    /// <summary>Slot-for-slot equality with a boxed instruction.</summary>
    public override bool Equals(object? obj) => obj is Instruction other && Equals(other);
    /// <summary>Hash of the raw 64-bit slot.</summary>
    public override int GetHashCode() => ToRaw().GetHashCode();
    /// <summary>Slot-for-slot equality.</summary>
    public static bool operator ==(Instruction left, Instruction right) => left.Equals(right);
    /// <summary>Slot-for-slot inequality.</summary>
    public static bool operator !=(Instruction left, Instruction right) => !left.Equals(right);

    /// <summary>The raw fields in hex, for diagnostics (use a disassembler for mnemonics).</summary>
    public override string ToString() =>
        $"{{code=0x{_opcode:x2} dst=r{Dst} src=r{Src} off={_offset} imm={_imm}}}";

    // ---- builders: the shapes most callers need (tests, the assembler, code generators) ----

    /// <summary><c>dst op= imm</c> on 64 bits (BPF_ALU64 | BPF_K).</summary>
    public static Instruction Alu64(AluOperation op, byte dst, int imm) =>
        new(Opcodes.Alu(InstructionClass.Alu64, op, OperandSource.Immediate), dst, 0, 0, imm);
    /// <summary><c>dst op= src</c> on 64 bits (BPF_ALU64 | BPF_X).</summary>
    public static Instruction Alu64Reg(AluOperation op, byte dst, byte src) =>
        new(Opcodes.Alu(InstructionClass.Alu64, op, OperandSource.Register), dst, src, 0, 0);
    /// <summary><c>w_dst op= imm</c> on 32 bits (BPF_ALU | BPF_K).</summary>
    public static Instruction Alu32(AluOperation op, byte dst, int imm) =>
        new(Opcodes.Alu(InstructionClass.Alu, op, OperandSource.Immediate), dst, 0, 0, imm);
    /// <summary><c>w_dst op= w_src</c> on 32 bits (BPF_ALU | BPF_X).</summary>
    public static Instruction Alu32Reg(AluOperation op, byte dst, byte src) =>
        new(Opcodes.Alu(InstructionClass.Alu, op, OperandSource.Register), dst, src, 0, 0);
    /// <summary><c>dst = imm</c> (sign-extended to 64 bits).</summary>
    public static Instruction Mov64(byte dst, int imm) => Alu64(AluOperation.Mov, dst, imm);
    /// <summary><c>dst = src</c>.</summary>
    public static Instruction Mov64Reg(byte dst, byte src) => Alu64Reg(AluOperation.Mov, dst, src);
    /// <summary><c>if dst op imm goto +offset</c> (64-bit compare).</summary>
    public static Instruction Jump(JumpOperation op, byte dst, int imm, short offset) =>
        new(Opcodes.Jump(InstructionClass.Jmp, op, OperandSource.Immediate), dst, 0, offset, imm);
    /// <summary><c>if dst op src goto +offset</c> (64-bit compare).</summary>
    public static Instruction JumpReg(JumpOperation op, byte dst, byte src, short offset) =>
        new(Opcodes.Jump(InstructionClass.Jmp, op, OperandSource.Register), dst, src, offset, 0);
    /// <summary><c>goto +offset</c>.</summary>
    public static Instruction Ja(short offset) => new(Opcodes.Ja, 0, 0, offset, 0);
    /// <summary><c>call helperId</c>: a helper call.</summary>
    public static Instruction CallHelper(int helperId) => new(Opcodes.Call, 0, (byte)CallSource.Helper, 0, helperId);
    /// <summary><c>call pc+relativeOffset</c>: a bpf-to-bpf call, relative to the next slot.</summary>
    public static Instruction CallLocal(int relativeOffset) => new(Opcodes.Call, 0, (byte)CallSource.Local, 0, relativeOffset);
    /// <summary><c>exit</c>: return r0.</summary>
    public static Instruction Exit() => new(Opcodes.Exit, 0, 0, 0, 0);
    /// <summary><c>dst = *(size *)(src + offset)</c>.</summary>
    public static Instruction LoadMem(AccessSize size, byte dst, byte src, short offset) =>
        new(Opcodes.Memory(InstructionClass.Ldx, AccessMode.Mem, size), dst, src, offset, 0);
    /// <summary><c>*(size *)(dst + offset) = src</c>.</summary>
    public static Instruction StoreMem(AccessSize size, byte dst, byte src, short offset) =>
        new(Opcodes.Memory(InstructionClass.Stx, AccessMode.Mem, size), dst, src, offset, 0);
    /// <summary><c>*(size *)(dst + offset) = imm</c>.</summary>
    public static Instruction StoreImm(AccessSize size, byte dst, short offset, int imm) =>
        new(Opcodes.Memory(InstructionClass.St, AccessMode.Mem, size), dst, 0, offset, imm);

    /// <summary>lddw: two slots carrying a 64-bit value (or, with a pseudo source, a map/BTF/function reference).</summary>
    public static (Instruction First, Instruction Second) LoadImm64(byte dst, long value, LoadImm64Source source = LoadImm64Source.Imm64) =>
        (new Instruction(Opcodes.LoadImm64, dst, (byte)source, 0, (int)value),
         new Instruction(0, 0, 0, 0, (int)(value >> 32)));
}
