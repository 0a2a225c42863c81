using Ebpf.Linux;
using Ebpf.Abi;
using Ebpf.Btf;
using Ebpf.Loading;
using Ebpf.Runtime;
using Ebpf.Tests.Linux;
using Ebpf.Verification;

namespace Ebpf.Tests.Loading;

/// <summary>
/// What the loaders cannot honour is refused with EOPNOTSUPP naming it, in both backends: strong .kconfig externs
/// nobody can supply (weak externs read libbpf's default, 0). CO-RE relocations are applied by both loaders against
/// the target BTF; a relocation the target cannot satisfy is poisoned, and the verifier refuses it where it is reachable.
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

    private static string TargetWithoutDataEnd(string dir) => CoRe.CoreTestKit.WriteXdpMdWithoutDataEnd(dir);

    [Fact]
    public void The_managed_runtime_relocates_CO_RE_against_its_target_btf()
    {
        var local = BtfCoreTarget(out var vmlinux);
        var rt = new BpfRuntime { KernelBtf = local };
        using var objects = rt.Load(Fixture("core_reloc"));
        var frame = new byte[64];
        Assert.Equal(2u, rt.TestRun(objects.Programs["read_end"], new TestRunOptions { DataIn = frame }).ReturnValue);   // XDP_PASS
        Assert.Equal(2u, rt.TestRun(objects.Programs["read_end"], new TestRunOptions { DataIn = new byte[14] }).ReturnValue);
        _ = vmlinux;

        string dir = Directory.CreateTempSubdirectory("ebpf-core-").FullName;
        try
        {
            var e = Assert.Throws<BpfException>(() => new BpfRuntime().Load(Fixture("core_reloc"), new ObjectLoadOptions { BtfCustomPath = TargetWithoutDataEnd(dir) }));
            Assert.Equal(Errno.EINVAL, e.Errno);
            Assert.Contains("invalid func unknown#195896080", e.Log ?? e.Message);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    /// <summary>This machine's vmlinux as the CO-RE target (the fixture's xdp_md___local resolves to the kernel's xdp_md).</summary>
    private static Ebpf.CoRe.CoreTargets BtfCoreTarget(out Ebpf.Btf.BtfSpec vmlinux)
    {
        if (!File.Exists("/sys/kernel/btf/vmlinux"))
            Requirement.Missing(Requirement.Vmlinux, "/sys/kernel/btf/vmlinux not present");
        vmlinux = Ebpf.Btf.BtfSpec.LoadVmlinux();
        return new Ebpf.CoRe.CoreTargets(new Ebpf.CoRe.CoreTargetBtf("vmlinux", vmlinux));
    }

    [Fact]
    public void The_Linux_loader_relocates_CO_RE_and_the_kernel_runs_it_as_the_runtime_does()
    {
        KernelRequirement.Require();
        using var collection = LinuxKernel.Load(Fixture("core_reloc"));
        var prog = collection.Programs["read_end"];
        Assert.Equal(2u, prog.TestRun(new TestRunOptions { DataIn = new byte[64], DataSizeOut = 0 }).ReturnValue);
        Assert.Equal(2u, prog.TestRun(new TestRunOptions { DataIn = new byte[14], DataSizeOut = 0 }).ReturnValue);

        string dir = Directory.CreateTempSubdirectory("ebpf-core-").FullName;
        try
        {
            var e = Assert.Throws<BpfException>(() => LinuxKernel.Load(Fixture("core_reloc"), new ObjectLoadOptions { BtfCustomPath = TargetWithoutDataEnd(dir) }));
            Assert.Contains("invalid func unknown#195896080", e.Log ?? e.Message);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
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
        var e = Assert.Throws<BpfException>(() => LinuxKernel.Load(Fixture("kconfig_strong")));
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
        using var collection = LinuxKernel.Load(Fixture("kconfig_weak"));
        Assert.Single(collection.Programs);
    }
}
