using Ebpf.Collections;
using Ebpf.Linux;
using Ebpf.Linux.Net;
using Ebpf.Runtime;
using Ebpf.Xdp;

namespace Ebpf.Tests.Linux.Net;

/// <summary>
/// `ebpf --backend linux xdp load|unload|status` (XdpMultiprog over the Linux backend) on a veth in a private namespace,
/// against xdp-loader 1.3 on the same device and the same temporary bpffs. This kernel refuses freplace, so libxdp
/// falls back to one program attached through netlink (kernel-semantics.md §6.4 step 10): we must do exactly that,
/// print the same status, refuse what it refuses with its words, and each tool must unload what the other loaded.
/// </summary>
public class DispatcherLinuxTests
{
    private static readonly string Obj = SharedData.Fixture("xdp/linux/xdp_verdict.bpf.o");

    private sealed class Setup : IDisposable
    {
        public readonly VethNamespace Veth = VethNamespace.Create();
        public readonly TemporaryBpfFs BpfFs = new();
        public string Loader = null!;

        public CliRunner.Result Ebpf(params string[] args) =>
            Veth.Invoke(() => CliRunner.Run(["--backend", "linux", "xdp", .. args, "--bpffs", BpfFs.Path]));

        public ExternalTool.Result XdpLoader(params string[] args) =>
            Veth.Invoke(() => ExternalTool.Run("/usr/bin/env", ["LIBXDP_BPFFS=" + BpfFs.Path, Loader, .. args], TimeSpan.FromSeconds(60)));

        public XdpDeviceState State => Veth.Invoke(() => LinuxBackend.Instance.XdpQuery(Veth.A.Ifindex));

        public void Dispose()
        {
            BpfFs.Dispose();
            Veth.Dispose();
        }
    }

    private static Setup Create()
    {
        string loader = ExternalTool.Require(Requirement.XdpTools, "xdp-loader", "the dispatcher on Linux is compared with xdp-loader");
        var s = new Setup();
        s.Loader = loader;
        return s;
    }

    [Fact]
    public void LoadFallsBackToOneNetlinkProgramAndStatusMatchesXdpLoader()
    {
        using var s = Create();
        var load = s.Ebpf("load", "xa", Obj, "--program", "xdp_verdict");
        Assert.True(load.ExitCode == 0, load.Stderr);

        // One program, natively, through netlink (no link holds it), nothing pinned under <bpffs>/xdp.
        var state = s.State;
        Assert.Equal(XdpAttachMode.Driver, state.AttachMode);
        Assert.Equal(0u, state.DriverLinkId);
        using (var p = KernelProgram.FromId(state.DriverProgramId))
            Assert.Equal("xdp_verdict", p.GetInfo().Name);
        Assert.Empty(Directory.EnumerateFileSystemEntries(Path.Combine(s.BpfFs.Path, "xdp")));

        // Ours and xdp-loader's status of the device: the same text.
        var theirs = s.XdpLoader("status", "xa");
        Assert.True(theirs.ExitCode == 0, theirs.Stderr);
        var ours = s.Ebpf("status", "xa");
        Assert.True(ours.ExitCode == 0, ours.Stderr);
        Assert.Equal(theirs.Stdout, ours.Stdout);
        Assert.Contains($" xdp_verdict       native   {state.DriverProgramId} ", ours.Stdout);

        // A second program over one that uses no dispatcher: EBUSY with libxdp's words, the device unchanged.
        var busy = s.Ebpf("load", "xa", Obj, "--program", "xdp_second");
        Assert.NotEqual(0, busy.ExitCode);
        Assert.Contains("Existing program is not using a dispatcher, can't replace; unload first", busy.Stderr);
        var theirBusy = s.XdpLoader("load", "xa", Obj, "-n", "xdp_second");
        Assert.NotEqual(0, theirBusy.ExitCode);
        Assert.Contains("Existing program is not using a dispatcher, can't replace; unload first", theirBusy.Stderr);
        Assert.Equal(state.DriverProgramId, s.State.DriverProgramId);

        // Unload: a wrong id, then the right one; then --all on the empty device — xdp-loader's messages.
        var wrong = s.Ebpf("unload", "xa", "--id", "12345");
        Assert.NotEqual(0, wrong.ExitCode);
        Assert.Contains("Program with ID 12345 not loaded on xa", wrong.Stderr);
        var unload = s.Ebpf("unload", "xa", "--id", state.DriverProgramId.ToString());
        Assert.True(unload.ExitCode == 0, unload.Stderr);
        Assert.Equal(XdpAttachMode.None, s.State.AttachMode);
        var empty = s.Ebpf("unload", "xa", "--all");
        Assert.NotEqual(0, empty.ExitCode);
        Assert.Contains("No XDP program loaded on xa", empty.Stderr);
        Assert.Equal(s.XdpLoader("status", "xa").Stdout, s.Ebpf("status", "xa").Stdout);

        // Two programs at once on an empty device: libxdp cannot fall back with two, nor can we.
        var two = s.Ebpf("load", "xa", Obj, Obj);
        Assert.NotEqual(0, two.ExitCode);
        Assert.Contains("Can't fall back to legacy load with 2 programs", two.Stderr);
        Assert.Equal(XdpAttachMode.None, s.State.AttachMode);
    }

    [Fact]
    public void EachToolUnloadsWhatTheOtherLoaded()
    {
        using var s = Create();

        // Ours in generic mode, xdp-loader reports and unloads it.
        var load = s.Ebpf("load", "xa", Obj, "--program", "xdp_second", "--mode", "skb");
        Assert.True(load.ExitCode == 0, load.Stderr);
        Assert.Equal(XdpAttachMode.Generic, s.State.AttachMode);
        Assert.Equal(s.XdpLoader("status", "xa").Stdout, s.Ebpf("status", "xa").Stdout);
        Assert.Contains(" xdp_second        skb      ", s.Ebpf("status", "xa").Stdout);
        var theirUnload = s.XdpLoader("unload", "xa", "--all");
        Assert.True(theirUnload.ExitCode == 0, theirUnload.Stderr);
        Assert.Equal(XdpAttachMode.None, s.State.AttachMode);

        // xdp-loader's, natively: our status agrees, our unload --all removes it.
        var theirLoad = s.XdpLoader("load", "xa", Obj, "-n", "xdp_verdict");
        Assert.True(theirLoad.ExitCode == 0, theirLoad.Stderr);
        uint id = s.State.DriverProgramId;
        Assert.NotEqual(0u, id);
        var ours = s.Ebpf("status", "xa");
        Assert.Equal(s.XdpLoader("status", "xa").Stdout, ours.Stdout);
        Assert.Contains($" xdp_verdict       native   {id} ", ours.Stdout);
        var busy = s.Ebpf("load", "xa", Obj, "--program", "xdp_second");
        Assert.Contains("Existing program is not using a dispatcher, can't replace; unload first", busy.Stderr);
        var unload = s.Ebpf("unload", "xa", "--all");
        Assert.True(unload.ExitCode == 0, unload.Stderr);
        Assert.Equal(XdpAttachMode.None, s.State.AttachMode);

        // xdp-loader's again, our unload by its id.
        Assert.Equal(0, s.XdpLoader("load", "xa", Obj, "-n", "xdp_second", "-m", "skb").ExitCode);
        uint generic = s.State.GenericProgramId;
        var byId = s.Ebpf("unload", "xa", "--id", generic.ToString());
        Assert.True(byId.ExitCode == 0, byId.Stderr);
        Assert.Equal(XdpAttachMode.None, s.State.AttachMode);
        Assert.Empty(Directory.EnumerateFileSystemEntries(Path.Combine(s.BpfFs.Path, "xdp")));
    }

    [Fact]
    public void CompatProbeDecidesTheFallbackAsLibxdpDoes()
    {
        using var s = Create();
        var probe = s.Veth.Invoke(() => KernelCompatProbe.Run(LinuxKernel.Backend, new XdpMultiprogOptions { BpfFsRoot = s.BpfFs.Path }));
        var theirs = s.XdpLoader("load", "-v", "xa", Obj, "-n", "xdp_verdict");
        Assert.True(theirs.ExitCode == 0, theirs.Stderr);

        // libxdp's check and ours agree, on the outcome and on the errno it prints.
        bool theirsFailed = theirs.Stderr.Contains("Compatibility check for dispatcher program failed");
        Assert.True(theirsFailed == probe is not null, $"ours: {probe?.Message ?? "passed"}; xdp-loader: {theirs.Stderr}");
        if (probe is not null)
        {
            string expected = $"Compatibility check for dispatcher program failed: {System.Runtime.InteropServices.Marshal.GetPInvokeErrorMessage((int)probe.Errno)}";
            Assert.True(theirs.Stderr.Contains(expected, StringComparison.Ordinal), $"ours: {probe.Errno} {probe.Message}\nxdp-loader: {theirs.Stderr}");
        }
        Assert.DoesNotContain(Directory.EnumerateFileSystemEntries(s.BpfFs.Path), e => Path.GetFileName(e).StartsWith("prog-test-link", StringComparison.Ordinal));

        // And the attach follows it: a failed check means the single-program fallback (no dispatcher on the device).
        Assert.Equal(0, s.XdpLoader("unload", "xa", "--all").ExitCode);
        var load = s.Ebpf("load", "xa", Obj, "--program", "xdp_verdict");
        Assert.True(load.ExitCode == 0, load.Stderr);
        using (var main = KernelProgram.FromId(s.State.DriverProgramId))
            Assert.Equal(probe is null ? "xdp_dispatcher" : "xdp_verdict", main.GetInfo().Name);
        Assert.Equal(0, s.Ebpf("unload", "xa", "--all").ExitCode);
    }

    [Fact]
    public void CompatProbePassesOnTheManagedRuntime()
    {
        var runtime = new BpfRuntime();
        var probe = KernelCompatProbe.Run(runtime.Backend, new XdpMultiprogOptions());
        Assert.Null(probe);
        Assert.DoesNotContain(runtime.Backend.ListPinDirectory("/sys/fs/bpf"), e => e.Path.Contains("prog-test-link", StringComparison.Ordinal));
    }
}
