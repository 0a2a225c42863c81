using Ebpf.Collections;
using Ebpf.Linux;
using Ebpf.Loading;
using Ebpf.Verification;

namespace Ebpf.Tests.Verification;

/// <summary>
/// skb, xdp and skb_meta dynptrs and the kfuncs bpf_dynptr_copy / bpf_dynptr_memset
/// (tests/fixtures/verifier/skbdyn/skbdyn.bpf.c, clang-19). Each program's verdict and key message are ours; the kernel
/// theory loads the same program into the running kernel and requires the same verdict and, for a rejection, the same
/// instruction and the kernel's last message line in our log. The run_* programs run on the managed backend
/// (interpreter and JIT) and must give what the kernel's BPF_PROG_TEST_RUN gives: the same retval and data_out.
/// </summary>
public class SkbDynptrFixtureTests
{
    private const string File = "verifier/skbdyn/skbdyn.bpf.o";

    /// <summary>(program, null when accepted, else a line our log must contain).</summary>
    public static TheoryData<string, string?> Programs => new()
    {
        { "run_tc_rw", null },
        { "run_tc_errors", null },
        { "run_socket_rdonly", null },
        { "run_tc_clone", null },
        { "run_local_copy", null },
        { "run_xdp_rw", null },
        { "run_xdp_frags", null },
        { "run_probe_read", null },
        { "run_xdp_probe_read", null },
        { "ok_xdp_write_keeps_packet", null },
        { "ok_copy_from_skb_keeps_packet", null },
        { "ok_data_slice_after_pull", null },
        { "ok_store_beside_buffer", null },
        { "ok_netfilter_from_skb", null },
        { "bad_data_slice_after_meta_write", "invalid mem access 'scalar'" },
        { "bad_slice_after_pull", "invalid mem access 'scalar'" },
        { "bad_slice_after_write", "invalid mem access 'scalar'" },
        { "bad_slice_after_memset", "invalid mem access 'scalar'" },
        { "bad_meta_slice_after_write", "invalid mem access 'scalar'" },
        { "bad_packet_after_copy", "invalid mem access 'scalar'" },
        { "bad_packet_after_probe_read", "invalid mem access 'scalar'" },
        { "bad_packet_after_xdp_pull", "invalid mem access 'scalar'" },
        { "bad_xdp_slice_after_adjust", "invalid mem access 'scalar'" },
        { "bad_store_into_buffer", "R7 invalid mem access 'scalar'" },
        { "bad_helper_writes_buffer", "R7 invalid mem access 'scalar'" },
        { "bad_slice_write", "cannot write into rdonly_mem" },
        { "bad_slice_out_of_bounds", "invalid access to memory, mem_size=2 off=2 size=1" },
        { "bad_buffer_over_dynptr", "invalid read from stack R3 off -20+4 size 8\narg#2 arg#3 memory, len pair leads to invalid memory access" },
        { "bad_from_skb_sock_ctx", "must be referenced or trusted" },
        { "bad_from_skb_raw_tp", "calling kernel function bpf_dynptr_from_skb is not allowed" },
        { "bad_from_skb_meta_socket", "calling kernel function bpf_dynptr_from_skb_meta is not allowed" },
        { "bad_from_skb_stack", "arg#0 expected pointer to ctx, but got fp" },
        { "bad_copy_null", "Possibly NULL pointer passed to trusted arg0" },
        { "bad_copy_uninit_source", "Expected an initialized dynptr as arg #2" },
        { "bad_memset_uninit", "Expected an initialized dynptr as arg #0" },
    };

    private static readonly VerifierFixture Fixture = new(File);

    [Fact]
    public void Every_program_of_the_fixture_is_listed() =>
        Assert.Equal(Fixture.ProgramNames, Programs.Select(row => row.Data.Item1).Order(StringComparer.Ordinal));

    [Theory]
    [MemberData(nameof(Programs))]
    public void Our_verdict_and_message(string program, string? expected)
    {
        var result = Fixture.Ours(program, out _, out _);
        if (expected is null) Assert.True(result.Accepted, $"{result.Error}\n{result.Log}");
        else
        {
            Assert.False(result.Accepted, $"{program}: accepted\n{result.Log}");
            Assert.Contains(expected, result.Log);
        }
    }

    [Theory]
    [MemberData(nameof(Programs))]
    public void The_kernel_agrees(string program, string? expected)
    {
        VerifierFixture.RequireKernel();
        _ = expected;
        var ours = Fixture.Ours(program, out var prog, out var obj);
        using var bpffs = new TemporaryBpfFs();
        var (accepted, log) = Fixture.Kernel(obj, prog, pinRoot: bpffs.Path);
        Assert.True(accepted == ours.Accepted, $"{program}: kernel accepted={accepted}, ours={ours.Accepted}\n{log}\n--- ours ---\n{ours.Log}");
        if (!accepted)
        {
            Assert.True(Rejection.OfKernelLog(log) == Rejection.Of(ours), $"{program}: kernel {Rejection.OfKernelLog(log)}, ours {Rejection.Of(ours)}\n{log}\n--- ours ---\n{ours.Log}");
            // The kernel's last message line (after the last instruction) is in our log.
            string kernelTail = log.Split('\n').Reverse().SkipWhile(l => l.Length == 0 || l.StartsWith("processed ", StringComparison.Ordinal))
                .TakeWhile(l => !char.IsDigit(l.FirstOrDefault()) && !l.StartsWith(';')).FirstOrDefault() ?? "";
            Assert.Contains(kernelTail.Trim(), ours.Log);
        }
    }

    /// <summary>A netfilter program's skb dynptr reads the sk_buff it holds, not a test run's packet: the managed runtime
    /// refuses the program at load (the kernel loads it), never runs it wrong.</summary>
    [Fact]
    public void The_managed_runtime_refuses_a_netfilter_skb_dynptr()
    {
        using var b = TestBackend.Create(Backends.Managed);
        var e = Assert.Throws<BpfException>(() => b.LoadFixture(File, new ObjectLoadOptions { ProgramFilter = p => p.Name == "ok_netfilter_from_skb" }));
        Assert.Equal(Errno.ENOTSUPP, e.Errno);
        Assert.Contains("bpf_dynptr_from_skb in a Netfilter program is not supported by the managed runtime", e.Message);
    }

    /// <summary>(program, data_in length): tc and socket programs get an skb, xdp ones a frame (past a page, frags).</summary>
    public static TheoryData<string, int> RunPrograms => new()
    {
        { "run_tc_rw", 64 },
        { "run_tc_errors", 64 },
        { "run_tc_errors", 14 },
        { "run_socket_rdonly", 64 },
        { "run_tc_clone", 64 },
        { "run_tc_clone", 20 },
        { "run_local_copy", 64 },
        { "run_xdp_rw", 64 },
        { "run_xdp_frags", 64 },
        { "run_xdp_frags", 5000 },
        { "run_xdp_frags", 9000 },
        { "run_probe_read", 64 },
        { "run_xdp_probe_read", 5000 },
        { "run_xdp_probe_read", 64 },
    };

    private static TestRunResult RunOn(string backend, bool jit, string program, int length)
    {
        using var b = TestBackend.Create(backend);
        if (b.Runtime is { } rt) rt.JitEnabled = jit;
        using var c = b.LoadFixture(File, new ObjectLoadOptions { ProgramFilter = p => p.Name == program });
        // The map value the local and socket programs use: known bytes, so reads of it are compared too.
        var value = new byte[32];
        for (int i = 0; i < value.Length; i++) value[i] = (byte)(0x30 + i);
        c.Maps["vals"].Update(BitConverter.GetBytes(0u), value);
        return c.Programs[program].TestRun(new TestRunOptions { DataIn = Ebpf.Tests.Linux.KernelRequirement.Packet(length), DataSizeOut = 0 });
    }

    [Theory]
    [MemberData(nameof(RunPrograms))]
    public void Programs_return_what_the_kernel_returns(string program, int length)
    {
        if (!LinuxKernel.IsAvailable) Requirement.Missing(Requirement.Kernel, $"bpf(2) is not usable here: {LinuxKernel.UnavailableReason}");
        var kernel = RunOn(Backends.Linux, false, program, length);
        foreach (bool jit in new[] { false, true })
        {
            var ours = RunOn(Backends.Managed, jit, program, length);
            Assert.True(kernel.ReturnValue == ours.ReturnValue, $"{program} ({length} bytes, jit={jit}): kernel retval 0x{kernel.ReturnValue:x}, ours 0x{ours.ReturnValue:x}");
            Assert.Equal(kernel.DataSizeOut, ours.DataSizeOut);
            Assert.Equal(kernel.DataOut, ours.DataOut);
        }
    }
}
