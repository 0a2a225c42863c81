using System.Buffers.Binary;
using System.Runtime.InteropServices;

namespace Ebpf.Isa;

/// <summary>Converts between bytes (as found in an ELF section or a .bin file) and instruction slots.</summary>
public static class InstructionStream
{
    /// <summary>
    /// Reads little-endian instruction slots. A length that is not a multiple of 8 is an error naming
    /// the trailing byte offset; the content is not validated here (the structural checks run before execution do that).
    /// </summary>
    public static Instruction[] Read(ReadOnlySpan<byte> bytes, string what = "program")
    {
        if (bytes.Length % Instruction.Size != 0)
            throw new BpfException(Errno.EINVAL,
                $"{what}: truncated instruction stream: {bytes.Length} bytes is not a multiple of 8 (last instruction {bytes.Length / Instruction.Size} has {bytes.Length % Instruction.Size} bytes)");
        var result = new Instruction[bytes.Length / Instruction.Size];
        if (BitConverter.IsLittleEndian)
        {
            bytes.CopyTo(MemoryMarshal.AsBytes(result.AsSpan()));
        }
        else
        {
            for (int i = 0; i < result.Length; i++)
                result[i] = Instruction.FromRaw(BinaryPrimitives.ReadUInt64LittleEndian(bytes[(i * 8)..]));
        }
        return result;
    }

    /// <summary>Writes instruction slots as little-endian bytes.</summary>
    public static byte[] Write(ReadOnlySpan<Instruction> instructions)
    {
        var bytes = new byte[instructions.Length * Instruction.Size];
        if (BitConverter.IsLittleEndian)
        {
            MemoryMarshal.AsBytes(instructions).CopyTo(bytes);
        }
        else
        {
            for (int i = 0; i < instructions.Length; i++)
                BinaryPrimitives.WriteUInt64LittleEndian(bytes.AsSpan(i * 8), instructions[i].ToRaw());
        }
        return bytes;
    }
}
