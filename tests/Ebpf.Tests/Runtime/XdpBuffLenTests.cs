using Ebpf.Abi;
using Ebpf.Execution;
using Ebpf.Isa;
using Ebpf.Linux;
using Ebpf.Runtime;
using Ebpf.Tests.Linux;

namespace Ebpf.Tests.Runtime;

/// <summary>
/// bpf_xdp_get_buff_len (188): verified by both and, until now, refused at run time by the runtime (the fuzzer's one
/// "helper not implemented" class). It returns the frame's length, as the kernel's test_run shows.
/// </summary>
public class XdpBuffLenTests
{
    private static readonly Instruction[] Program = [Instruction.CallHelper(188), Instruction.Exit()];

    [Theory]
    [InlineData(14)]
    [InlineData(64)]
    [InlineData(1500)]
    public void The_runtime_returns_the_frame_length_as_the_kernel_does(int length)
    {
        var rt = new BpfRuntime();
        using var prog = rt.LoadProgram(new ProgramDefinition(ProgramType.Xdp, Program, "buff_len"));
        Assert.Equal(ExecutionMode.Unchecked, prog.Program.ExecutionMode);
        uint ours = rt.TestRun(prog, new TestRunOptions { DataIn = new byte[length] }).ReturnValue;
        Assert.Equal((uint)length, ours);

        if (!LinuxKernel.IsAvailable)
            Requirement.Missing(Requirement.Kernel, $"the kernel half: bpf(2) is not usable here: {LinuxKernel.UnavailableReason}");
        using var kernel = KernelProgram.Load(new ProgramLoadAttributes { Type = ProgramType.Xdp, Instructions = Program, Name = "buff_len", License = "GPL" });
        Assert.Equal(kernel.TestRun(new TestRunOptions { DataIn = new byte[length], DataSizeOut = 0 }).ReturnValue, ours);
    }
}
