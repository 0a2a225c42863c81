using Ebpf.Collections;
using Ebpf.Linux;
using Ebpf.Linux.Net;

namespace Ebpf.Tests.Linux.Net;

/// <summary>
/// Our netlink view of a device against xdp-tools' (xdp-loader 1.3, libxdp), both run inside the test's namespace: what
/// we attach, xdp-loader reports with the same name, mode, id and tag; what xdp-loader loads (on this kernel libxdp
/// refuses its dispatcher, since freplace is not permitted, and falls back to one program attached through netlink),
/// we report with the same id, held by no link, and it pins nothing.
/// </summary>
public class XdpLoaderDifferentialTests
{
    [Fact]
    public void XdpLoaderAndWeAgreeOnTheDevicesProgram()
    {
        string loader = ExternalTool.Require(Requirement.XdpTools, "xdp-loader", "the XDP differential runs xdp-tools' loader");
        using var veth = VethNamespace.Create();
        using var xdp = new XdpFixture();
        using var bpffs = new TemporaryBpfFs();
        int a = veth.A.Ifindex;
        ExternalTool.Result Loader(params string[] args) =>
            veth.Invoke(() => ExternalTool.Run("/usr/bin/env", ["LIBXDP_BPFFS=" + bpffs.Path, loader, .. args], TimeSpan.FromSeconds(60)));

        // Ours, through netlink (native) and then through a link (generic): xdp-loader status names it.
        veth.Invoke(() => XdpNetlink.Attach(a, xdp.Verdict, XdpFlags.DrvMode));
        Assert.Equal(["xdp_verdict", "native", xdp.VerdictId.ToString(), xdp.Verdict.GetInfo().TagHex], StatusRow(Loader("status", "xa"), "xa"));
        veth.Invoke(() => XdpNetlink.Attach(a, null, XdpFlags.DrvMode));
        using (var link = veth.Invoke(() => XdpLinks.Create(xdp.Second, a, XdpFlags.SkbMode)))
            Assert.Equal(["xdp_second", "skb", xdp.SecondId.ToString(), xdp.Second.GetInfo().TagHex], StatusRow(Loader("status", "xa"), "xa"));
        Assert.Equal(["<No", "XDP", "program", "loaded!>"], StatusRow(Loader("status", "xa"), "xa"));

        // Theirs: one program in generic mode, attached through netlink (no link holds it), nothing pinned.
        var load = Loader("load", "-m", "skb", "xa", SharedData.Fixture("xdp/linux/xdp_verdict.bpf.o"), "-n", "xdp_second");
        Assert.True(load.ExitCode == 0, load.Stderr);
        var state = veth.Invoke(() => LinuxBackend.Instance.XdpQuery(a));
        Assert.Equal(XdpAttachMode.Generic, state.AttachMode);
        Assert.Equal(0u, state.GenericLinkId);
        using (var theirs = KernelProgram.FromId(state.GenericProgramId))
        {
            var info = theirs.GetInfo();
            Assert.Equal(["xdp_second", "skb", info.Id.ToString(), info.TagHex], StatusRow(Loader("status", "xa"), "xa"));
            Assert.Equal(xdp.Second.GetInfo().TagHex, info.TagHex); // the same instructions as our load of that program
        }
        Assert.Empty(Directory.EnumerateFileSystemEntries(Path.Combine(bpffs.Path, "xdp")));

        var unload = Loader("unload", "xa", "--all");
        Assert.True(unload.ExitCode == 0, unload.Stderr);
        Assert.Equal(XdpAttachMode.None, veth.Invoke(() => LinuxBackend.Instance.XdpQuery(a)).AttachMode);
    }

    /// <summary>The words after the device name on its row of `xdp-loader status` (Prio and Chain actions are empty without a dispatcher).</summary>
    private static string[] StatusRow(ExternalTool.Result status, string device)
    {
        Assert.True(status.ExitCode == 0, status.Stderr);
        var row = status.Stdout.Split('\n').Select(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries)).SingleOrDefault(w => w.Length > 0 && w[0] == device);
        Assert.True(row is not null, $"no row for {device} in:\n{status.Stdout}");
        return row[1..];
    }
}
