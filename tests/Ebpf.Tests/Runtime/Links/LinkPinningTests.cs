using Ebpf.Abi;
using Ebpf.Runtime;
using Ebpf.Runtime.Links;
using Ebpf.Runtime.Objects;
using static Ebpf.Tests.Runtime.Links.LinkFixtures;

namespace Ebpf.Tests.Runtime.Links;

/// <summary>prog_tests/link_pinning.c on a tracing link: a pin keeps the attachment; the last reference's release detaches it (§1.6, §1.7).</summary>
public class LinkPinningTests
{
    [Fact]
    public void A_pinned_extension_link_outlives_its_handle_and_unpinning_the_last_reference_detaches_it()
    {
        var rt = new BpfRuntime();
        using var target = rt.Load(Spec("target"));
        var serve = target.Programs["serve"];
        using var ext = rt.Load(Spec("ext"), serve);
        var link = ext.Programs["new_check"].AttachExtension(serve, "check");
        uint id = link.Id;
        rt.Pins.Pin(link, "/sys/fs/bpf/check_link");
        link.Dispose();
        Assert.Equal(Extended, Run(rt, serve)); // the pin holds it
        var reopened = (BpfLink)rt.Pins.Get("/sys/fs/bpf/check_link");
        rt.Pins.Unpin("/sys/fs/bpf/check_link");
        Assert.Equal(Extended, Run(rt, serve)); // the re-opened handle holds it
        Assert.Equal(id, rt.GetNextId(ObjectKind.Link, 0));
        reopened.Dispose();
        Assert.Equal(Original, Run(rt, serve)); // released synchronously: the extension is gone at once
        Assert.Equal(Errno.ENOENT, Assert.Throws<BpfException>(() => rt.OpenLinkById(id)).Errno);
        Assert.Equal(Errno.ENOENT, Assert.Throws<BpfException>(() => rt.GetNextId(ObjectKind.Link, 0)).Errno);
    }

    [Fact]
    public void A_failed_attach_never_exposes_a_link_id()
    {
        var rt = new BpfRuntime();
        using var target = rt.Load(Spec("target"));
        var serve = target.Programs["serve"];
        using var ext = rt.Load(Spec("ext"), serve);
        using var other = rt.Load(SpecWith("ext_variants", "minus_check"), serve);
        using var link = ext.Programs["new_check"].AttachExtension(serve, "check");
        Assert.Throws<BpfException>(() => other.Programs["minus_check"].AttachExtension(serve, "check"));
        Assert.Equal([link.Id], rt.GetIds(ObjectKind.Link));
        Assert.Equal(1, other.Programs["minus_check"].Program.ReferenceCount); // the failed link did not keep the program
    }

    [Fact]
    public void Unpinning_a_program_with_a_live_link_keeps_it_running()
    {
        var rt = new BpfRuntime();
        var target = rt.Load(Spec("target"));
        var serve = target.Programs["serve"].Duplicate();
        var ext = rt.Load(Spec("ext"), serve);
        var link = ext.Programs["new_check"].AttachExtension(serve, "check");
        uint extId = ext.Programs["new_check"].Id;
        rt.Pins.Pin(link, "/sys/fs/bpf/l");
        link.Dispose();
        ext.Dispose(); // the extension program now lives through the pinned link only
        target.Dispose();
        Assert.NotNull(rt.FindObject(ObjectKind.Program, extId));
        Assert.Equal(Extended, Run(rt, serve));
        rt.Pins.Unpin("/sys/fs/bpf/l");
        Assert.Null(rt.FindObject(ObjectKind.Program, extId)); // link released → program released
        Assert.Equal(Original, Run(rt, serve));
        serve.Dispose();
        Assert.Empty(rt.GetIds(ObjectKind.Program));
        Assert.Equal(0, rt.Trampolines.Count);
    }
}
