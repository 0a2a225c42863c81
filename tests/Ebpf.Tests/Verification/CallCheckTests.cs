using Ebpf.Abi;
using Ebpf.Abi.Helpers;
using Ebpf.Elf;
using Ebpf.Isa;
using Ebpf.Linux;
using Ebpf.Loading;
using Ebpf.Verification;

namespace Ebpf.Tests.Verification;

/// <summary>
/// Calls the verifier checks: global subprograms against their BTF prototypes and arg: tags
/// (fixtures/verifier/global_args.bpf.c), helper prototypes, socket references, bpf_timer, unknown helper
/// ids and the cgroup_skb context (fixtures/verifier/helper_calls.bpf.c), kfuncs resolved against vmlinux BTF
/// (fixtures/verifier/kfuncs.bpf.c). Each verdict and message is
/// checked against the live kernel (6.18) where bpf(2) is usable.
/// </summary>
public class CallCheckTests
{
    /// <summary>(object, program, our error or null for accepted, the kernel's verdict differs on purpose).</summary>
    public static TheoryData<string, string, string?, bool> Programs => new()
    {
        { "global_args", "ctx_tag_void", null, false },
        { "global_args", "ctx_implicit", null, false },
        { "global_args", "ctx_from_stack", "arg#0 expects pointer to ctx\nCaller passes invalid args into func#1 ('len_of')", false },
        { "global_args", "ctx_tag_wrong_type", "arg#0 should be `struct __sk_buff *`\nCaller passes invalid args into func#1 ('int_as_ctx')", false },
        { "global_args", "nullable_unchecked", "R1 invalid mem access 'mem_or_null'", false },
        { "global_args", "nullable_checked", null, false },
        { "global_args", "nonnull_ok", null, false },
        // The kernel accepts a literal NULL for an arg:nonnull argument (and the callee dereferences it); we refuse.
        { "global_args", "nonnull_given_null", "arg#0 is expected to be non-NULL\nCaller passes invalid args into func#1 ('read_nonnull')", true },
        { "global_args", "mem_uninit_stack", null, false },
        { "global_args", "nullable_tag_on_mem", "arg#0 has invalid combination of tags\nCaller passes invalid args into func#1 ('nullable_tagged')", false },
        { "global_args", "unknown_tag", "arg#0 has unsupported set of tags\nCaller passes invalid args into func#1 ('bogus_tagged')", false },
        { "global_args", "scalar_given_pointer", "R1 is not a scalar\nCaller passes invalid args into func#1 ('twice')", false },
        { "global_args", "void_global", "Global function touch() doesn't return scalar. Only those are supported.\nCaller passes invalid args into func#1 ('touch')", false },
        { "global_args", "uncalled_bad_global", null, false },
        { "global_args", "called_bad_global", "R1 invalid mem access 'scalar'", false },
        { "global_args", "global_under_lock", "global function calls are not allowed while holding a lock,\nuse static function instead", false },
        { "global_trusted", "trusted_given_scalar", "R1 must be referenced or trusted\nCaller passes invalid args into func#1 ('takes_task')", false },
        { "global_trusted", "trusted_given_null", "R1 must be referenced or trusted\nCaller passes invalid args into func#1 ('takes_task')", false },
        { "global_trusted", "untrusted_given_scalar", null, false },
        { "global_trusted", "untrusted_void_given_scalar", null, false },
        { "global_trusted", "trusted_forward_declared", "arg#0 reference type('FWD only_declared') has no matches", false },
        { "helper_calls", "sk_lookup_release", null, false },
        { "helper_calls", "sk_lookup_tuple_in_packet", null, false },
        { "helper_calls", "sk_lookup_leak", "BPF_EXIT instruction in main prog would lead to reference leak", false },
        { "helper_calls", "tcp_sock_after_release", "R8 invalid mem access 'scalar'", false },
        { "helper_calls", "skc_cast", null, false },
        { "helper_calls", "sk_release_unreferenced", "R1 must be referenced when passed to release function", false },
        { "helper_calls", "sk_storage_on_sock_common", null, false },
        { "helper_calls", "sk_storage_on_ctx", "R2 type=ctx expected=sock_common, sock, tcp_sock, xdp_sock, ptr_, trusted_ptr_", false },
        { "helper_calls", "sk_storage_maybe_null_sock", "R2 type=sock_common_or_null expected=sock_common, sock, tcp_sock, xdp_sock, ptr_, trusted_ptr_", false },
        { "helper_calls", "timer_ok", null, false },
        { "helper_calls", "timer_bad_callback_return", "At async callback return the register R0 has smin=1 smax=1 should have been in [0, 0]", false },
        { "helper_calls", "timer_wrong_offset", "off 16 doesn't point to 'struct bpf_timer' that is at 0", false },
        { "helper_calls", "unknown_helper", "invalid func unknown#300", false },
        { "helper_calls", "cgskb_read", null, false },
        { "helper_calls", "cgskb_write_len", "invalid bpf_context access off=0 size=4", false },
        { "helper_calls", "cgskb_tc_classid", "invalid bpf_context access off=72 size=4", false },
        { "helper_calls", "cgskb_packet_write", "cannot write into packet", false },
        { "helper_calls", "cgskb_fullsock", null, false },
        { "kfuncs", "task_acquire_release", null, false },
        { "kfuncs", "task_leak", "BPF_EXIT instruction in main prog would lead to reference leak", false },
        { "kfuncs", "task_release_unchecked", "Possibly NULL pointer passed to trusted arg0", false },
        { "kfuncs", "task_double_release", "arg#0 pointer type STRUCT task_struct must point to scalar, or struct with scalar", false },
        { "kfuncs", "kfunc_scalar_given_pointer", "R1 is not a scalar", false },
        { "kfuncs", "rcu_ok", null, false },
        { "kfuncs", "rcu_unmatched_unlock", "unmatched rcu read unlock (kernel function bpf_rcu_read_unlock)", false },
        { "kfuncs", "rcu_missing_unlock", "BPF_EXIT instruction in main prog cannot be used inside bpf_rcu_read_lock-ed region", false },
        { "kfuncs", "rcu_nested", "nested rcu read lock (kernel function bpf_rcu_read_lock)", false },
        { "kfuncs", "task_from_socket_filter", "calling kernel function bpf_task_from_pid is not allowed", false },
        { "kfuncs", "rcu_from_socket_filter", null, false },
    };

    private static string Path(string file) => SharedData.Fixture($"verifier/{file}.bpf.o");

    private static VerificationResult Ours(string file, string program, out ProgramSpec prog, out ObjectSpec obj)
    {
        obj = ObjectSpec.Load(Path(file));
        prog = obj.FindProgram(program) ?? throw new InvalidOperationException($"{program} not in {file}");
        return Verifier.Verify(ProgramSpecInput.Create(obj, prog, logLevel: 1));
    }

    /// <summary>The instruction the kernel (6.18) stops at for each rejected row, "file/program" → insn (the last
    /// "N:" line of its log before the message); ours must stop at the same one.</summary>
    private static readonly Dictionary<string, int> RejectedAt = new(StringComparer.Ordinal)
    {
        ["global_args/called_bad_global"] = 6,
        ["global_args/ctx_from_stack"] = 28,
        ["global_args/ctx_tag_wrong_type"] = 0,
        ["global_args/global_under_lock"] = 12,
        ["global_args/nonnull_given_null"] = 1,
        ["global_args/nullable_tag_on_mem"] = 4,
        ["global_args/nullable_unchecked"] = 7,
        ["global_args/scalar_given_pointer"] = 2,
        ["global_args/unknown_tag"] = 4,
        ["global_args/void_global"] = 0,
        ["global_trusted/trusted_forward_declared"] = 1,
        ["global_trusted/trusted_given_null"] = 1,
        ["global_trusted/trusted_given_scalar"] = 1,
        ["helper_calls/cgskb_packet_write"] = 6,
        ["helper_calls/cgskb_tc_classid"] = 0,
        ["helper_calls/cgskb_write_len"] = 1,
        ["helper_calls/sk_lookup_leak"] = 16,
        ["helper_calls/sk_release_unreferenced"] = 3,
        ["helper_calls/sk_storage_maybe_null_sock"] = 5,
        ["helper_calls/sk_storage_on_ctx"] = 5,
        ["helper_calls/tcp_sock_after_release"] = 20,
        ["helper_calls/timer_bad_callback_return"] = 21,
        ["helper_calls/timer_wrong_offset"] = 13,
        ["helper_calls/unknown_helper"] = 0,
        ["kfuncs/kfunc_scalar_given_pointer"] = 4,
        ["kfuncs/rcu_missing_unlock"] = 2,
        ["kfuncs/rcu_nested"] = 1,
        ["kfuncs/rcu_unmatched_unlock"] = 0,
        ["kfuncs/task_double_release"] = 7,
        ["kfuncs/task_from_socket_filter"] = 1,
        ["kfuncs/task_leak"] = 6,
        ["kfuncs/task_release_unchecked"] = 3,
    };

    private static void AssertRejectedAt(string file, string program, int actual, string who, string log)
    {
        bool known = RejectedAt.TryGetValue($"{file}/{program}", out int at);
        Assert.True(known && at == actual, $"{file}/{program}: {who} stopped at insn {actual}, the kernel's is {(known ? at.ToString(System.Globalization.CultureInfo.InvariantCulture) : "not recorded")}\n{log}");
    }

    /// <summary>README's status table: "50 programs agree" are the rows the two theories here run.</summary>
    [Fact]
    public void The_readme_figure_counts_the_programs_compared_with_the_kernel() => Assert.Equal(50, Programs.Count);

    [Theory]
    [MemberData(nameof(Programs))]
    public void Verdict_and_message(string file, string program, string? expected, bool kernelDiffers)
    {
        _ = kernelDiffers;
        if (file == "global_trusted" && program != "trusted_forward_declared" && !File.Exists("/sys/kernel/btf/vmlinux"))
            Requirement.Missing(Requirement.Vmlinux, "arg:trusted/untrusted struct pointees resolve against /sys/kernel/btf/vmlinux, absent here");
        var result = Ours(file, program, out _, out _);
        if (expected is null)
        {
            Assert.True(result.Accepted, $"{result.Error}\n{result.Log}");
        }
        else
        {
            Assert.False(result.Accepted, result.Log);
            Assert.Contains(expected, result.Error!);
            AssertRejectedAt(file, program, result.ErrorInstruction, "ours", result.Log);
        }
    }

    [Theory]
    [MemberData(nameof(Programs))]
    public void Kernel_agrees(string file, string program, string? expected, bool kernelDiffers)
    {
        if (!LinuxKernel.IsAvailable) Requirement.Missing(Requirement.Kernel, $"bpf(2) is not usable here: {LinuxKernel.UnavailableReason}");
        var ours = Ours(file, program, out var prog, out var obj);
        bool kernelAccepted;
        string log;
        try
        {
            using var collection = LinuxKernel.Load(obj, new ObjectLoadOptions
            {
                Elf = ElfFile.Open(Path(file)),
                ProgramFilter = p => ReferenceEquals(p, prog),
                LogLevel = 1,
            });
            kernelAccepted = true;
            log = collection.Programs[program].VerifierLog ?? "";
        }
        catch (BpfException e)
        {
            kernelAccepted = false;
            log = e.Log ?? e.Message;
        }
        if (kernelDiffers && kernelAccepted)
        {
            // A kernel with the known unsoundness accepts what we refuse (stable kernels since fixed it: then
            // the kernel must reject with our message, checked below).
            Assert.False(ours.Accepted);
            return;
        }
        Assert.True(ours.Accepted == kernelAccepted, $"kernel accepted={kernelAccepted}\n{log}\n--- ours ---\n{ours.Log}");
        // Every line of our message appears verbatim in the kernel's log.
        if (expected is not null)
        {
            foreach (var line in expected.Split('\n'))
                Assert.Contains(line, log);
            AssertRejectedAt(file, program, Rejection.OfKernelLog(log).Insn, "the kernel", log);
        }
    }

    [Fact]
    public void Every_helper_id_has_a_prototype()
    {
        var missing = Enumerable.Range(1, HelperNames.MaxId - 1).Where(id => HelperPrototypes.Get((HelperId)id) is null).ToList();
        Assert.Empty(missing);
        // The few the verifier cannot check are marked, and rejected with the reason (never let through).
        var unsupported = HelperPrototypes.All.Where(p => p.Unsupported is not null).Select(p => p.Id).ToList();
        Assert.Contains(HelperId.UserRingbufDrain, unsupported);
        Assert.DoesNotContain(HelperId.DynptrRead, unsupported);
        Assert.DoesNotContain(HelperId.SkLookupTcp, unsupported);
    }

    [Fact]
    public void Unsupported_helper_is_rejected_not_skipped()
    {
        var insns = Asm.Prog(Asm.Mov(1, 0), Asm.Mov(2, 0), Asm.Mov(3, 0), Asm.Mov(4, 0), Asm.CallId(209), Asm.Mov(0, 0), Asm.Exit());
        var result = Verifier.Verify(new VerifierInput { Instructions = insns, ProgramType = ProgramType.SchedCls });
        Assert.False(result.Accepted);
        Assert.Contains("helper bpf_user_ringbuf_drain#209 is not supported by this verifier", result.Error);
        Assert.Equal(4, result.ErrorInstruction);
    }

    [Fact]
    public void Typed_pointer_argument_must_have_the_named_struct()
    {
        // bpf_get_current_task_btf() returns a task_struct; bpf_task_pt_regs wants one: accepted.
        // bpf_skc_to_tcp_sock wants a socket: a task_struct is refused with the expected-set message.
        var ok = Asm.Prog(Asm.CallId(158), Asm.MovReg(1, 0), Asm.CallId(175), Asm.Mov(0, 0), Asm.Exit());
        Assert.True(Verifier.Verify(new VerifierInput { Instructions = ok, ProgramType = ProgramType.Tracing }).Accepted);
        var bad = Asm.Prog(Asm.CallId(158), Asm.MovReg(1, 0), Asm.CallId(137), Asm.Mov(0, 0), Asm.Exit());
        var result = Verifier.Verify(new VerifierInput { Instructions = bad, ProgramType = ProgramType.Tracing });
        Assert.False(result.Accepted);
        Assert.Contains("R1 type=trusted_ptr_ expected=sock_common, sock, tcp_sock, xdp_sock, ptr_, trusted_ptr_", result.Error);
        Assert.Equal(2, result.ErrorInstruction);
    }

    private static Instruction KfuncCall(int imm) => new(Opcodes.Call, 0, (byte)CallSource.Kfunc, 0, imm);

    [Fact]
    public void Kfunc_call_to_a_non_function_btf_id_is_rejected()
    {
        if (!File.Exists("/sys/kernel/btf/vmlinux")) Requirement.Missing(Requirement.Vmlinux, "no vmlinux BTF");
        // vmlinux type 1 is never a FUNC (the first types are ints/structs).
        var insns = Asm.Prog(KfuncCall(1), Asm.Mov(0, 0), Asm.Exit());
        var result = Verifier.Verify(new VerifierInput { Instructions = insns, ProgramType = ProgramType.SchedCls });
        Assert.False(result.Accepted);
        Assert.Equal("kernel btf_id 1 is not a function", result.Error);
        Assert.Equal(0, result.ErrorInstruction);
    }

    [Fact]
    public void Host_registered_kfunc_is_checked_from_its_prototype()
    {
        // long host_add(long a, long b__k): b must be a known constant, a any scalar.
        var b = new Ebpf.Btf.BtfBuilder();
        uint i64 = b.AddInt("long", 8, Ebpf.Btf.BtfIntEncoding.Signed);
        uint proto = b.Add(new Ebpf.Btf.BtfFuncProto(i64, [new Ebpf.Btf.BtfParam("a", i64), new Ebpf.Btf.BtfParam("b__k", i64)]));
        uint func = b.Add(new Ebpf.Btf.BtfFunc("host_add", proto, Ebpf.Btf.BtfFuncLinkage.Global));
        var kf = KernelFunctions.FromBtf(b.Build(), func, KernelFunctionFlags.None)!;
        Assert.Null(kf.Unsupported);
        VerificationResult Run(params Instruction[] body) => Verifier.Verify(new VerifierInput
        {
            Instructions = [.. body, KfuncCall(7), Asm.Exit()],
            ProgramType = ProgramType.SchedCls,
            KernelFunctions = new Dictionary<int, KernelFunction> { [body.Length] = kf },
        });
        Assert.True(Run(Asm.Mov(1, 5), Asm.Mov(2, 3)).Accepted);
        // b__k from the ctx's len: unknown, not a constant.
        var unknown = Run(Instruction.LoadMem(AccessSize.Word, 2, 1, 0), Asm.Mov(1, 5));
        Assert.Equal("R2 must be a known constant", unknown.Error);
        var pointer = Run(Asm.MovReg(1, 10), Asm.Mov(2, 3));
        Assert.Equal("R1 is not a scalar", pointer.Error);
    }
}
