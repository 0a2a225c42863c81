using Ebpf.Abi;
using Ebpf.Isa;
using Ebpf.Verification;
using static Ebpf.Isa.Instruction;

namespace Ebpf.Tests.Verification;

/// <summary>
/// save_aux_ptr_type: one load or store can be translated for one pointer kind only, so reaching it with ctx on one
/// path and the stack on another is refused ("same insn cannot be used with different pointers", EINVAL), while
/// mixing kinds that need no rewrite (stack and map value) is fine. Verdicts and messages against the live kernel.
/// </summary>
public class PointerTypeMismatchTests
{
    /// <summary>
    /// XDP: insn 12 loads through r3, which is ctx when the packet's first byte is 0 and a stack pointer otherwise.
    /// Returns 1 when the loaded value equals ctx->data (the ctx path), 2 otherwise, 0 for an empty packet.
    /// </summary>
    internal static Instruction[] CtxOrStackLoad() =>
    [
        LoadMem(AccessSize.Word, 2, 1, 0),             // 0: r2 = ctx->data
        LoadMem(AccessSize.Word, 3, 1, 4),             // 1: r3 = ctx->data_end
        Mov64Reg(4, 2),                                // 2
        Alu64(AluOperation.Add, 4, 1),                 // 3
        JumpReg(JumpOperation.Jgt, 4, 3, 13),          // 4: empty packet -> 18
        LoadMem(AccessSize.Byte, 5, 2, 0),             // 5: r5 = first packet byte
        StoreImm(AccessSize.Word, 10, -8, 0x77),       // 6
        StoreImm(AccessSize.Word, 10, -4, 0),          // 7
        Mov64Reg(3, 1),                                // 8: r3 = ctx
        Jump(JumpOperation.Jeq, 5, 0, 2),              // 9: first byte 0: keep ctx
        Mov64Reg(3, 10),                               // 10: r3 = fp
        Alu64(AluOperation.Add, 3, -8),                // 11: r3 = fp-8
        LoadMem(AccessSize.Word, 0, 3, 0),             // 12: ctx->data or the stack's 0x77
        JumpReg(JumpOperation.Jeq, 0, 2, 2),           // 13
        Mov64(0, 2),                                   // 14
        Exit(),                                        // 15
        Mov64(0, 1),                                   // 16
        Exit(),                                        // 17
        Mov64(0, 0),                                   // 18
        Exit(),                                        // 19
    ];

    /// <summary>Packet on one path, stack on the other: neither kind is rewritten, so one insn may serve both.</summary>
    private static Instruction[] PacketOrStackLoad() =>
    [
        LoadMem(AccessSize.Word, 2, 1, 0),             // 0: r2 = ctx->data
        LoadMem(AccessSize.Word, 3, 1, 4),             // 1: r3 = ctx->data_end
        Mov64Reg(4, 2),                                // 2
        Alu64(AluOperation.Add, 4, 4),                 // 3
        JumpReg(JumpOperation.Jgt, 4, 3, 9),           // 4: fewer than 4 bytes -> 14
        LoadMem(AccessSize.Byte, 5, 2, 0),             // 5
        StoreImm(AccessSize.Word, 10, -8, 0x77),       // 6
        StoreImm(AccessSize.Word, 10, -4, 0),          // 7
        Mov64Reg(3, 2),                                // 8: r3 = packet
        Jump(JumpOperation.Jeq, 5, 0, 2),              // 9
        Mov64Reg(3, 10),                               // 10
        Alu64(AluOperation.Add, 3, -8),                // 11: r3 = fp-8
        LoadMem(AccessSize.Word, 0, 3, 0),             // 12: packet or stack
        Exit(),                                        // 13
        Mov64(0, 0),                                   // 14
        Exit(),                                        // 15
    ];

    private static VerificationResult Verify(Instruction[] program) =>
        Verifier.Verify(new VerifierInput { Instructions = program, ProgramType = ProgramType.Xdp, LogLevel = 1 });

    [Fact]
    public void Ctx_on_one_path_and_stack_on_another_is_refused_as_the_kernel_does()
    {
        var ours = Verify(CtxOrStackLoad());
        Assert.False(ours.Accepted);
        Assert.Equal(Errno.EINVAL, ours.Errno);
        Assert.Equal("same insn cannot be used with different pointers", ours.Error);
        Assert.Equal(12, ours.ErrorInstruction);
        if (KernelBpf.Unavailable() is { } why) Requirement.Missing(Requirement.Kernel, why);
        var kernel = KernelBpf.Load(CtxOrStackLoad(), (uint)ProgramType.Xdp);
        Assert.False(kernel.Accepted);
        Assert.Equal((int)Errno.EINVAL, kernel.Errno);
        Assert.Contains("12: (61) r0 = *(u32 *)(r3 +0)", kernel.Log);
        Assert.Contains("same insn cannot be used with different pointers", kernel.Log);
    }

    [Fact]
    public void Packet_and_stack_at_one_insn_need_no_rewrite_and_are_accepted_as_by_the_kernel()
    {
        var program = PacketOrStackLoad();
        var ours = Verify(program);
        Assert.True(ours.Accepted, ours.Error + "\n" + ours.Log);
        if (KernelBpf.Unavailable() is { } why) Requirement.Missing(Requirement.Kernel, why);
        var kernel = KernelBpf.Load(program, (uint)ProgramType.Xdp);
        Assert.True(kernel.Accepted, kernel.Log);
    }
}
