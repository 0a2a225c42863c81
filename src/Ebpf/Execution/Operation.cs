namespace Ebpf.Execution;

/// <summary>
/// Dense operation codes of the pre-decoded program: one value per distinct behaviour, so the hot
/// loop is a single jump-table switch with no further decoding (K = immediate operand, X = register).
/// </summary>
internal enum Operation : byte
{
    // ALU64
    Add64K, Add64X, Sub64K, Sub64X, Mul64K, Mul64X, Div64K, Div64X, SDiv64K, SDiv64X,
    Or64K, Or64X, And64K, And64X, Lsh64K, Lsh64X, Rsh64K, Rsh64X, Neg64, Mod64K, Mod64X, SMod64K, SMod64X,
    Xor64K, Xor64X, Mov64K, Mov64X, MovSx64B, MovSx64H, MovSx64W, Arsh64K, Arsh64X,
    // ALU32 (results zero-extended)
    Add32K, Add32X, Sub32K, Sub32X, Mul32K, Mul32X, Div32K, Div32X, SDiv32K, SDiv32X,
    Or32K, Or32X, And32K, And32X, Lsh32K, Lsh32X, Rsh32K, Rsh32X, Neg32, Mod32K, Mod32X, SMod32K, SMod32X,
    Xor32K, Xor32X, Mov32K, Mov32X, MovSx32B, MovSx32H, Arsh32K, Arsh32X,
    // byte order
    Le16, Le32, Le64, Be16, Be32, Be64, Bswap16, Bswap32, Bswap64,
    // jumps: Offset holds the absolute target index
    Ja,
    Jeq64K, Jeq64X, Jgt64K, Jgt64X, Jge64K, Jge64X, Jset64K, Jset64X, Jne64K, Jne64X,
    Jsgt64K, Jsgt64X, Jsge64K, Jsge64X, Jlt64K, Jlt64X, Jle64K, Jle64X, Jslt64K, Jslt64X, Jsle64K, Jsle64X,
    Jeq32K, Jeq32X, Jgt32K, Jgt32X, Jge32K, Jge32X, Jset32K, Jset32X, Jne32K, Jne32X,
    Jsgt32K, Jsgt32X, Jsge32K, Jsge32X, Jlt32K, Jlt32X, Jle32K, Jle32X, Jslt32K, Jslt32X, Jsle32K, Jsle32X,
    // may_goto: Offset holds the absolute target, taken when this frame's loop budget is spent
    MayGoto,
    // calls
    CallHelper, CallLocal, CallRegister, Exit,
    // lddw (Imm holds the full 64-bit value; function references are resolved to code addresses)
    LoadImm64, LoadFunctionReference,
    // memory
    LdxB, LdxH, LdxW, LdxDW, LdxSxB, LdxSxH, LdxSxW,
    StB, StH, StW, StDW, StxB, StxH, StxW, StxDW,
    AtomicAdd32, AtomicOr32, AtomicAnd32, AtomicXor32, AtomicFetchAdd32, AtomicFetchOr32, AtomicFetchAnd32, AtomicFetchXor32, Xchg32, Cmpxchg32,
    AtomicAdd64, AtomicOr64, AtomicAnd64, AtomicXor64, AtomicFetchAdd64, AtomicFetchOr64, AtomicFetchAnd64, AtomicFetchXor64, Xchg64, Cmpxchg64,
    // load-acquire (rD = *(rS + off)) and store-release (*(rD + off) = rS)
    LoadAcquireB, LoadAcquireH, LoadAcquireW, LoadAcquireDW, StoreReleaseB, StoreReleaseH, StoreReleaseW, StoreReleaseDW,
    // legacy packet access (needs an skb hook)
    LdAbsB, LdAbsH, LdAbsW, LdIndB, LdIndH, LdIndW,
    // superinstructions (unchecked mode only, see ProgramFuser): rD = rS + rS2, and that followed by a load through rD
    Add3, LoadIndexedB, LoadIndexedH, LoadIndexedW, LoadIndexedDW,
    // a move/add followed by ja: Offset holds the ja's target
    Mov64XJa, Mov64KJa, Add64KJa, Add64XJa,
    // two consecutive add-immediates (loop counters): Dst += JumpImm, Src += NotTaken
    Add64KK,
    // ldxdw rD followed by a 64-bit register compare of rD: load, then branch (JumpImm = load offset,
    // Src2 = the compared register, Offset/NotTaken = targets). Sorting, searching and scanning loops.
    LoadDWJeqX, LoadDWJneX, LoadDWJgtX, LoadDWJgeX, LoadDWJltX, LoadDWJleX, LoadDWJsgtX, LoadDWJsgeX, LoadDWJsltX, LoadDWJsleX,
    // mov rD, rS followed by a 64-bit register compare (JumpDst/JumpSrc = the compared registers)
    MovJeqX, MovJneX, MovJgtX, MovJgeX, MovJltX, MovJleX, MovJsgtX, MovJsgeX, MovJsltX, MovJsleX,
    // two consecutive stxdw (swaps, struct copies): the second's base in Src2, offset in JumpImm, value register in NotTaken
    StxDW2,
    // the second slot of an lddw (never reached: jumps into it are rejected) and the sentinel after the last slot
    LoadImm64Tail, FellOffEnd,
    // an instruction the kernel refuses only when verification reaches it (reserved fields): loads, traps if run
    Invalid,
    // BPF_PROBE_MEM: a load through a typed kernel pointer, read fault-safely (Imm = size | 0x100 when sign-extending)
    ProbeLoad,
}
