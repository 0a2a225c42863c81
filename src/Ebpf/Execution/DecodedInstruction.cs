using System.Runtime.InteropServices;

namespace Ebpf.Execution;

/// <summary>
/// One pre-decoded slot (16 bytes). Index i of the decoded array is slot i of the original program, so
/// error messages and function references use the kernel's instruction numbering.
/// Conditional jumps use the immediate as two ints: the 32-bit comparand and the not-taken target
/// (normally i+1; a following <c>ja</c> is folded into it in unchecked mode).
/// </summary>
[StructLayout(LayoutKind.Explicit, Size = 16)]
internal struct DecodedInstruction
{
    [FieldOffset(0)] public Operation Op;
    [FieldOffset(1)] public byte Dst;
    [FieldOffset(2)] public byte Src;
    /// <summary>A third register for fused operations (rDst = rSrc + rSrc2).</summary>
    [FieldOffset(3)] public byte Src2;
    /// <summary>Memory offset, or absolute jump/call target index.</summary>
    [FieldOffset(4)] public int Offset;
    /// <summary>Immediate, sign-extended to 64 bits (lddw: the full value).</summary>
    [FieldOffset(8)] public long Imm;
    /// <summary>Conditional jumps: the 32-bit immediate comparand (sign-extended when compared with 64 bits).</summary>
    [FieldOffset(8)] public int JumpImm;
    /// <summary>Conditional jumps: the index executed when the condition is false.</summary>
    [FieldOffset(12)] public int NotTaken;
    /// <summary>Fused move + compare: the compared registers (overlay the low bytes of <see cref="JumpImm"/>).</summary>
    [FieldOffset(8)] public byte JumpDst;
    [FieldOffset(9)] public byte JumpSrc;

    /// <summary><see cref="Src"/> of a <see cref="Operation.LoadImm64"/> whose value is a map pointer the loader resolved (see <see cref="InterpreterOptions.MapPointerLoads"/>).</summary>
    public const byte MapPointerSource = 1;

    public DecodedInstruction(Operation op, byte dst, byte src, int offset, long imm)
    {
        this = default;
        Op = op;
        Dst = dst;
        Src = src;
        Offset = offset;
        Imm = imm;
    }

    public static DecodedInstruction Jump(Operation op, byte dst, byte src, int taken, int imm, int notTaken)
    {
        var result = new DecodedInstruction { Op = op, Dst = dst, Src = src, Offset = taken };
        result.JumpImm = imm;
        result.NotTaken = notTaken;
        return result;
    }

    public readonly bool IsConditionalJump => Op is >= Operation.Jeq64K and <= Operation.Jsle32X;
}
