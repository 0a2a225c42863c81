using Ebpf.Abi;
using Ebpf.Runtime;
using static Ebpf.Tests.Runtime.Links.LinkFixtures;

namespace Ebpf.Tests.Runtime.Links;

/// <summary>
/// Pointer arguments of a BPF target as fentry/fexit see them (btf_ctx_access with a target program, 6.18): the
/// target's context argument is the kernel's struct xdp_buff (PTR_TO_BTF_ID into vmlinux BTF) whose fields are read
/// by BTF with probe loads from a kernel-layout shadow; an int pointer is a number; a pointer to any other struct
/// cannot be read at all; writes through the kernel struct are refused.
/// </summary>
public class TracingPointerArgumentTests
{
    private const int Length = 64;
    private const byte First = 0xab;

    // ctx_trace.bpf.o's .bss: seen_len, seen_first, seen_frame, seen_headroom, count_ptr, exit_len, exit_ret, calls.
    private static ulong Bss(BpfCollection c, int index) => Global(c, ".bss", index * 8);

    private static void RequireVmlinux()
    {
        if (!File.Exists("/sys/kernel/btf/vmlinux"))
            Requirement.Missing(Requirement.Vmlinux, "/sys/kernel/btf/vmlinux not present (the kernel struct the context argument becomes)");
    }

    private static uint Serve(BpfRuntime rt, BpfProgram program)
    {
        var packet = new byte[Length];
        packet[0] = First;
        return rt.TestRun(program, new TestRunOptions { DataIn = packet }).ReturnValue;
    }

    [Theory]
    [InlineData("jit")]
    [InlineData("interpreter")]
    [InlineData("checked")]
    public void Fentry_reads_the_context_argument_as_the_kernel_xdp_buff(string engine)
    {
        RequireVmlinux();
        bool jit = engine == "jit", isChecked = engine == "checked";
        var rt = new BpfRuntime { JitEnabled = jit };
        using var target = rt.Load(Spec("ctx_target"));
        var serve = target.Programs["serve_ctx"];
        using var trace = rt.Load(SpecWith("ctx_trace", "on_judge", "on_serve_ctx"), serve, new ObjectLoadOptions { AlwaysChecked = isChecked });
        var onJudge = trace.Programs["on_judge"];
        Assert.Equal(isChecked ? Ebpf.Execution.ExecutionMode.Checked : Ebpf.Execution.ExecutionMode.Unchecked, onJudge.Program.ExecutionMode);
        Assert.Equal(jit, onJudge.Program.Executable is PreparedProgram p && p.Interpreter.IsCompiled);
        using var entry = onJudge.AttachTracing();
        using var exit = trace.Programs["on_serve_ctx"].AttachTracing();

        uint expected = Length + First + 1000; // judge(): len + first byte; serve_ctx(): + count * 1000
        Assert.Equal(expected, Serve(rt, serve));
        Assert.Equal((ulong)Length, Bss(trace, 0));       // xdp->data_end - xdp->data
        Assert.Equal((ulong)First, Bss(trace, 1));        // *(u8 *)xdp->data: a probe load of the packet
        Assert.Equal(4096ul, Bss(trace, 2));              // xdp->frame_sz
        Assert.Equal(256ul, Bss(trace, 3));               // xdp->data - xdp->data_hard_start: test_run's headroom
        Assert.Equal(1ul, Bss(trace, 4));                 // the int * argument, read as a number, is not NULL
        Assert.Equal(0ul, Global(trace, ".data", 0));     // xdp->rxq->queue_index: rxq is NULL, the probe load reads 0
        Assert.Equal((ulong)Length, Bss(trace, 5));       // fexit on the main program: its context argument
        Assert.Equal((ulong)expected, Bss(trace, 6));     // and its return value after it
        Assert.Equal(1ul, Bss(trace, 7));
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Fentry_reads_a_tc_context_argument_as_the_kernel_sk_buff(bool jit)
    {
        RequireVmlinux();
        var rt = new BpfRuntime { JitEnabled = jit };
        using var target = rt.Load(Spec("skb_target"));
        var serve = target.Programs["tc_serve"];
        using var trace = rt.Load(Spec("skb_trace"), serve);
        using var link = trace.Programs["on_classify"].AttachTracing();
        var frame = new byte[120];
        frame[0] = 0x5a;
        frame[12] = 0x08; // EtherType IPv4: skb->protocol is htons(0x0800)
        var ctx = new byte[192];
        BitConverter.TryWriteBytes(ctx.AsSpan(8), 0x1234u);  // __sk_buff.mark
        BitConverter.TryWriteBytes(ctx.AsSpan(32), 7u);      // __sk_buff.priority
        Assert.Equal(1u, rt.TestRun(serve, new TestRunOptions { DataIn = frame, ContextIn = ctx }).ReturnValue);
        Assert.Equal(120ul, Bss(trace, 0));     // skb->len
        Assert.Equal(0x1234ul, Bss(trace, 1));  // skb->mark (inside an anonymous union of sk_buff)
        Assert.Equal(7ul, Bss(trace, 2));       // skb->priority
        Assert.Equal(0x0008ul, Bss(trace, 3));  // skb->protocol, big-endian 0x0800 read as a u16
        Assert.Equal(0x5aul, Bss(trace, 4));    // *skb->data: a probe load of the packet
    }

    [Fact]
    public void The_verifier_types_the_context_argument_by_vmlinux_btf()
    {
        RequireVmlinux();
        var rt = new BpfRuntime();
        using var target = rt.Load(Spec("ctx_target"));
        using var trace = rt.Load(SpecWith("ctx_trace", "on_judge"), target.Programs["serve_ctx"],
            new ObjectLoadOptions { LogLevel = 2 });
        var log = trace.Programs["on_judge"].Program.Verification!.Log;
        Assert.Contains("ptr_xdp_buff", log);
        Assert.Contains("ptr_xdp_rxq_info", log);
    }

    [Theory]
    [InlineData("reads_struct", "invalid bpf_context access off=8 size=8", Errno.EACCES)]
    [InlineData("narrow_pointer", "func 'judge' size 4 must be 8\ninvalid bpf_context access off=0 size=4", Errno.EACCES)]
    [InlineData("inside_a_slot", "func 'judge' offset 4 is not multiple of 8\ninvalid bpf_context access off=4 size=4", Errno.EACCES)]
    [InlineData("writes_kernel_struct", "only read is supported", Errno.EACCES)]
    [InlineData("reads_past_the_struct", "access beyond struct xdp_buff at off 4096 size 8", Errno.EACCES)]
    public void Refused_pointer_accesses_log_the_kernel_line(string program, string line, Errno errno)
    {
        RequireVmlinux();
        var rt = new BpfRuntime();
        using var target = rt.Load(Spec("ctx_target"));
        var e = Assert.Throws<BpfException>(() => rt.Load(SpecWith("ctx_trace", program), target.Programs["serve_ctx"]));
        Assert.Equal(errno, e.Errno);
        Assert.Contains(line, e.Log);
    }

    [Fact]
    public void Reading_past_the_arguments_names_the_missing_argument()
    {
        var rt = new BpfRuntime();
        using var target = rt.Load(Spec("target"));
        var e = Assert.Throws<BpfException>(() => rt.Load(SpecWith("trace", "reads_too_far"), target.Programs["serve"]));
        Assert.Equal(Errno.EACCES, e.Errno);
        Assert.Contains("func 'check' doesn't have 2-th argument\ninvalid bpf_context access off=8 size=8", e.Log);
    }
}
