namespace Ebpf.Isa;

/// <summary>The three low bits of the opcode: which instruction family (RFC 9669 §3).</summary>
public enum InstructionClass : byte
{
    /// <summary><c>BPF_LD</c>: immediate loads (lddw) and legacy packet loads.</summary>
    Ld = 0x00,
    /// <summary><c>BPF_LDX</c>: loads from memory into a register.</summary>
    Ldx = 0x01,
    /// <summary><c>BPF_ST</c>: stores of an immediate.</summary>
    St = 0x02,
    /// <summary><c>BPF_STX</c>: stores of a register and atomics.</summary>
    Stx = 0x03,
    /// <summary><c>BPF_ALU</c>: 32-bit arithmetic.</summary>
    Alu = 0x04,
    /// <summary><c>BPF_JMP</c>: 64-bit compares, calls and exit.</summary>
    Jmp = 0x05,
    /// <summary><c>BPF_JMP32</c>: 32-bit compares (and gotol).</summary>
    Jmp32 = 0x06,
    /// <summary><c>BPF_ALU64</c>: 64-bit arithmetic.</summary>
    Alu64 = 0x07,
}

/// <summary>Bit 3 of ALU/JMP opcodes: immediate (K) or register (X) operand.</summary>
public enum OperandSource : byte
{
    /// <summary><c>BPF_K</c>: the operand is the immediate.</summary>
    Immediate = 0x00,
    /// <summary><c>BPF_X</c>: the operand is the source register.</summary>
    Register = 0x08,
}

/// <summary>The four high bits of an ALU/ALU64 opcode.</summary>
public enum AluOperation : byte
{
    /// <summary><c>BPF_ADD</c>.</summary>
    Add = 0x00,
    /// <summary><c>BPF_SUB</c>.</summary>
    Sub = 0x10,
    /// <summary><c>BPF_MUL</c>.</summary>
    Mul = 0x20,
    /// <summary><c>BPF_DIV</c> (signed when off is 1).</summary>
    Div = 0x30,
    /// <summary><c>BPF_OR</c>.</summary>
    Or = 0x40,
    /// <summary><c>BPF_AND</c>.</summary>
    And = 0x50,
    /// <summary><c>BPF_LSH</c>.</summary>
    Lsh = 0x60,
    /// <summary><c>BPF_RSH</c> (logical).</summary>
    Rsh = 0x70,
    /// <summary><c>BPF_NEG</c>.</summary>
    Neg = 0x80,
    /// <summary><c>BPF_MOD</c> (signed when off is 1).</summary>
    Mod = 0x90,
    /// <summary><c>BPF_XOR</c>.</summary>
    Xor = 0xa0,
    /// <summary><c>BPF_MOV</c> (sign-extending movsx when off is 8, 16 or 32).</summary>
    Mov = 0xb0,
    /// <summary><c>BPF_ARSH</c> (arithmetic right shift).</summary>
    Arsh = 0xc0,
    /// <summary><c>BPF_END</c>: byte swap.</summary>
    End = 0xd0,
}

/// <summary>The four high bits of a JMP/JMP32 opcode.</summary>
public enum JumpOperation : byte
{
    /// <summary><c>BPF_JA</c>: unconditional jump.</summary>
    Ja = 0x00,
    /// <summary><c>BPF_JEQ</c>: ==.</summary>
    Jeq = 0x10,
    /// <summary><c>BPF_JGT</c>: unsigned &gt;.</summary>
    Jgt = 0x20,
    /// <summary><c>BPF_JGE</c>: unsigned &gt;=.</summary>
    Jge = 0x30,
    /// <summary><c>BPF_JSET</c>: (dst &amp; operand) != 0.</summary>
    Jset = 0x40,
    /// <summary><c>BPF_JNE</c>: !=.</summary>
    Jne = 0x50,
    /// <summary><c>BPF_JSGT</c>: signed &gt;.</summary>
    Jsgt = 0x60,
    /// <summary><c>BPF_JSGE</c>: signed &gt;=.</summary>
    Jsge = 0x70,
    /// <summary><c>BPF_CALL</c>.</summary>
    Call = 0x80,
    /// <summary><c>BPF_EXIT</c>.</summary>
    Exit = 0x90,
    /// <summary><c>BPF_JLT</c>: unsigned &lt;.</summary>
    Jlt = 0xa0,
    /// <summary><c>BPF_JLE</c>: unsigned &lt;=.</summary>
    Jle = 0xb0,
    /// <summary><c>BPF_JSLT</c>: signed &lt;.</summary>
    Jslt = 0xc0,
    /// <summary><c>BPF_JSLE</c>: signed &lt;=.</summary>
    Jsle = 0xd0,
}

/// <summary>Bits 3-4 of a load/store opcode: access width.</summary>
public enum AccessSize : byte
{
    /// <summary><c>BPF_W</c>: 4 bytes.</summary>
    Word = 0x00,
    /// <summary><c>BPF_H</c>: 2 bytes.</summary>
    Half = 0x08,
    /// <summary><c>BPF_B</c>: 1 byte.</summary>
    Byte = 0x10,
    /// <summary><c>BPF_DW</c>: 8 bytes.</summary>
    DoubleWord = 0x18,
}

/// <summary>Bits 5-7 of a load/store opcode.</summary>
public enum AccessMode : byte
{
    /// <summary><c>BPF_IMM</c>: immediate (lddw).</summary>
    Imm = 0x00,
    /// <summary><c>BPF_ABS</c>: legacy packet load at an absolute offset.</summary>
    Abs = 0x20,
    /// <summary><c>BPF_IND</c>: legacy packet load at a register-relative offset.</summary>
    Ind = 0x40,
    /// <summary><c>BPF_MEM</c>: ordinary memory access.</summary>
    Mem = 0x60,
    /// <summary><c>BPF_MEMSX</c>: sign-extending load.</summary>
    MemSx = 0x80,
    /// <summary><c>BPF_ATOMIC</c>: atomic read-modify-write (imm says which).</summary>
    Atomic = 0xc0,
}

/// <summary>The imm field of an atomic instruction (BPF_ATOMIC).</summary>
public static class AtomicOperation
{
    /// <summary><c>BPF_ADD</c>.</summary>
    public const int Add = 0x00;
    /// <summary><c>BPF_OR</c>.</summary>
    public const int Or = 0x40;
    /// <summary><c>BPF_AND</c>.</summary>
    public const int And = 0x50;
    /// <summary><c>BPF_XOR</c>.</summary>
    public const int Xor = 0xa0;
    /// <summary>Flag: the old value is returned in the source register.</summary>
    public const int Fetch = 0x01;
    /// <summary><c>BPF_XCHG</c> (always fetches).</summary>
    public const int Xchg = 0xe0 | Fetch;
    /// <summary><c>BPF_CMPXCHG</c>: compares with r0 (always fetches into r0).</summary>
    public const int Cmpxchg = 0xf0 | Fetch;
}

/// <summary>The src field of a 64-bit immediate load (lddw): what the imm64 denotes.</summary>
public enum LoadImm64Source : byte
{
    /// <summary>A plain 64-bit constant (src 0).</summary>
    Imm64 = 0,
    /// <summary><c>BPF_PSEUDO_MAP_FD</c>: imm is a map fd; loads the map's address.</summary>
    MapFd = 1,
    /// <summary><c>BPF_PSEUDO_MAP_VALUE</c>: imm is a map fd, the next imm an offset into its value.</summary>
    MapValue = 2,
    /// <summary><c>BPF_PSEUDO_BTF_ID</c>: imm is the BTF id of a kernel variable (ksym).</summary>
    BtfId = 3,
    /// <summary><c>BPF_PSEUDO_FUNC</c>: imm is the pc-relative offset of a subprogram.</summary>
    Function = 4,
    /// <summary><c>BPF_PSEUDO_MAP_IDX</c>: imm indexes the fd_array given at load.</summary>
    MapIndex = 5,
    /// <summary><c>BPF_PSEUDO_MAP_IDX_VALUE</c>: like MapIndex, plus a value offset.</summary>
    MapIndexValue = 6,
}

/// <summary>The src field of a call instruction.</summary>
public enum CallSource : byte
{
    /// <summary>A helper call, imm is the helper id.</summary>
    Helper = 0,
    /// <summary>bpf-to-bpf call, imm is the pc-relative offset of the callee.</summary>
    Local = 1,
    /// <summary>Kernel function, imm is a BTF id.</summary>
    Kfunc = 2,
}

/// <summary>Full 8-bit opcodes that are used by name throughout the code base.</summary>
public static class Opcodes
{
    /// <summary>lddw (0x18).</summary>
    public const byte LoadImm64 = (byte)InstructionClass.Ld | (byte)AccessSize.DoubleWord | (byte)AccessMode.Imm; // 0x18
    /// <summary>call (0x85).</summary>
    public const byte Call = (byte)InstructionClass.Jmp | (byte)JumpOperation.Call; // 0x85
    /// <summary>callx (0x8d): call through a register (a ubpf extension Linux rejects).</summary>
    public const byte Callx = (byte)InstructionClass.Jmp | (byte)JumpOperation.Call | (byte)OperandSource.Register; // 0x8d
    /// <summary>exit (0x95).</summary>
    public const byte Exit = (byte)InstructionClass.Jmp | (byte)JumpOperation.Exit; // 0x95
    /// <summary>ja (0x05).</summary>
    public const byte Ja = (byte)InstructionClass.Jmp | (byte)JumpOperation.Ja; // 0x05
    /// <summary>gotol (0x06): JMP32 ja with a 32-bit offset in imm.</summary>
    public const byte Ja32 = (byte)InstructionClass.Jmp32 | (byte)JumpOperation.Ja; // 0x06, gotol

    /// <summary>The opcode of an arithmetic instruction.</summary>
    public static byte Alu(InstructionClass cls, AluOperation op, OperandSource src) => (byte)((byte)cls | (byte)op | (byte)src);
    /// <summary>The opcode of a jump instruction.</summary>
    public static byte Jump(InstructionClass cls, JumpOperation op, OperandSource src) => (byte)((byte)cls | (byte)op | (byte)src);
    /// <summary>The opcode of a load or store.</summary>
    public static byte Memory(InstructionClass cls, AccessMode mode, AccessSize size) => (byte)((byte)cls | (byte)mode | (byte)size);

    /// <summary>Bytes moved by an access of <paramref name="size"/>.</summary>
    public static int SizeInBytes(AccessSize size) => size switch
    {
        AccessSize.Byte => 1,
        AccessSize.Half => 2,
        AccessSize.Word => 4,
        _ => 8,
    };
}
