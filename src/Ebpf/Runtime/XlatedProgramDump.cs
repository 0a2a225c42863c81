using Ebpf.Isa;
using Ebpf.Runtime.Objects;

namespace Ebpf.Runtime;

/// <summary>What `prog dump xlated` shows of a loaded program (BPF_OBJ_GET_INFO_BY_FD's xlated_prog_insns).</summary>
public static class XlatedProgramDump
{
    /// <summary>
    /// bpf_insn_prepare_dump for the managed runtime: the program exactly as it runs (the verifier's translation),
    /// except that an lddw holding a map's handle or the address inside an array's value is shown as the kernel
    /// shows it — map id in imm with BPF_PSEUDO_MAP_FD / BPF_PSEUDO_MAP_VALUE in src and the value offset in the
    /// second half — so the dump names maps (map[id:N]) instead of host addresses.
    /// </summary>
    public static unsafe Instruction[] PrepareDump(ProgramObject program)
    {
        var insns = (Instruction[])program.Instructions.Clone();
        for (int pc = 0; pc + 1 < insns.Length; pc++)
        {
            if (!insns[pc].IsLoadImm64)
                continue;
            ulong value = (ulong)Instruction.Imm64(insns[pc], insns[pc + 1]);
            foreach (var map in program.UsedMaps)
            {
                if (value == (ulong)map.NativeHandle)
                {
                    insns[pc] = new Instruction(insns[pc].Opcode, insns[pc].Dst, (byte)LoadImm64Source.MapFd, insns[pc].Offset, (int)map.Id);
                    insns[pc + 1] = new Instruction(insns[pc + 1].Opcode, 0, 0, 0, 0);
                    break;
                }
                if (map.Maps is Maps.ArrayMap array && map.Type == Abi.MapType.Array)
                {
                    uint key = 0;
                    ulong start = (ulong)array.ProgramLookup((byte*)&key, 0);
                    if (start == 0 || value < start || value >= start + map.Definition.ValueSize)
                        continue;
                    insns[pc] = new Instruction(insns[pc].Opcode, insns[pc].Dst, (byte)LoadImm64Source.MapValue, insns[pc].Offset, (int)map.Id);
                    insns[pc + 1] = new Instruction(insns[pc + 1].Opcode, 0, 0, 0, (int)(value - start));
                    break;
                }
            }
            pc++;
        }
        return insns;
    }

}
