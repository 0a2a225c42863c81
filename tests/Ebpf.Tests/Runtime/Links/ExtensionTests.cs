using Ebpf.Abi;
using Ebpf.Runtime;
using Ebpf.Runtime.Links;
using static Ebpf.Tests.Runtime.Links.LinkFixtures;

namespace Ebpf.Tests.Runtime.Links;

/// <summary>freplace on BPF targets: load against a target, attach, run, detach (kernel-semantics.md §2.2, §2.5, §2.7).</summary>
public class ExtensionTests
{
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Extension_replaces_check_until_its_link_goes(bool jit)
    {
        var rt = new BpfRuntime { JitEnabled = jit };
        using var target = rt.Load(Spec("target"));
        var serve = target.Programs["serve"];
        Assert.Equal(Original, Run(rt, serve));
        using var ext = rt.Load(Spec("ext"), serve);
        var newCheck = ext.Programs["new_check"];
        Assert.Equal(Original, Run(rt, serve)); // loaded, not attached
        var link = newCheck.AttachExtension(serve, "check");
        Assert.Equal(Extended, Run(rt, serve));
        Assert.Equal(Extended, Run(rt, serve));
        Assert.Equal(2ul, Global(ext, ".bss", 0));
        Assert.True(serve.Program.IsExtended);
        link.Dispose();
        Assert.Equal(Original, Run(rt, serve));
        Assert.False(serve.Program.IsExtended);
        Assert.Equal(2ul, Global(ext, ".bss", 0));
    }
}
