using Ebpf.Abi;
using Ebpf.Abi.Helpers;
using Ebpf.Execution;
using Ebpf.Isa;
using Ebpf.Runtime;
using Ebpf.Runtime.Helpers;
using Ebpf.Runtime.Objects;
using static Ebpf.Isa.Instruction;

namespace Ebpf.Tests.Runtime;

/// <summary>
/// Host helpers registered with a prototype are verified like kernel helpers: a call is checked against the
/// prototype's argument kinds and sizes, and a verified program calling one runs unchecked, in the interpreter and
/// the JIT. A wrong call is refused with the message the same call to a kernel helper of that shape gets.
/// </summary>
public class HostHelperVerificationTests
{
    private const int Sum = HelperRegistry.FirstHostId;      // host_sum(const void *mem, u32 size): sum of the bytes
    private const int Fill = HelperRegistry.FirstHostId + 1; // host_fill(void *mem, u32 size): writes 1, 2, 3, …

    private static unsafe BpfRuntime Runtime(bool jit)
    {
        var rt = new BpfRuntime { JitEnabled = jit };
        rt.Helpers.Add(Sum, "host_sum", (mem, size, _, _, _) =>
        {
            ulong total = 0;
            foreach (byte b in new ReadOnlySpan<byte>((void*)mem, checked((int)size))) total += b;
            return total;
        }, new HelperPrototype(HelperId.Unspec, HelperReturnKind.Integer,
            [new(HelperArgKind.PtrToMem, HelperArgFlags.ReadOnly), new(HelperArgKind.ConstSize)]));
        rt.Helpers.Add(Fill, "host_fill", (mem, size, _, _, _) =>
        {
            var span = new Span<byte>((void*)mem, checked((int)size));
            for (int i = 0; i < span.Length; i++) span[i] = (byte)(i + 1);
            return 0;
        }, new HelperPrototype(HelperId.Unspec, HelperReturnKind.Integer,
            [new(HelperArgKind.PtrToMem, HelperArgFlags.Uninit | HelperArgFlags.Write), new(HelperArgKind.ConstSize)]));
        return rt;
    }

    /// <summary>host_fill(fp-8, 8), then host_sum(fp-8, size), then r0 += the byte the fill left at fp-6.</summary>
    private static Instruction[] Program(int size = 8, int helper = Sum) =>
    [
        Mov64Reg(1, 10), Alu64(AluOperation.Add, 1, -8), Mov64(2, 8), CallHelper(Fill),
        Mov64Reg(1, 10), Alu64(AluOperation.Add, 1, -8), Mov64(2, size), CallHelper(helper),
        LoadMem(AccessSize.Byte, 1, 10, -6), Alu64Reg(AluOperation.Add, 0, 1),
        Exit(),
    ];

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Verified_call_runs_unchecked(bool jit)
    {
        var rt = Runtime(jit);
        using var prog = rt.LoadProgram(new ProgramDefinition(ProgramType.Xdp, Program(), "host"));
        Assert.True(prog.Program.Verification!.Accepted, prog.Program.Verification!.Log);
        Assert.Equal(ExecutionMode.Unchecked, prog.Program.ExecutionMode);
        Assert.Equal(jit, prog.Program.IsJitCompiled);
        // 1 + 2 + … + 8 = 36, plus the third byte (3).
        Assert.Equal(39u, rt.TestRun(prog, new TestRunOptions { DataIn = new byte[64] }).ReturnValue);
    }

    [Fact]
    public void Size_beyond_the_stack_is_refused_like_a_kernel_helper_of_the_same_shape()
    {
        var rt = Runtime(jit: false);
        var e = Assert.Throws<BpfException>(() => rt.LoadProgram(new ProgramDefinition(ProgramType.Xdp, Program(size: 16), "host")));
        Assert.Equal(Errno.EACCES, e.Errno);
        Assert.Contains("invalid read from stack R1 off=-8 size=16", e.Log);
        Assert.Contains("(85) call host_sum#4096", e.Log); // the log names host helpers as registered
        // bpf_trace_printk(fmt, fmt_size, …) takes the same (ARG_PTR_TO_MEM | MEM_RDONLY, ARG_CONST_SIZE) pair.
        var kernel = Assert.Throws<BpfException>(() => rt.LoadProgram(new ProgramDefinition(ProgramType.Xdp, Program(size: 16, helper: (int)HelperId.TracePrintk), "printk")));
        Assert.Equal(LastLine(kernel.Log!), LastLine(e.Log!));
    }

    [Fact]
    public void Scalar_for_a_memory_argument_is_refused()
    {
        var rt = Runtime(jit: false);
        Instruction[] insns = [Mov64(1, 0), Mov64(2, 8), CallHelper(Sum), Exit()];
        var e = Assert.Throws<BpfException>(() => rt.LoadProgram(new ProgramDefinition(ProgramType.Xdp, insns, "host")));
        Assert.Contains("R1 type=scalar expected=fp", e.Log);
    }

    [Fact]
    public void Unregistered_host_id_is_an_unknown_func()
    {
        var rt = Runtime(jit: false);
        Instruction[] insns = [CallHelper(Fill + 1), Exit()];
        var e = Assert.Throws<BpfException>(() => rt.LoadProgram(new ProgramDefinition(ProgramType.Xdp, insns, "host")));
        Assert.Equal(Errno.EINVAL, e.Errno);
        Assert.Contains($"invalid func unknown#{Fill + 1}", e.Log);
    }

    [Fact]
    public void Prototypes_a_host_helper_cannot_declare_are_refused()
    {
        var rt = new BpfRuntime();
        HelperFunction f = (_, _, _, _, _) => 0;
        Assert.Equal(Errno.EINVAL, Assert.Throws<BpfException>(() => rt.Helpers.Add(Sum, "cb", f,
            new HelperPrototype(HelperId.Unspec, HelperReturnKind.Integer, [new(HelperArgKind.PtrToFunc)]))).Errno);
        Assert.Equal(Errno.EINVAL, Assert.Throws<BpfException>(() => rt.Helpers.Add(Sum, "sock", f,
            new HelperPrototype(HelperId.Unspec, HelperReturnKind.SocketOrNull, []))).Errno);
        Assert.Equal(Errno.EINVAL, Assert.Throws<BpfException>(() => rt.Helpers.Add(Sum, "other", f,
            new HelperPrototype(HelperId.MapLookupElem, HelperReturnKind.Integer, []))).Errno);
        Assert.Null(rt.Helpers.Find(Sum));
    }

    private static string LastLine(string log) => log.TrimEnd('\n').Split('\n').Last(l => !l.StartsWith("processed ", StringComparison.Ordinal));
}
