using System.Buffers.Binary;
using Ebpf.Linux.Native;

namespace Ebpf.Linux;

/// <summary>
/// The func_info records the kernel holds for a loaded program (BPF_OBJ_GET_INFO_BY_FD with a func_info buffer): what a
/// loader sent, as the kernel kept it. Tests compare the arg:ctx fallback's rewrite with it.
/// </summary>
internal static unsafe class KernelProgramFuncInfo
{
    /// <summary>(insn_off, type_id) of every record, in order.</summary>
    public static (uint InstructionOffset, uint TypeId)[] Read(KernelProgram program)
    {
        var info = new ProgInfoNative();
        ObjectInfo.Get(program.Fd, ref info, program.Name);
        uint count = info.NrFuncInfo, recordSize = Math.Max(info.FuncInfoRecSize, 8u);
        var bytes = new byte[count * recordSize];
        fixed (byte* p = bytes)
        {
            var again = new ProgInfoNative { NrFuncInfo = count, FuncInfoRecSize = recordSize, FuncInfo = (ulong)p };
            ObjectInfo.Get(program.Fd, ref again, program.Name);
        }
        var records = new (uint, uint)[count];
        for (int i = 0; i < records.Length; i++)
        {
            var r = bytes.AsSpan(i * (int)recordSize);
            records[i] = (BinaryPrimitives.ReadUInt32LittleEndian(r), BinaryPrimitives.ReadUInt32LittleEndian(r[4..]));
        }
        return records;
    }
}
