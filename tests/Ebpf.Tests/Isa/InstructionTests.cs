using Ebpf.Isa;

namespace Ebpf.Tests.Isa;

public class InstructionTests
{
    [Fact]
    public void Layout_matches_struct_bpf_insn()
    {
        // r1 = *(u32 *)(r2 - 4): opcode 0x61, dst 1, src 2, off -4
        var insn = Instruction.LoadMem(AccessSize.Word, 1, 2, -4);
        Assert.Equal(0xfffc2161UL, insn.ToRaw());
        Assert.Equal(insn, Instruction.FromRaw(insn.ToRaw()));
        var bytes = InstructionStream.Write([insn]);
        Assert.Equal(new byte[] { 0x61, 0x21, 0xfc, 0xff, 0, 0, 0, 0 }, bytes);
    }

    [Fact]
    public void Lddw_carries_the_high_half_in_the_second_slot()
    {
        var (first, second) = Instruction.LoadImm64(3, unchecked((long)0x1122334455667788UL));
        Assert.True(first.IsLoadImm64);
        Assert.Equal(unchecked((long)0x1122334455667788UL), Instruction.Imm64(first, second));
    }

    [Fact]
    public void Truncated_stream_names_the_instruction()
    {
        var e = Assert.Throws<BpfException>(() => InstructionStream.Read(new byte[13]));
        Assert.Equal(Errno.EINVAL, e.Errno);
        Assert.Contains("last instruction 1", e.Message);
    }
}
