using Ebpf.Abi;
using Ebpf.Collections;
using Ebpf.Execution;
using Ebpf.Isa;
using Ebpf.Runtime;
using static Ebpf.Isa.Instruction;

namespace Ebpf.Tests.Runtime;

/// <summary>
/// A program the verifier accepts under 6.18's private-stack rule (perf_event: 512 bytes per subprogram, 1,440 bytes
/// down the call chain) runs as accepted: every frame has 512 bytes of its own in the checked interpreter, the
/// unchecked interpreter and the JIT, so the three frames' deepest slots never overlap.
/// </summary>
public class PrivateStackRunTests
{
    /// <summary>Each of three frames stores its own value at fp-480, calls the next, then adds its slot back: 3 + 5 + 7.</summary>
    private static Instruction[] ThreeDeepFrames() =>
    [
        Mov64(1, 7), StoreMem(AccessSize.DoubleWord, 10, 1, -480), CallLocal(3),
        LoadMem(AccessSize.DoubleWord, 1, 10, -480), Alu64Reg(AluOperation.Add, 0, 1), Exit(),
        Mov64(1, 5), StoreMem(AccessSize.DoubleWord, 10, 1, -480), CallLocal(3),
        LoadMem(AccessSize.DoubleWord, 1, 10, -480), Alu64Reg(AluOperation.Add, 0, 1), Exit(),
        Mov64(1, 3), StoreMem(AccessSize.DoubleWord, 10, 1, -480), LoadMem(AccessSize.DoubleWord, 0, 10, -480), Exit(),
    ];

    [Theory]
    [InlineData(false, false)]
    [InlineData(false, true)]
    [InlineData(true, false)]
    public void Every_frame_keeps_its_own_512_bytes(bool alwaysChecked, bool jit)
    {
        var rt = new BpfRuntime { JitEnabled = jit };
        using var prog = rt.LoadProgram(new ProgramDefinition(ProgramType.PerfEvent, ThreeDeepFrames(), "three_frames"),
            options: new ProgramLoadOptions { AlwaysChecked = alwaysChecked });
        if (jit) Assert.True(prog.Program.IsJitCompiled, prog.Program.JitFailure ?? prog.Program.ExecutionModeReason);
        using var runner = prog.CreateRunner();
        Assert.Equal(alwaysChecked ? ExecutionMode.Checked : ExecutionMode.Unchecked, runner.Mode);
        Assert.Equal(15ul, runner.Run(0));
    }

    /// <summary>The same program as a socket filter has no private stack: refused as the kernel refuses it.</summary>
    [Fact]
    public void Without_a_private_stack_the_chain_is_refused()
    {
        var rt = new BpfRuntime();
        var e = Assert.Throws<BpfException>(() => rt.LoadProgram(new ProgramDefinition(ProgramType.SocketFilter, ThreeDeepFrames(), "three_frames")));
        Assert.Equal(Errno.EACCES, e.Errno);
        Assert.Contains("combined stack size of 2 calls is 960. Too large", e.Log ?? e.Message, StringComparison.Ordinal);
    }
}
