using Ebpf.Abi;
using Ebpf.Btf;
using Ebpf.Linux.Collections;
using Ebpf.Loading;
using Ebpf.Runtime;
using Ebpf.Tests.Linux;
using Ebpf.Verification;

namespace Ebpf.Tests.Loading;

/// <summary>
/// What the loaders cannot honour is refused with EOPNOTSUPP naming it, in both backends: CO-RE relocations
/// (not applied yet) and strong .kconfig externs nobody can supply. Weak externs read libbpf's default, 0.
/// Opening and verifying such an object stays possible.
/// </summary>
public class LoaderRefusalTests
{
    private static ObjectSpec Fixture(string name) => ObjectSpec.Load(SharedData.Fixture($"loading/{name}.bpf.o"));

    [Fact]
    public void A_CO_RE_object_opens_and_lists_its_relocation()
    {
        var spec = Fixture("core_reloc");
        var prog = Assert.Single(spec.Programs);
        prog.EnsureResolved();
        var relo = Assert.Single(prog.CoreRelocations, r => r.Kind == BtfCoreReloKind.FieldByteOffset && r.AccessString == "0:1");
        Assert.True(relo.InstructionIndex >= 0 && relo.InstructionIndex < prog.Instructions.Length);
        // The verifier still runs on the spec (with the compiler's offsets), as the corpus tests need.
        var input = ProgramSpecInput.Create(spec, prog, logLevel: 0);
        var result = Verifier.Verify(new VerifierInput { Instructions = input.Instructions, ProgramType = input.ProgramType, MapsByIndex = input.MapsByIndex });
        Assert.True(result.Accepted, result.Error);
    }

    [Fact]
    public void The_managed_runtime_refuses_a_program_with_CO_RE_relocations()
    {
        var spec = Fixture("core_reloc");
        var e = Assert.Throws<BpfException>(() => new BpfRuntime().Load(spec));
        Assert.Equal(Errno.EOPNOTSUPP, e.Errno);
        Assert.Contains("read_end", e.Message);
        // The first relocation (ctx->data, at insn 0) is named; the count says how many more there are.
        Assert.Contains("insn 0: CO-RE relocation byte_off of type [", e.Message);
        Assert.Contains("access '0:0' (and 1 more)", e.Message);
    }

    [Fact]
    public void The_Linux_loader_refuses_a_program_with_CO_RE_relocations()
    {
        KernelRequirement.Require();
        var spec = Fixture("core_reloc");
        var e = Assert.Throws<BpfException>(() => LinuxCollection.Load(spec));
        Assert.Equal(Errno.EOPNOTSUPP, e.Errno);
        Assert.Contains("byte_off", e.Message);
    }

    [Fact]
    public void The_managed_runtime_refuses_a_strong_kconfig_extern_naming_it()
    {
        var e = Assert.Throws<BpfException>(() => new BpfRuntime().Load(Fixture("kconfig_strong")));
        Assert.Equal(Errno.EOPNOTSUPP, e.Errno);
        Assert.Contains("CONFIG_EBPF_NET_NOT_A_REAL_OPTION", e.Message);
    }

    [Fact]
    public void The_Linux_loader_refuses_a_strong_kconfig_extern_the_kernel_config_lacks()
    {
        KernelRequirement.Require();
        var e = Assert.Throws<BpfException>(() => LinuxCollection.Load(Fixture("kconfig_strong")));
        Assert.Equal(Errno.EOPNOTSUPP, e.Errno);
        Assert.Contains("CONFIG_EBPF_NET_NOT_A_REAL_OPTION", e.Message);
    }

    [Fact]
    public void Weak_kconfig_externs_read_zero_in_the_managed_runtime()
    {
        var rt = new BpfRuntime();
        using var collection = rt.Load(Fixture("kconfig_weak"));
        var r = rt.TestRun(collection.Programs["weak_kconfig"], new TestRunOptions { DataIn = new byte[64] });
        Assert.Equal(7u, r.ReturnValue);
    }

    [Fact]
    public void Weak_kconfig_externs_read_zero_in_the_kernel()
    {
        KernelRequirement.Require();
        using var collection = LinuxCollection.Load(Fixture("kconfig_weak"));
        Assert.Single(collection.Programs);
    }
}
