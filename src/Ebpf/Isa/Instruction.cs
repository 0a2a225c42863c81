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
    public const int Size = 8;

    private readonly byte _opcode;
    private readonly byte _registers;
    private readonly short _offset;
    private readonly int _imm;

    public Instruction(byte opcode, byte dst, byte src, short offset, int imm)
    {
        _opcode = opcode;
        _registers = (byte)((dst & 0x0f) | ((src & 0x0f) << 4));
        _offset = offset;
        _imm = imm;
    }

    public byte Opcode => _opcode;
    public byte Dst => (byte)(_registers & 0x0f);
    public byte Src => (byte)(_registers >> 4);
    /// <summary>The raw register byte (dst in the low nibble, src in the high nibble).</summary>
    public byte Registers => _registers;
    public short Offset => _offset;
    public int Imm => _imm;

    public InstructionClass Class => (InstructionClass)(_opcode & 0x07);
    public bool IsAlu => Class is InstructionClass.Alu or InstructionClass.Alu64;
    public bool IsJump => Class is InstructionClass.Jmp or InstructionClass.Jmp32;
    public bool IsLoadStore => Class is InstructionClass.Ld or InstructionClass.Ldx or InstructionClass.St or InstructionClass.Stx;
    public AluOperation AluOperation => (AluOperation)(_opcode & 0xf0);
    public JumpOperation JumpOperation => (JumpOperation)(_opcode & 0xf0);
    public OperandSource Source => (OperandSource)(_opcode & 0x08);
    public AccessSize AccessSize => (AccessSize)(_opcode & 0x18);
    public AccessMode AccessMode => (AccessMode)(_opcode & 0xe0);

    /// <summary>True for the first slot of a 64-bit immediate load, which is followed by a second slot.</summary>
    public bool IsLoadImm64 => _opcode == Opcodes.LoadImm64;
    public bool IsExit => _opcode == Opcodes.Exit;
    public bool IsCall => _opcode == Opcodes.Call;
    public bool IsHelperCall => IsCall && Src == (byte)CallSource.Helper;
    public bool IsLocalCall => IsCall && Src == (byte)CallSource.Local;
    public bool IsKfuncCall => IsCall && Src == (byte)CallSource.Kfunc;
    /// <summary>lddw r, func: loads the address of a subprogram (callback) relative to this instruction.</summary>
    public bool IsFunctionReference => IsLoadImm64 && Src == (byte)LoadImm64Source.Function;

    /// <summary>Reinterprets a 64-bit value in the kernel's little-endian encoding.</summary>
    public static Instruction FromRaw(ulong raw) =>
        new((byte)raw, (byte)((raw >> 8) & 0x0f), (byte)((raw >> 12) & 0x0f), (short)(raw >> 16), (int)(raw >> 32));

    /// <summary>The slot as the kernel stores it (little-endian u64).</summary>
    public ulong ToRaw() =>
        _opcode | ((ulong)_registers << 8) | ((ulong)(ushort)_offset << 16) | ((ulong)(uint)_imm << 32);

    public Instruction WithImm(int imm) => new(_opcode, Dst, Src, _offset, imm);
    public Instruction WithOffset(short offset) => new(_opcode, Dst, Src, offset, _imm);
    public Instruction WithSrc(byte src) => new(_opcode, Dst, src, _offset, _imm);
    public Instruction WithDst(byte dst) => new(_opcode, dst, Src, _offset, _imm);

    /// <summary>The full 64-bit immediate of an lddw from its two slots.</summary>
    public static long Imm64(Instruction first, Instruction second) => (long)(((ulong)(uint)second.Imm << 32) | (uint)first.Imm);

    public bool Equals(Instruction other) => ToRaw() == other.ToRaw();
    public override bool Equals(object? obj) => obj is Instruction other && Equals(other);
    public override int GetHashCode() => ToRaw().GetHashCode();
    public static bool operator ==(Instruction left, Instruction right) => left.Equals(right);
    public static bool operator !=(Instruction left, Instruction right) => !left.Equals(right);

    public override string ToString() =>
        $"{{code=0x{_opcode:x2} dst=r{Dst} src=r{Src} off={_offset} imm={_imm}}}";

    // ---- builders: the shapes most callers need (tests, the assembler, code generators) ----

    public static Instruction Alu64(AluOperation op, byte dst, int imm) =>
        new(Opcodes.Alu(InstructionClass.Alu64, op, OperandSource.Immediate), dst, 0, 0, imm);
    public static Instruction Alu64Reg(AluOperation op, byte dst, byte src) =>
        new(Opcodes.Alu(InstructionClass.Alu64, op, OperandSource.Register), dst, src, 0, 0);
    public static Instruction Alu32(AluOperation op, byte dst, int imm) =>
        new(Opcodes.Alu(InstructionClass.Alu, op, OperandSource.Immediate), dst, 0, 0, imm);
    public static Instruction Alu32Reg(AluOperation op, byte dst, byte src) =>
        new(Opcodes.Alu(InstructionClass.Alu, op, OperandSource.Register), dst, src, 0, 0);
    public static Instruction Mov64(byte dst, int imm) => Alu64(AluOperation.Mov, dst, imm);
    public static Instruction Mov64Reg(byte dst, byte src) => Alu64Reg(AluOperation.Mov, dst, src);
    public static Instruction Jump(JumpOperation op, byte dst, int imm, short offset) =>
        new(Opcodes.Jump(InstructionClass.Jmp, op, OperandSource.Immediate), dst, 0, offset, imm);
    public static Instruction JumpReg(JumpOperation op, byte dst, byte src, short offset) =>
        new(Opcodes.Jump(InstructionClass.Jmp, op, OperandSource.Register), dst, src, offset, 0);
    public static Instruction Ja(short offset) => new(Opcodes.Ja, 0, 0, offset, 0);
    public static Instruction CallHelper(int helperId) => new(Opcodes.Call, 0, (byte)CallSource.Helper, 0, helperId);
    public static Instruction CallLocal(int relativeOffset) => new(Opcodes.Call, 0, (byte)CallSource.Local, 0, relativeOffset);
    public static Instruction Exit() => new(Opcodes.Exit, 0, 0, 0, 0);
    public static Instruction LoadMem(AccessSize size, byte dst, byte src, short offset) =>
        new(Opcodes.Memory(InstructionClass.Ldx, AccessMode.Mem, size), dst, src, offset, 0);
    public static Instruction StoreMem(AccessSize size, byte dst, byte src, short offset) =>
        new(Opcodes.Memory(InstructionClass.Stx, AccessMode.Mem, size), dst, src, offset, 0);
    public static Instruction StoreImm(AccessSize size, byte dst, short offset, int imm) =>
        new(Opcodes.Memory(InstructionClass.St, AccessMode.Mem, size), dst, 0, offset, imm);

    /// <summary>lddw: two slots carrying a 64-bit value (or, with a pseudo source, a map/BTF/function reference).</summary>
    public static (Instruction First, Instruction Second) LoadImm64(byte dst, long value, LoadImm64Source source = LoadImm64Source.Imm64) =>
        (new Instruction(Opcodes.LoadImm64, dst, (byte)source, 0, (int)value),
         new Instruction(0, 0, 0, 0, (int)(value >> 32)));
}
