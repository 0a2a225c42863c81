using Ebpf.Linux;
using Ebpf.Linux.Net;

namespace Ebpf.Tests.Linux.Net;

/// <summary>
/// `ebpf --backend linux dev|net` on real devices, run inside a private namespace (the CLI in-process on the namespace's
/// thread, bpftool as a child of it): `net show` must print what `bpftool net show` prints for the same devices.
/// </summary>
public class NetCliLinuxTests
{
    [Fact]
    public void NetVerbsOnTheKernelMatchBpftoolNetShow()
    {
        string bpftool = ExternalTool.Require(Requirement.Bpftool, "bpftool", "net show is compared with bpftool's");
        KernelRequirement.Require();
        using var ns = NetworkNamespace.Create();
        using var bpffs = new TemporaryBpfFs();
        string obj = SharedData.Fixture("xdp/linux/xdp_verdict.bpf.o");
        string pins = Path.Combine(bpffs.Path, "x");
        CliRunner.Result Cli(params string[] args) => ns.Invoke(() => CliRunner.Run(["--backend", "linux", .. args]));
        string BpftoolNetShow(params string[] args) => ns.Invoke(() => ExternalTool.Run(bpftool, ["net", "show", .. args])).Stdout;

        var added = Cli("dev", "add", "veth0", "type", "veth", "peer", "veth1");
        Assert.True(added.ExitCode == 0, added.Stderr);
        Assert.Equal(0, Cli("prog", "loadall", obj, pins).ExitCode);
        var attach = Cli("net", "attach", "xdp", "pinned", Path.Combine(pins, "xdp_verdict"), "dev", "veth0");
        Assert.True(attach.ExitCode == 0, attach.Stderr);
        Assert.Equal(0, Cli("net", "attach", "xdpgeneric", "pinned", Path.Combine(pins, "xdp_second"), "dev", "veth1").ExitCode);

        var show = Cli("net", "show");
        Assert.Equal(BpftoolNetShow(), show.Stdout);
        Assert.Matches(@"(?m)^veth0\(\d+\) driver id \d+$", show.Stdout);
        Assert.Matches(@"(?m)^veth1\(\d+\) generic id \d+$", show.Stdout);
        Assert.Equal(BpftoolNetShow("dev", "veth1"), Cli("net", "show", "dev", "veth1").Stdout);

        // Without `overwrite`, an occupied device is refused with the kernel's extack text; with it, replaced.
        var busy = Cli("net", "attach", "xdp", "pinned", Path.Combine(pins, "xdp_second"), "dev", "veth0");
        Assert.NotEqual(0, busy.ExitCode);
        Assert.Contains("XDP program already attached", busy.Stderr);
        Assert.Equal(0, Cli("net", "attach", "xdp", "pinned", Path.Combine(pins, "xdp_second"), "dev", "veth0", "overwrite").ExitCode);
        Assert.Equal(BpftoolNetShow(), Cli("net", "show").Stdout);

        Assert.Equal(0, Cli("net", "detach", "xdpgeneric", "dev", "veth1").ExitCode);
        Assert.Equal(0, Cli("net", "detach", "xdp", "dev", "veth0").ExitCode);
        Assert.Equal(BpftoolNetShow(), Cli("net", "show").Stdout);
        Assert.DoesNotContain("veth", Cli("net", "show").Stdout);
        Assert.Equal(0, Cli("dev", "del", "veth0").ExitCode);
        Assert.DoesNotContain("veth", Cli("dev", "show").Stdout);
    }
}
