using System.Runtime.InteropServices;

namespace Ebpf.Execution;

/// <summary>
/// One pre-decoded slot (16 bytes). Index i of the decoded array is slot i of the original program, so
/// error messages and function references use the kernel's instruction numbering.
/// </summary>
[StructLayout(LayoutKind.Sequential, Size = 16)]
internal struct DecodedInstruction
{
    public Operation Op;
    public byte Dst;
    public byte Src;
    private readonly byte _reserved;
    /// <summary>Memory offset, or absolute jump/call target index.</summary>
    public int Offset;
    /// <summary>Immediate, sign-extended to 64 bits (lddw: the full value; 32-bit ALU: already truncated).</summary>
    public long Imm;

    public DecodedInstruction(Operation op, byte dst, byte src, int offset, long imm)
    {
        Op = op;
        Dst = dst;
        Src = src;
        _reserved = 0;
        Offset = offset;
        Imm = imm;
    }
}
