using Ebpf.Abi;
using Ebpf.Isa;
using Ebpf.Runtime.ProgramTypes;
using static Ebpf.Isa.Instruction;

namespace Ebpf.Tests.Runtime;

public class ContextRewriterTests
{
    private static readonly ProgramTypeInfo Xdp = ProgramTypeInfo.Get(ProgramType.Xdp);
    private static readonly ProgramTypeInfo Tc = ProgramTypeInfo.Get(ProgramType.SchedCls);

    private static bool IsPointerLoad(Instruction i, int internalOffset) =>
        i.Class == InstructionClass.Ldx && i.AccessSize == AccessSize.DoubleWord && i.Offset == internalOffset;

    [Fact]
    public void Xdp_data_and_data_end_become_64bit_loads_of_the_internal_slots()
    {
        Instruction[] prog =
        [
            LoadMem(AccessSize.Word, 2, 1, 4),  // data_end
            LoadMem(AccessSize.Word, 3, 1, 12), // ingress_ifindex: scalar, untouched
            LoadMem(AccessSize.Word, 1, 1, 0),  // data (r1 stops being ctx afterwards)
            LoadMem(AccessSize.Word, 4, 1, 0),  // through the packet pointer: untouched
            Exit(),
        ];
        var output = ContextRewriter.Rewrite(prog, Xdp);
        Assert.True(IsPointerLoad(output[0], ProgramTypeInfo.XdpDataEndSlot));
        Assert.Equal(prog[1], output[1]);
        Assert.True(IsPointerLoad(output[2], ProgramTypeInfo.XdpDataSlot));
        Assert.Equal(prog[3], output[3]);
        Assert.Equal(1, output[2].Src);
        Assert.Equal(1, output[2].Dst);
    }

    [Fact]
    public void Ctx_copies_and_stack_spills_are_followed()
    {
        Instruction[] prog =
        [
            Mov64Reg(6, 1),
            StoreMem(AccessSize.DoubleWord, 10, 6, -16),
            CallHelper(5),                              // clobbers r1-r5, keeps r6 and the spill
            LoadMem(AccessSize.Word, 2, 6, 80),          // skb->data_end via r6
            LoadMem(AccessSize.DoubleWord, 7, 10, -16),  // fill
            LoadMem(AccessSize.Word, 3, 7, 76),          // skb->data via the filled copy
            LoadMem(AccessSize.Word, 4, 1, 76),          // r1 was clobbered by the call
            Exit(),
        ];
        var output = ContextRewriter.Rewrite(prog, Tc);
        Assert.True(IsPointerLoad(output[3], ProgramTypeInfo.SkbDataEndSlot));
        Assert.True(IsPointerLoad(output[5], ProgramTypeInfo.SkbDataSlot));
        Assert.Equal(prog[6], output[6]);
    }

    [Fact]
    public void Modified_or_path_dependent_ctx_is_not_rewritten()
    {
        Instruction[] prog =
        [
            Mov64Reg(5, 1),
            Alu64(AluOperation.Add, 5, 0),               // "modified" ctx copy
            LoadMem(AccessSize.Word, 6, 5, 0),
            Jump(JumpOperation.Jeq, 2, 0, 1),
            Mov64(1, 0),                                 // r1 is ctx on one path only
            LoadMem(AccessSize.Word, 3, 1, 0),
            LoadMem(AccessSize.Half, 4, 1, 0),           // wrong size for a pointer field anyway
            StoreMem(AccessSize.Word, 10, 1, -8),        // overwrites half a slot
            Exit(),
        ];
        var output = ContextRewriter.Rewrite(prog, Xdp);
        Assert.Equal(prog, output);
    }

    [Fact]
    public void Subprogram_arguments_carry_ctx()
    {
        Instruction[] prog =
        [
            CallLocal(2),
            Exit(),
            Exit(),
            LoadMem(AccessSize.Word, 0, 1, 4),           // subprog: r1 is the caller's ctx
            Exit(),
        ];
        var output = ContextRewriter.Rewrite(prog, Xdp);
        Assert.True(IsPointerLoad(output[3], ProgramTypeInfo.XdpDataEndSlot));
    }

    [Fact]
    public void Socket_filter_has_nothing_to_rewrite()
    {
        Instruction[] prog = [LoadMem(AccessSize.Word, 0, 1, 76), Exit()];
        Assert.Equal(prog, ContextRewriter.Rewrite(prog, ProgramTypeInfo.Get(ProgramType.SocketFilter)));
    }
}
