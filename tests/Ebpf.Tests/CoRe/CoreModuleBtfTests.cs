using Ebpf.Btf;
using Ebpf.CoRe;
using BtfData = Ebpf.Btf.BtfSpec;

namespace Ebpf.Tests.CoRe;

/// <summary>
/// Candidate search over split module BTF (kernel-semantics.md §4.4, §4.9): vmlinux first; modules only when
/// vmlinux has no candidate; a module's own types start after its base's; a custom target never consults modules.
/// </summary>
public class CoreModuleBtfTests
{
    private readonly CoreTestKit _kit = new();

    private static (BtfData Vmlinux, BtfData Module) Kernel()
    {
        var vb = new BtfBuilder();
        uint i = vb.AddInt("int", 4, BtfIntEncoding.Signed);
        vb.AddStructLayout("in_both", ("x", i));
        var vmlinux = BtfData.Parse(vb.ToBytes());
        var mb = new BtfBuilder(vmlinux);
        uint l = mb.AddInt("long", 8, BtfIntEncoding.Signed);
        mb.AddStructLayout("only_in_module", ("pad", l), ("x", i));
        mb.AddStructLayout("in_both", ("pad", l), ("x", i));
        return (vmlinux, BtfData.Parse(mb.ToBytes(), vmlinux));
    }

    private static BtfData Local() => CoreTestKit.Build(b =>
    {
        uint i = b.AddInt("int", 4, BtfIntEncoding.Signed);
        b.AddStructLayout("only_in_module", ("x", i));
        b.AddStructLayout("in_both", ("x", i));
    });

    private CoreRelocationResult Resolve(CoreTargets targets, BtfData local, string root) =>
        new CoreRelocator(local, targets, new CoreLog { Debug = _kit.Debug.Add }).Resolve("prog", 0,
            new CoreRelocation(0, CoreTestKit.Id(local, root), "0:0", BtfCoreReloKind.FieldByteOffset));

    [Fact]
    public void A_type_only_a_module_has_is_found_in_the_module()
    {
        var (vmlinux, module) = Kernel();
        var targets = new CoreTargets(new CoreTargetBtf("vmlinux", vmlinux), [new CoreTargetBtf("my_mod", module)]);
        var r = Resolve(targets, Local(), "only_in_module");
        Assert.Equal(8ul, r.New);
        Assert.Equal("my_mod", r.TargetBtfName);
        Assert.True(r.Target!.RootTypeId >= module.FirstTypeId);
        Assert.Contains(_kit.Debug, l => l.Contains("found target candidate") && l.EndsWith("in [my_mod]", StringComparison.Ordinal));
    }

    [Fact]
    public void Vmlinux_candidates_win_and_modules_are_not_consulted()
    {
        var (vmlinux, module) = Kernel();
        var targets = new CoreTargets(new CoreTargetBtf("vmlinux", vmlinux), [new CoreTargetBtf("my_mod", module)]);
        var r = Resolve(targets, Local(), "in_both");
        Assert.Equal(0ul, r.New);
        Assert.Equal("vmlinux", r.TargetBtfName);
        Assert.DoesNotContain(_kit.Debug, l => l.Contains("[my_mod]"));
    }

    [Fact]
    public void A_custom_target_never_consults_modules()
    {
        var (vmlinux, module) = Kernel();
        var targets = new CoreTargets(new CoreTargetBtf("custom", vmlinux), [new CoreTargetBtf("my_mod", module)], isCustom: true);
        Assert.True(Resolve(targets, Local(), "only_in_module").Poison);
    }
}
