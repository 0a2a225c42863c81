using Ebpf.Btf;
using Ebpf.Collections;
using Ebpf.Elf;
using Ebpf.Linux;
using Ebpf.Loading;
using Ebpf.Runtime;
using Ebpf.Verification;

namespace Ebpf.Tests.Verification;

/// <summary>
/// struct_ops end to end (tests/fixtures/struct_ops): the loader turns .struct_ops / .struct_ops.link variables into
/// BPF_MAP_TYPE_STRUCT_OPS maps and gives each referenced program attach_btf_id = the kernel struct and
/// expected_attach_type = its member's index; our verifier checks each program as check_struct_ops_btf_id and
/// btf_ctx_access do, and the live kernel loads the same program (verdict, and for a rejection its last line in our
/// log). The Linux backend registers tcp_congestion_ops with the kernel (plain map and link) and unregisters it; the
/// managed runtime refuses struct_ops maps with a typed error.
/// </summary>
public class StructOpsFixtureTests
{
    private static readonly VerifierFixture Rules = new("struct_ops/rules.bpf.o");

    /// <summary>(program, null when accepted, else a line our log must contain).</summary>
    public static TheoryData<string, string?> Programs => new()
    {
        { "ok_ssthresh", null },
        { "ok_cong_avoid", null },
        { "ok_helper", null },
        { "bad_get_info", "attach to unsupported member get_info of struct tcp_congestion_ops" },
        { "bad_ctx_write", "invalid bpf_context access off=0 size=8" },
        { "bad_ctx_arg", "func 'undo_cwnd' doesn't have 3-th argument" },
        { "bad_ctx_narrow", "func 'ssthresh' size 4 must be 8" },
        { "bad_helper", "program of this type cannot use helper bpf_get_route_realm#24" },
        { "ok_setsockopt", null },
        { "bad_setsockopt_release", "program of this type cannot use helper bpf_setsockopt#49" },
        { "bad_setsockopt_ctx", "R1 type=ctx expected=" },
        { "dummy_helper", "program of this type cannot use helper bpf_ktime_get_ns#5" },
        { "dummy_write_state", null },
        { "w_cwnd", null },
        { "w_pacing", null },
        { "w_app_limited", null },
        { "w_bad_field", "no write support to tcp_sock at off " },
        { "w_bad_size", "with size 8 beyond the member of tcp_sock ended at " },
        { "tcp_sleepable", null },
        { "void_no_r0", null },
        { "u32_no_r0", "R0 !read_ok" },
        { "dummy_null_checked", null },
        { "dummy_null_unchecked", "invalid mem access" },
        { "dummy_test_2", null },
        { "dummy_sleepable_ok", null },
        { "dummy_sleepable_test_1", "attach to unsupported member test_1 of struct bpf_dummy_ops" },
    };

    private static readonly VerifierFixture Kfuncs = new("struct_ops/kfuncs.bpf.o");

    /// <summary>kfuncs.bpf.c: (program, null when accepted, else a line our log must contain).</summary>
    public static TheoryData<string, string?> KfuncPrograms => new()
    {
        { "k_ssthresh", null },
        { "k_cong_avoid", null },
        { "k_undo", null },
        { "k_bad_arg", "arg#0 pointer type STRUCT sock must point to scalar, or struct with scalar" },
        // check_return_code: with allow_ptr_leaks (root) a pointer may be returned from a scalar member.
        { "k_leak", null },
    };

    [Theory]
    [MemberData(nameof(KfuncPrograms))]
    public void Kfunc_calls_agree_with_the_kernel(string program, string? expected) => Compare(Kfuncs, program, expected);

    private static void Compare(VerifierFixture fixture, string program, string? expected)
    {
        var ours = fixture.Ours(program, out var prog, out var obj);
        if (expected is null) Assert.True(ours.Accepted, $"{ours.Error}\n{ours.Log}");
        else
        {
            Assert.False(ours.Accepted, $"{program}: accepted\n{ours.Log}");
            Assert.True(ours.Log.Contains(expected, StringComparison.Ordinal), $"{program}: no '{expected}' in\n{ours.Log}");
        }
        VerifierFixture.RequireKernel();
        var (accepted, log) = fixture.Kernel(obj, prog);
        Assert.True(accepted == ours.Accepted, $"{program}: kernel accepted={accepted}, ours={ours.Accepted}\n{log}\n--- ours ---\n{ours.Log}");
        if (!accepted)
            Assert.Contains(LastLine(log), ours.Log);
    }

    private static string LastLine(string log) =>
        log.Split('\n').Reverse().SkipWhile(l => l.Length == 0 || l.StartsWith("processed ", StringComparison.Ordinal)
            || l.StartsWith("verification time", StringComparison.Ordinal) || l.StartsWith("stack depth", StringComparison.Ordinal))
            .FirstOrDefault()?.Trim() ?? "";

    [Theory]
    [MemberData(nameof(Programs))]
    public void Our_verdict_and_message(string program, string? expected)
    {
        var result = Rules.Ours(program, out _, out _);
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
        var ours = Rules.Ours(program, out var prog, out var obj);
        var (accepted, log) = Rules.Kernel(obj, prog);
        Assert.True(accepted == ours.Accepted, $"{program}: kernel accepted={accepted}, ours={ours.Accepted}\n{log}\n--- ours ---\n{ours.Log}");
        if (!accepted)
        {
            string kernelLine = log.Split('\n').Reverse().SkipWhile(l => l.Length == 0 || l.StartsWith("processed ", StringComparison.Ordinal)
                || l.StartsWith("verification time", StringComparison.Ordinal) || l.StartsWith("stack depth", StringComparison.Ordinal))
                .FirstOrDefault() ?? "";
            Assert.Contains(kernelLine.Trim(), ours.Log);
        }
    }

    [Fact]
    public void The_loader_makes_struct_ops_maps_and_binds_programs_to_members()
    {
        var obj = ObjectSpec.Load(SharedData.Fixture("struct_ops/tcp_ca.bpf.o"));
        var plain = obj.Maps.Single(m => m.Name == "ebpf_ca");
        var link = obj.Maps.Single(m => m.Name == "ebpf_ca_link");
        Assert.Equal(Abi.MapType.StructOps, plain.Type);
        Assert.Equal(Abi.MapFlags.None, plain.Flags);
        Assert.Equal(Abi.MapFlags.Link, link.Flags);
        var vmlinux = BtfSpec.LoadVmlinux();
        var (maps, programs) = StructOpsBinding.BindAll(obj, vmlinux);
        uint tcpCa = vmlinux.FindAllByName("tcp_congestion_ops", BtfKind.Struct).First();
        var kern = (BtfStruct)vmlinux.GetType(tcpCa);
        int Index(string member) => kern.Members.Select((m, i) => (m, i)).First(x => x.m.Name == member).i;
        Assert.Equal((tcpCa, Index("ssthresh")), programs["ebpf_ssthresh"]);
        Assert.Equal((tcpCa, Index("init")), programs["ebpf_init"]);
        var binding = maps.Single(b => b.MapName == "ebpf_ca");
        Assert.Equal(vmlinux.FindAllByName("bpf_struct_ops_tcp_congestion_ops", BtfKind.Struct).First(), binding.ValueTypeId);
        // The name (a data member) is copied into the kernel struct inside the wrapper.
        int dataOff = (int)((BtfStruct)vmlinux.GetType(binding.ValueTypeId)).Members.Last().BitOffset / 8;
        int nameOff = (int)kern.Members[Index("name")].BitOffset / 8;
        Assert.Equal("ebpf_ca", System.Text.Encoding.ASCII.GetString(binding.Image, dataOff + nameOff, 7));
    }

    [Fact]
    public void A_program_no_map_references_is_refused_as_libbpf_refuses_it()
    {
        VerifierFixture.RequireKernel();
        var obj = ObjectSpec.Load(Rules.Path);
        var e = Assert.Throws<BpfException>(() => LinuxKernel.Load(obj, new ObjectLoadOptions
        {
            Elf = ElfFile.Open(Rules.Path), ProgramFilter = p => p.Name == "forgotten",
        }));
        Assert.Equal(Errno.EINVAL, e.Errno);
        Assert.Contains("prog 'forgotten': SEC(\"struct_ops\") program isn't referenced anywhere, did you forget to use it?", e.Message);
    }

    [Fact]
    public void A_non_gpl_struct_ops_program_is_refused_by_both()
    {
        var fixture = new VerifierFixture("struct_ops/nongpl.bpf.o");
        var ours = fixture.Ours("nongpl_ssthresh", out var prog, out var obj);
        Assert.False(ours.Accepted);
        Assert.Contains("struct ops programs must have a GPL compatible license", ours.Log);
        var (accepted, log) = fixture.Kernel(obj, prog);
        Assert.False(accepted);
        Assert.Contains("struct ops programs must have a GPL compatible license", log);
    }

    [Fact]
    public void The_managed_runtime_refuses_struct_ops_maps_naming_what_it_lacks()
    {
        var runtime = new BpfRuntime();
        var e = Assert.Throws<BpfException>(() => runtime.Load(ObjectSpec.Load(SharedData.Fixture("struct_ops/tcp_ca.bpf.o"))));
        Assert.Equal(Errno.EOPNOTSUPP, e.Errno);
        Assert.Contains("struct_ops maps are not supported", e.Message);
        Assert.Contains("tcp_congestion_ops", e.Message);
    }

    /// <summary>
    /// BPF_PROG_TEST_RUN of bpf_dummy_ops programs (bpf_struct_ops_test_run): ctx_in holds the member's u64 arguments,
    /// the first a user pointer to a bpf_dummy_ops_state the kernel copies in and back out (0: the program sees NULL).
    /// </summary>
    [Fact]
    public unsafe void The_kernel_test_runs_bpf_dummy_ops_programs()
    {
        VerifierFixture.RequireKernel();
        using var collection = LinuxKernel.Load(ObjectSpec.Load(Rules.Path), new ObjectLoadOptions
        {
            Elf = ElfFile.Open(Rules.Path), ProgramFilter = p => p.Name is "dummy_null_checked" or "dummy_write_state",
        });
        int* state = (int*)System.Runtime.InteropServices.NativeMemory.AllocZeroed(64);
        try
        {
            byte[] Args(params ulong[] args) => args.SelectMany(BitConverter.GetBytes).ToArray();
            *state = 42;
            var read = collection.Programs["dummy_null_checked"].TestRun(new TestRunOptions { ContextIn = Args((ulong)state) });
            Assert.Equal(42u, read.ReturnValue);
            var none = collection.Programs["dummy_null_checked"].TestRun(new TestRunOptions { ContextIn = Args(0) });
            Assert.Equal(0u, none.ReturnValue);
            var write = collection.Programs["dummy_write_state"].TestRun(new TestRunOptions { ContextIn = Args((ulong)state, 7, 0, 0, 0) });
            Assert.Equal(0u, write.ReturnValue);
            Assert.Equal(7, *state); // written by the program, copied back by the kernel
        }
        finally
        {
            System.Runtime.InteropServices.NativeMemory.Free(state);
        }
    }

    [Fact]
    public void The_linux_backend_registers_tcp_congestion_ops_and_unregisters_it()
    {
        VerifierFixture.RequireKernel();
        const string available = "/proc/sys/net/ipv4/tcp_available_congestion_control";
        string path = SharedData.Fixture("struct_ops/tcp_ca.bpf.o");
        using var collection = LinuxKernel.Load(ObjectSpec.Load(path), new ObjectLoadOptions { Elf = ElfFile.Open(path) });
        Assert.Equal(4, collection.Programs.Count);
        Assert.Equal(Abi.MapType.StructOps, collection.Maps["ebpf_ca"].GetInfo().Type);
        Assert.DoesNotContain("ebpf_ca", File.ReadAllText(available).Split(' ', '\n'));
        using (collection.Maps["ebpf_ca"].AttachStructOps())
        {
            Assert.Contains("ebpf_ca", File.ReadAllText(available).Split(' ', '\n'));
            using (collection.Maps["ebpf_ca_link"].AttachStructOps())
                Assert.Contains("ebpf_ca_link", File.ReadAllText(available).Split(' ', '\n'));
            Assert.DoesNotContain("ebpf_ca_link", File.ReadAllText(available).Split(' ', '\n'));
        }
        Assert.DoesNotContain("ebpf_ca", File.ReadAllText(available).Split(' ', '\n'));
    }
}
