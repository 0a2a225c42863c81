using Ebpf.Abi;
using Ebpf.Linux;
using static Ebpf.Tests.Linux.KernelRequirement;

namespace Ebpf.Tests.Cli;

/// <summary>
/// `link show|pin|update|detach` and `fs rm` with --backend linux on a link this kernel can create (a cgroup_skb link on
/// an empty child cgroup, so the program never runs), each output compared with the installed bpftool's.
/// </summary>
public sealed class LinuxLinkCliTests
{
    private static string? Cgroup2Root() =>
        File.ReadLines("/proc/self/mounts").Select(l => l.Split(' ')).FirstOrDefault(f => f.Length > 2 && f[2] == "cgroup2")?[1];

    private static KernelProgram LoadCgroupSkb(string name) => KernelProgram.Load(new ProgramLoadAttributes
    {
        Type = ProgramType.CgroupSkb, Instructions = ReturnImm(1), Name = name, ExpectedAttachType = AttachType.CgroupInetIngress,
    });

    private static CliRunner.Result Ebpf(params string[] args) => CliRunner.Run(["--backend", "linux", .. args]);

    /// <summary>bpftool's output without the pids line (bpftool sees its own process's references; we have none to show).</summary>
    private static string Bpftool(string bpftool, params string[] args)
    {
        var r = ExternalTool.Run(bpftool, args);
        Assert.True(r.ExitCode == 0, $"bpftool {string.Join(' ', args)}: {r.Stderr}");
        return string.Join('\n', r.Stdout.Split('\n').Where(l => !l.StartsWith("\tpids ", StringComparison.Ordinal)));
    }

    [Fact]
    public void Cgroup_link_show_update_detach_and_unpin_as_bpftool_shows_them()
    {
        Require();
        string bpftool = ExternalTool.Require(Requirement.Bpftool, "bpftool", "the link show output is compared with bpftool's");
        string? root = Cgroup2Root();
        if (root is null)
            Requirement.Missing(Requirement.Kernel, "no cgroup2 mount");
        string cgroup = Path.Combine(root, $"ebpf-net-linkcli-{Environment.ProcessId}-{Guid.NewGuid():N}");
        Directory.CreateDirectory(cgroup);
        using var bpffs = new TemporaryBpfFs();
        try
        {
            string linkPath = bpffs["cglink"], second = bpffs["second"];
            uint firstId, secondId;
            using (var dir = BpfFs.OpenDirectory(cgroup))
            using (var first = LoadCgroupSkb("cg_first"))
            using (var other = LoadCgroupSkb("cg_second"))
            using (var link = KernelLink.Create(new LinkCreateOptions { Program = first, TargetFd = dir, AttachType = AttachType.CgroupInetIngress }))
            {
                link.Pin(linkPath);
                BpfFs.Pin(other.Fd, second, "cg_second");
                firstId = first.GetInfo().Id;
                secondId = other.GetInfo().Id;
            } // only the pins hold the link and the second program now

            var text = Ebpf("link", "show", "pinned", linkPath);
            Assert.True(text.ExitCode == 0, text.Stderr);
            Assert.Equal(Bpftool(bpftool, "-f", "link", "show", "pinned", linkPath), text.Stdout);
            Assert.StartsWith($"{LinkIdOf(text.Stdout)}: cgroup  prog {firstId}  \n\tcgroup_id ", text.Stdout);
            Assert.Contains("attach_type cgroup_inet_ingress  ", text.Stdout);

            var json = Ebpf("-j", "link", "show", "pinned", linkPath);
            Assert.Equal(Bpftool(bpftool, "-j", "-f", "link", "show", "pinned", linkPath).Trim(), json.Stdout.Trim());

            // BPF_F_REPLACE naming a program that is not the attached one: the kernel's EPERM, as given.
            var wrongOld = Ebpf("link", "update", "pinned", linkPath, "prog", "pinned", second, "old", "pinned", second);
            Assert.Equal(1, wrongOld.ExitCode);
            Assert.Contains("failed link update:", wrongOld.Stderr);
            Assert.Contains("(EPERM)", wrongOld.Stderr);
            var update = Ebpf("link", "update", "pinned", linkPath, "prog", "pinned", second);
            Assert.True(update.ExitCode == 0, update.Stderr);
            var updated = Ebpf("link", "show", "pinned", linkPath);
            Assert.StartsWith($"{LinkIdOf(text.Stdout)}: cgroup  prog {secondId}  ", updated.Stdout);
            Assert.Equal(Bpftool(bpftool, "-f", "link", "show", "pinned", linkPath), updated.Stdout);

            var rightOld = Ebpf("link", "update", "pinned", linkPath, "prog", "pinned", second, "old", "pinned", second);
            Assert.True(rightOld.ExitCode == 0, rightOld.Stderr); // BPF_F_REPLACE naming the attached program

            var detach = Ebpf("link", "detach", "pinned", linkPath);
            Assert.True(detach.ExitCode == 0, detach.Stderr);
            Assert.Equal(Bpftool(bpftool, "-f", "link", "show", "pinned", linkPath), Ebpf("link", "show", "pinned", linkPath).Stdout);

            uint linkId = uint.Parse(LinkIdOf(text.Stdout), System.Globalization.CultureInfo.InvariantCulture);
            var rm = Ebpf("fs", "rm", linkPath);
            Assert.True(rm.ExitCode == 0, rm.Stderr);
            Assert.False(File.Exists(linkPath));
            // The pin was the last reference: the kernel frees the link (deferred, so give it a moment).
            var deadline = DateTime.UtcNow.AddSeconds(10);
            while (KernelObjects.EnumerateLinkIds().Contains(linkId) && DateTime.UtcNow < deadline)
                Thread.Sleep(20);
            Assert.DoesNotContain(linkId, KernelObjects.EnumerateLinkIds());
        }
        finally
        {
            Directory.Delete(cgroup);
        }
    }

    [Fact]
    public void Link_create_reaches_the_kernel_and_prints_its_refusal()
    {
        Require();
        using var bpffs = new TemporaryBpfFs();
        Assert.Equal(0, Ebpf("prog", "load", SharedData.Fixture("links/target.bpf.o"), bpffs["target"]).ExitCode);
        // An XDP program is no tracing program: LINK_CREATE without a target is the kernel's to refuse, and it does.
        var r = Ebpf("link", "create", "pinned", bpffs["target"], "pin", bpffs["link"]);
        Assert.Equal(1, r.ExitCode);
        Assert.Matches(@"^Error: failed to create link: BPF_LINK_CREATE serve .+: .+ \(E[A-Z0-9]+\)\n", r.Stderr);
        Assert.False(File.Exists(bpffs["link"]));
        Assert.Equal("", Ebpf("link", "show", "pinned", bpffs["link"]).Stdout);
    }

    private static string LinkIdOf(string show) => show[..show.IndexOf(':', StringComparison.Ordinal)];
}
