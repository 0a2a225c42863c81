using Ebpf.Collections;
using Ebpf.Isa;
using Ebpf.Linux;
using Ebpf.Loading;
using Ebpf.Runtime;
using Ebpf.Tests.Linux;
using Ebpf.Tests.CoRe.Scenarios;

namespace Ebpf.Tests.CoRe;

/// <summary>
/// kfunc externs as libbpf handles them (kernel-semantics.md §4.9; libbpf's poison_kfunc_call and bpf_ksym_exists),
/// on vmlinux kfuncs this machine's kernel loads: tests/fixtures/core/ksyms. An absent __weak kfunc's call becomes an
/// invalid helper call (2002000000 + the extern's index) that loads when dead and is refused as an unknown helper
/// when reachable; bpf_ksym_exists loads 0 for it and a BPF_PSEUDO_BTF_ID of the FUNC for a present one.
/// </summary>
public class KfuncExternTests
{
    private static string Externs => SharedData.Fixture("core/ksyms/kfunc_externs.bpf.o");
    private static string Refused => SharedData.Fixture("core/ksyms/kfunc_refused.bpf.o");

    [Fact]
    public void Libbpf_and_our_linux_backend_hand_the_kernel_the_same_kfunc_extern_programs()
    {
        var libbpf = LibbpfDriver.Xlated(Externs);
        using var ours = LinuxKernel.LoadFile(Externs);
        Assert.Equal(3, libbpf.Count);
        Assert.Equal(libbpf.Keys.Order(StringComparer.Ordinal), ours.Programs.Keys.Order(StringComparer.Ordinal));
        foreach (var (name, prog) in ours.Programs)
        {
            var mine = prog.Kernel.GetTranslatedInstructions().Select(i => i.ToRaw()).ToList();
            Assert.True(libbpf[name].SequenceEqual(mine),
                $"{name}: libbpf {string.Join(' ', libbpf[name].Select(x => x.ToString("x16")))}\n ours {string.Join(' ', mine.Select(x => x.ToString("x16")))}");
        }
        // The kernel kept bpf_ksym_exists' lddw of bpf_rcu_read_lock as its address, non-zero.
        var exists = ours.Programs["present_exists"].Kernel.GetTranslatedInstructions();
        Assert.Contains(exists, i => i.IsLoadImm64);
    }

    [Theory, ClassData(typeof(Backends))]
    public void Guarded_absent_and_present_kfuncs_give_the_kernels_results(string backendName)
    {
        using var backend = TestBackend.Create(backendName);
        var log = new List<string>();
        using var c = backend.LoadFixture("core/ksyms/kfunc_externs.bpf.o", new ObjectLoadOptions
        {
            ProgramFilter = p => p.Name is "weak_guarded" or "present_exists",
            CoreDebugLog = log.Add,
        });
        Assert.Equal(2u, c.Programs["weak_guarded"].TestRun(new TestRunOptions { DataIn = new byte[64] }).ReturnValue);
        Assert.Equal(3u, c.Programs["present_exists"].TestRun(new TestRunOptions { DataIn = new byte[64] }).ReturnValue);
        // libbpf's debug line for the poisoned call (ebpf_no_such_kfunc is the third of three ksyms by name).
        Assert.Contains(log, l => l.StartsWith("prog 'weak_guarded': relo #", StringComparison.Ordinal)
            && l.EndsWith(": poisoning insn #5 that calls kfunc 'ebpf_no_such_kfunc'\n", StringComparison.Ordinal));
    }

    [Fact]
    public void The_poisoned_call_is_an_invalid_helper_call_naming_the_extern()
    {
        var spec = ObjectSpec.Load(Externs);
        var runtime = new Ebpf.Runtime.BpfRuntime();
        using var c = runtime.Load(spec, new ObjectLoadOptions { ProgramFilter = p => p.Name == "weak_guarded" });
        var sent = c.Programs["weak_guarded"].Program.Definition.Instructions;
        // libbpf's extern order: bpf_rcu_read_lock, bpf_rcu_read_unlock, ebpf_no_such_kfunc → index 2.
        var call = Assert.Single(sent, i => i.IsCall);
        Assert.Equal((0, 0, (short)0, 2002000002), (call.Dst, call.Src, call.Offset, call.Imm));
        // bpf_ksym_exists of the absent kfunc is the constant 0.
        var lddw = sent.Select((insn, at) => (insn, at)).First(x => x.insn.IsLoadImm64);
        Assert.Equal((0, 0, 0), (lddw.insn.Src, lddw.insn.Imm, sent[lddw.at + 1].Imm));
    }

    [Theory, ClassData(typeof(Backends))]
    public void A_reachable_absent_weak_kfunc_call_is_refused_as_an_unknown_helper(string backendName)
    {
        using var backend = TestBackend.Create(backendName);
        var e = Assert.Throws<BpfException>(() => backend.LoadFixture("core/ksyms/kfunc_refused.bpf.o"));
        Assert.Equal(Errno.EINVAL, e.Errno);
        // Kconfig LINUX_KERNEL_VERSION first, then ebpf_absent_a, ebpf_absent_b: index 2.
        Assert.Contains("invalid func unknown#2002000002\n", e.Log);
    }

    [Theory, ClassData(typeof(Backends))]
    public void A_weak_kfunc_whose_prototype_differs_from_the_kernels_counts_as_absent(string backendName)
    {
        using var backend = TestBackend.Create(backendName);
        using var c = backend.LoadFixture("core/ksyms/kfunc_incompatible.bpf.o", new ObjectLoadOptions { ProgramFilter = p => p.Name == "incompatible_weak" });
        Assert.Equal(7u, c.Programs["incompatible_weak"].TestRun(new TestRunOptions { DataIn = new byte[64] }).ReturnValue);
    }

    [Theory, ClassData(typeof(Backends))]
    public void A_strong_kfunc_whose_prototype_differs_from_the_kernels_fails_the_load(string backendName)
    {
        using var backend = TestBackend.Create(backendName);
        var e = Assert.Throws<BpfException>(() => backend.LoadFixture("core/ksyms/kfunc_incompatible.bpf.o",
            new ObjectLoadOptions { ProgramFilter = p => p.Name == "incompatible_strong" }));
        Assert.Equal(Errno.EINVAL, e.Errno);
        if (!File.Exists("/sys/kernel/btf/vmlinux"))
            Requirement.Missing(Requirement.Vmlinux, "/sys/kernel/btf/vmlinux not present");
        var vmlinux = Ebpf.Btf.BtfSpec.Parse(File.ReadAllBytes("/sys/kernel/btf/vmlinux"));
        uint kernelProto = ((Ebpf.Btf.BtfFunc)vmlinux.FindByName("bpf_rcu_read_lock", Ebpf.Btf.BtfKind.Func)!).ProtoType;
        Assert.Matches($@"extern \(func ksym\) 'bpf_rcu_read_lock': func_proto \[\d+\] incompatible with vmlinux \[{kernelProto}\]$", e.Message);
    }

    [Fact]
    public void The_managed_verifier_and_the_kernel_agree_on_the_refused_program_log_line()
    {
        KernelRequirement.Require();
        var kernel = Assert.Throws<BpfException>(() => LinuxKernel.LoadFile(Refused));
        var managed = Assert.Throws<BpfException>(() => new Ebpf.Runtime.BpfRuntime().Load(ObjectSpec.Load(Refused)));
        Assert.Equal(kernel.Errno, managed.Errno);
        string Last(string log) => log.Split('\n', StringSplitOptions.RemoveEmptyEntries).Last(l => !l.StartsWith("processed ", StringComparison.Ordinal));
        Assert.Equal(Last(kernel.Log!), Last(managed.Log!));
    }
}
