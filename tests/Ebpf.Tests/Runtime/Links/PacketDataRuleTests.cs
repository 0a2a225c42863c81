using Ebpf.Runtime;
using static Ebpf.Tests.Runtime.Links.LinkFixtures;

namespace Ebpf.Tests.Runtime.Links;

/// <summary>
/// Rule P6 (kernel 6.13+, kernel-semantics.md §2.2) on clang-built objects: an extension that may change packet data
/// can replace only a function that may too, because callers of a global function invalidate their packet pointers
/// only when it changes packet data. Checked at load (with the log line) and at re-attach (errno only).
/// </summary>
public class PacketDataRuleTests
{
    [Fact]
    public void An_extension_that_changes_packet_data_replaces_only_a_function_that_does()
    {
        var rt = new BpfRuntime();
        using var target = rt.Load(Spec("pkt_target"));
        var serve = target.Programs["pkt_serve"];
        Assert.Equal(2u, Run(rt, serve)); // adjust 2 + measure 2 - 2

        var e = Assert.Throws<BpfException>(() => rt.Load(SpecWith("ext_pkt", "new_measure"), serve));
        Assert.Equal(Errno.EINVAL, e.Errno);
        Assert.Contains("Extension program changes packet data, while original does not", e.Log);
        Assert.Equal(1, serve.Program.ReferenceCount); // a refused load keeps no reference on the target

        using var plain = rt.Load(SpecWith("ext_pkt", "plain_measure"), serve);
        using var plainLink = plain.Programs["plain_measure"].AttachExtension(serve, "measure");
        Assert.Equal(4u, Run(rt, serve)); // adjust 2 + plain_measure 4 - 2

        using var changing = rt.Load(SpecWith("ext_pkt", "new_adjust"), serve);
        var newAdjust = changing.Programs["new_adjust"];
        using (newAdjust.AttachExtension(serve, "adjust"))
            Assert.Equal(5u, Run(rt, serve)); // new_adjust 3 + plain_measure 4 - 2

        // Re-attach (§2.5): an explicit target is checked again; measure() of a second instance does not change packet data.
        using var second = rt.Load(Spec("pkt_target"));
        var reattach = Assert.Throws<BpfException>(() => newAdjust.AttachExtension(second.Programs["pkt_serve"], "measure"));
        Assert.Equal(Errno.EINVAL, reattach.Errno);
        using var ok = newAdjust.AttachExtension(second.Programs["pkt_serve"], "adjust");
        Assert.Equal(3u, Run(rt, second.Programs["pkt_serve"])); // new_adjust 3 + measure 2 - 2
    }
}
