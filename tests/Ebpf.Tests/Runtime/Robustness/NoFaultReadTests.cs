using Ebpf.Abi.Helpers;
using Ebpf.Abi;
using Ebpf.Execution;
using Ebpf.Isa;
using Ebpf.Runtime;
using Ebpf.Runtime.Helpers;
using Ebpf.Runtime.Objects;
using static Ebpf.Isa.Instruction;

namespace Ebpf.Tests.Runtime.Robustness;

/// <summary>
/// The printf-like helpers read their %s arguments as the kernel does, with copy_from_kernel_nofault: the
/// verifier checks nothing about them, so a verified program may pass any number. An unchecked run used to
/// dereference it directly (a fatal access violation for an unmapped address); it must print what the
/// kernel prints for a bad pointer instead (an empty string), and still print real strings.
/// </summary>
public class NoFaultReadTests
{
    /// <summary>bpf_trace_printk("%s\n", 4, r3) with r3 = <paramref name="pointer"/>, or the stack string "ok" when null.</summary>
    private static Instruction[] PrintString(ulong? pointer)
    {
        var (p1, p2) = LoadImm64(3, (long)(pointer ?? 0));
        return
        [
            StoreImm(AccessSize.Word, 10, -8, 0x000a7325),     // "%s\n\0"
            StoreImm(AccessSize.Word, 10, -16, 0x00006b6f),    // "ok\0\0"
            Mov64Reg(1, 10), Alu64(AluOperation.Add, 1, -8),
            Mov64(2, 4),
            .. pointer is null ? new[] { Mov64Reg(3, 10), Alu64(AluOperation.Add, 3, -16) } : [p1, p2],
            CallHelper((int)HelperId.TracePrintk),
            Exit(),
        ];
    }

    public static TheoryData<ulong, bool> BadPointers() => new()
    {
        { 0x1_0000_0004, true }, { 0x1_0000_0004, false },
        { 0xdead_0000_0000, true },
        { 8, true },
        { 0xffff_8880_0000_0000, true }, // a kernel-looking address: not mapped in this process
    };

    [Theory]
    [MemberData(nameof(BadPointers))]
    public void A_made_up_string_pointer_prints_as_empty_in_an_unchecked_run(ulong pointer, bool jit)
    {
        var rt = new BpfRuntime { JitEnabled = jit };
        using var prog = rt.LoadProgram(new ProgramDefinition(ProgramType.Xdp, PrintString(pointer), "printk"));
        Assert.Equal(ExecutionMode.Unchecked, prog.Program.ExecutionMode);
        rt.TestRun(prog, new TestRunOptions { DataIn = new byte[64] });
        // The kernel's bpf_bprintf_prepare prints an unreadable string as an empty one.
        string line = Assert.Single(rt.TraceLog.Drain());
        Assert.EndsWith("bpf_trace_printk:", line.TrimEnd());
    }

    [Fact]
    public void A_real_string_still_prints()
    {
        var rt = new BpfRuntime();
        using var prog = rt.LoadProgram(new ProgramDefinition(ProgramType.Xdp, PrintString(null), "printk"));
        rt.TestRun(prog, new TestRunOptions { DataIn = new byte[64] });
        Assert.EndsWith("bpf_trace_printk: ok", Assert.Single(rt.TraceLog.Drain()).TrimEnd());
    }

    [Fact]
    public void A_string_that_ends_at_an_unreadable_page_is_read_up_to_it()
    {
        // Outside any invocation (the unchecked path's reader): the copy stops where readable memory does.
        Assert.Null(HelperMemory.ReadCString(0x1_0000_0004, 100));
        Assert.Null(HelperMemory.ReadNoFault(0xdead_0000_0000, 8));
        var text = "abc\0"u8.ToArray();
        unsafe
        {
            fixed (byte* p = text)
                Assert.Equal("abc"u8.ToArray(), HelperMemory.ReadCString((ulong)p, 100));
        }
    }
}
