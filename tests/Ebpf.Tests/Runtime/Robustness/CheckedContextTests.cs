using Ebpf.Abi;
using Ebpf.Execution;
using Ebpf.Isa;
using Ebpf.Runtime;
using Ebpf.Runtime.Objects;
using Ebpf.Runtime.ProgramTypes;
using static Ebpf.Isa.Instruction;

namespace Ebpf.Tests.Runtime.Robustness;

/// <summary>
/// Behind a test run's ctx (xdp_md, __sk_buff) the runtime keeps the real packet pointers its translated ctx
/// loads read and that it trusts after the run (data_out, adjust_head). A checked program wrote them freely,
/// so forging data_end made test_run copy from wherever it pointed (found by the random program stream). An
/// unverified program now sees only the user-visible struct: its pointer fields resolve by address, and the
/// runtime's slots past the struct are outside every region it may touch.
/// </summary>
public class CheckedContextTests
{
    [Theory]
    [InlineData(ProgramTypeInfo.XdpDataSlot)]
    [InlineData(ProgramTypeInfo.XdpDataEndSlot)]
    [InlineData(ProgramTypeInfo.XdpDataMetaSlot + 4)]
    public void A_checked_program_cannot_forge_the_runtimes_packet_pointers(int offset)
    {
        var rt = new BpfRuntime();
        Instruction[] code = [StoreImm(AccessSize.Word, 1, (short)offset, 0x7fff_0000), Mov64(0, 2), Exit()];
        using var prog = rt.LoadProgram(new ProgramDefinition(ProgramType.Xdp, code, "forge"), options: new ProgramLoadOptions { AllowUnverified = true });
        Assert.Equal(ExecutionMode.Checked, prog.Program.ExecutionMode);
        var e = Assert.Throws<BpfException>(() => rt.TestRun(prog, new TestRunOptions { DataIn = new byte[64] }));
        Assert.Equal(Errno.EFAULT, e.Errno);
        Assert.Contains("outside any region", e.Message);
    }

    [Fact]
    public void A_checked_program_still_reads_data_and_data_end_and_writes_the_user_view()
    {
        var rt = new BpfRuntime();
        Instruction[] code =
        [
            LoadMem(AccessSize.Word, 2, 1, 0), // xdp_md.data: resolved by address to the packet pointer
            LoadMem(AccessSize.Word, 3, 1, 4), // xdp_md.data_end
            StoreImm(AccessSize.Word, 1, 12, 0), // rx_queue_index: in the user view
            Mov64Reg(0, 3), Alu64Reg(AluOperation.Sub, 0, 2),
            Exit(),
        ];
        using var prog = rt.LoadProgram(new ProgramDefinition(ProgramType.Xdp, code, "read"), options: new ProgramLoadOptions { AllowUnverified = true });
        Assert.Equal(64u, rt.TestRun(prog, new TestRunOptions { DataIn = new byte[64] }).ReturnValue);
    }
}
