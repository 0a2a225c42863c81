namespace Ebpf.Isa;

/// <summary>The three low bits of the opcode: which instruction family (RFC 9669 §3).</summary>
public enum InstructionClass : byte
{
    Ld = 0x00,
    Ldx = 0x01,
    St = 0x02,
    Stx = 0x03,
    Alu = 0x04,
    Jmp = 0x05,
    Jmp32 = 0x06,
    Alu64 = 0x07,
}

/// <summary>Bit 3 of ALU/JMP opcodes: immediate (K) or register (X) operand.</summary>
public enum OperandSource : byte
{
    Immediate = 0x00,
    Register = 0x08,
}

/// <summary>The four high bits of an ALU/ALU64 opcode.</summary>
public enum AluOperation : byte
{
    Add = 0x00,
    Sub = 0x10,
    Mul = 0x20,
    Div = 0x30,
    Or = 0x40,
    And = 0x50,
    Lsh = 0x60,
    Rsh = 0x70,
    Neg = 0x80,
    Mod = 0x90,
    Xor = 0xa0,
    Mov = 0xb0,
    Arsh = 0xc0,
    End = 0xd0,
}

/// <summary>The four high bits of a JMP/JMP32 opcode.</summary>
public enum JumpOperation : byte
{
    Ja = 0x00,
    Jeq = 0x10,
    Jgt = 0x20,
    Jge = 0x30,
    Jset = 0x40,
    Jne = 0x50,
    Jsgt = 0x60,
    Jsge = 0x70,
    Call = 0x80,
    Exit = 0x90,
    Jlt = 0xa0,
    Jle = 0xb0,
    Jslt = 0xc0,
    Jsle = 0xd0,
}

/// <summary>Bits 3-4 of a load/store opcode: access width.</summary>
public enum AccessSize : byte
{
    Word = 0x00,
    Half = 0x08,
    Byte = 0x10,
    DoubleWord = 0x18,
}

/// <summary>Bits 5-7 of a load/store opcode.</summary>
public enum AccessMode : byte
{
    Imm = 0x00,
    Abs = 0x20,
    Ind = 0x40,
    Mem = 0x60,
    MemSx = 0x80,
    Atomic = 0xc0,
}

/// <summary>The imm field of an atomic instruction (BPF_ATOMIC).</summary>
public static class AtomicOperation
{
    public const int Add = 0x00;
    public const int Or = 0x40;
    public const int And = 0x50;
    public const int Xor = 0xa0;
    /// <summary>Flag: the old value is returned in the source register.</summary>
    public const int Fetch = 0x01;
    public const int Xchg = 0xe0 | Fetch;
    public const int Cmpxchg = 0xf0 | Fetch;
}

/// <summary>The src field of a 64-bit immediate load (lddw): what the imm64 denotes.</summary>
public enum LoadImm64Source : byte
{
    Imm64 = 0,
    MapFd = 1,
    MapValue = 2,
    BtfId = 3,
    Function = 4,
    MapIndex = 5,
    MapIndexValue = 6,
}

/// <summary>The src field of a call instruction.</summary>
public enum CallSource : byte
{
    Helper = 0,
    /// <summary>bpf-to-bpf call, imm is the pc-relative offset of the callee.</summary>
    Local = 1,
    /// <summary>Kernel function, imm is a BTF id.</summary>
    Kfunc = 2,
}

/// <summary>Full 8-bit opcodes that are used by name throughout the code base.</summary>
public static class Opcodes
{
    public const byte LoadImm64 = (byte)InstructionClass.Ld | (byte)AccessSize.DoubleWord | (byte)AccessMode.Imm; // 0x18
    public const byte Call = (byte)InstructionClass.Jmp | (byte)JumpOperation.Call; // 0x85
    public const byte Callx = (byte)InstructionClass.Jmp | (byte)JumpOperation.Call | (byte)OperandSource.Register; // 0x8d
    public const byte Exit = (byte)InstructionClass.Jmp | (byte)JumpOperation.Exit; // 0x95
    public const byte Ja = (byte)InstructionClass.Jmp | (byte)JumpOperation.Ja; // 0x05
    public const byte Ja32 = (byte)InstructionClass.Jmp32 | (byte)JumpOperation.Ja; // 0x06, gotol

    public static byte Alu(InstructionClass cls, AluOperation op, OperandSource src) => (byte)((byte)cls | (byte)op | (byte)src);
    public static byte Jump(InstructionClass cls, JumpOperation op, OperandSource src) => (byte)((byte)cls | (byte)op | (byte)src);
    public static byte Memory(InstructionClass cls, AccessMode mode, AccessSize size) => (byte)((byte)cls | (byte)mode | (byte)size);

    public static int SizeInBytes(AccessSize size) => size switch
    {
        AccessSize.Byte => 1,
        AccessSize.Half => 2,
        AccessSize.Word => 4,
        _ => 8,
    };
}
