using Ebpf.Abi;
using Ebpf.Execution;
using Ebpf.Isa;
using Ebpf.Runtime;
using Ebpf.Runtime.Objects;
using Ebpf.Tests.Verification;
using static Ebpf.Isa.Instruction;

namespace Ebpf.Tests.Runtime;

/// <summary>
/// A program loaded with AllowUnverified has no proof and no translation: the checked interpreter resolves the
/// ctx pointer fields by address (a 4-byte load at ctx + the field's offset, through any register) and faults on
/// every other access to them or past the user-visible struct.
/// </summary>
public class UnverifiedContextTests
{
    private static readonly ProgramLoadOptions Unverified = new() { AllowUnverified = true };

    private static BpfProgram Load(BpfRuntime runtime, Instruction[] program)
    {
        var p = runtime.LoadProgram(new ProgramDefinition(ProgramType.Xdp, program, "unverified"), options: Unverified);
        Assert.False(p.Program.Verification!.Accepted);
        Assert.Equal(ExecutionMode.Checked, p.Program.ExecutionMode);
        return p;
    }

    [Fact]
    public void A_load_reached_with_ctx_or_stack_reads_the_data_pointer_on_the_ctx_path_and_the_stack_on_the_other()
    {
        var runtime = new BpfRuntime();
        using var p = Load(runtime, PointerTypeMismatchTests.CtxOrStackLoad());
        Assert.Equal(PointerTypeMismatchTests.CtxOrStackLoad(), p.Program.Instructions); // untranslated
        var frame = new byte[14];
        Assert.Equal(1u, runtime.TestRun(p, new TestRunOptions { DataIn = frame }).ReturnValue); // == ctx->data
        frame[0] = 5;
        Assert.Equal(2u, runtime.TestRun(p, new TestRunOptions { DataIn = frame }).ReturnValue); // the stack's 0x77
    }

    [Fact]
    public void Data_end_through_a_spill_minus_data_is_the_packet_length()
    {
        Instruction[] program =
        [
            StoreMem(AccessSize.DoubleWord, 10, 1, -8),  // spill ctx
            LoadMem(AccessSize.DoubleWord, 6, 10, -8),   // fill
            LoadMem(AccessSize.Word, 2, 6, 4),           // data_end through the filled copy
            LoadMem(AccessSize.Word, 3, 1, 0),           // data
            Alu64Reg(AluOperation.Sub, 2, 3),
            Mov64Reg(0, 2),
            Mov64Reg(7, 9),                              // reads r9, never written: refused by the verifier
            Exit(),
        ];
        var runtime = new BpfRuntime();
        using var p = runtime.LoadProgram(new ProgramDefinition(ProgramType.Xdp, program, "len"), options: Unverified);
        Assert.False(p.Program.Verification!.Accepted);
        Assert.Equal(ExecutionMode.Checked, p.Program.ExecutionMode);
        Assert.Equal(37u, runtime.TestRun(p, new TestRunOptions { DataIn = new byte[37] }).ReturnValue);
    }

    [Theory]
    [InlineData(AccessSize.Byte, 0, "ctx field data")]        // narrow load of a pointer field
    [InlineData(AccessSize.Half, 6, "ctx field data_end")]    // straddles into data_end's upper half
    [InlineData(AccessSize.DoubleWord, 0, "ctx field data")]  // 8 bytes over data and data_end
    [InlineData(AccessSize.DoubleWord, 24, "outside any region")] // the internal slots are not part of xdp_md
    public void Other_accesses_to_pointer_fields_or_past_the_struct_fault(AccessSize size, short offset, string message)
    {
        Instruction[] program = [LoadMem(size, 0, 1, offset), Exit()];
        var runtime = new BpfRuntime();
        using var p = Load(runtime, program);
        var e = Assert.Throws<BpfException>(() => runtime.TestRun(p, new TestRunOptions { DataIn = new byte[20] }));
        Assert.Equal(Errno.EFAULT, e.Errno);
        Assert.Contains(message, e.Message);
    }

    [Fact]
    public void A_write_to_a_pointer_field_faults()
    {
        Instruction[] program = [StoreImm(AccessSize.Word, 1, 4, 0), Mov64(0, 2), Exit()];
        var runtime = new BpfRuntime();
        using var p = Load(runtime, program);
        var e = Assert.Throws<BpfException>(() => runtime.TestRun(p, new TestRunOptions { DataIn = new byte[20] }));
        Assert.Equal(Errno.EFAULT, e.Errno);
        Assert.Contains("ctx field data_end", e.Message);
    }
}
