using Ebpf.Abi;
using Ebpf.Linux;
using static Ebpf.Tests.Linux.KernelRequirement;

namespace Ebpf.Tests.Linux;

/// <summary>
/// Links that touch no network device: a raw tracepoint link (BPF_RAW_TRACEPOINT_OPEN) and a cgroup_skb
/// link (BPF_LINK_CREATE) on an empty child cgroup this test creates and removes. No process is ever in
/// that cgroup, so the attached program never runs.
/// </summary>
public class LinkTests
{
    private static readonly string[] QuietTracepoints = ["task_rename", "sched_process_free", "task_newtask", "sys_enter"];

    private static KernelProgram LoadCgroupSkb(string name, int verdict = 1) => KernelProgram.Load(new ProgramLoadAttributes
    {
        Type = ProgramType.CgroupSkb, Instructions = ReturnImm(verdict), Name = name, ExpectedAttachType = AttachType.CgroupInetIngress,
    });

    private static string? Cgroup2Root() =>
        File.ReadLines("/proc/self/mounts").Select(l => l.Split(' ')).FirstOrDefault(f => f.Length > 2 && f[2] == "cgroup2")?[1];

    [Fact]
    public void RawTracepointLinkReportsInfoAndIsEnumerable()
    {
        Require();
        using var prog = KernelProgram.Load(new ProgramLoadAttributes { Type = ProgramType.RawTracepoint, Instructions = ReturnImm(0), Name = "rawtp" });
        KernelLink? link = null;
        string? attached = null;
        foreach (var tp in QuietTracepoints)
        {
            try
            {
                link = KernelLink.AttachRawTracepoint(prog, tp);
                attached = tp;
                break;
            }
            catch (BpfException e) when (e.Errno == Errno.ENOENT)
            {
            }
        }
        if (link is null)
            Requirement.Missing(Requirement.Kernel, "none of the raw tracepoints exists here");
        using (link)
        {
            var info = link.GetInfo();
            Assert.Equal(LinkType.RawTracepoint, info.Type);
            Assert.Equal(attached, info.TracepointName);
            Assert.Equal(prog.GetInfo().Id, info.ProgramId);
            Assert.Contains(info.Id, KernelObjects.EnumerateLinkIds());
            using var byId = KernelLink.FromId(info.Id);
            Assert.Equal(info.Id, byId.GetInfo().Id);

            // raw_tp links implement neither update nor detach.
            using var other = KernelProgram.Load(new ProgramLoadAttributes { Type = ProgramType.RawTracepoint, Instructions = ReturnImm(0), Name = "rawtp2" });
            Assert.Equal(Errno.EINVAL, Assert.Throws<BpfException>(() => link.Update(other)).Errno);
            Assert.Equal(Errno.EOPNOTSUPP, Assert.Throws<BpfException>(link.Detach).Errno);
        }
        var e2 = Assert.Throws<BpfException>(() => KernelLink.AttachRawTracepoint(prog, "no_such_tracepoint_xyz"));
        Assert.Equal(Errno.ENOENT, e2.Errno);
        Assert.Equal("BPF_RAW_TRACEPOINT_OPEN rawtp no_such_tracepoint_xyz: No such file or directory", e2.Message);
    }

    [Fact]
    public void CgroupLinkCreateUpdateDetachAndPin()
    {
        Require();
        string? root = Cgroup2Root();
        if (root is null)
            Requirement.Missing(Requirement.Kernel, "no cgroup2 mount");
        string cgroup = Path.Combine(root, $"ebpf-net-test-{Environment.ProcessId}-{Guid.NewGuid():N}");
        Directory.CreateDirectory(cgroup);
        try
        {
            using var dir = BpfFs.OpenDirectory(cgroup);
            using var first = LoadCgroupSkb("cg_first");
            using var second = LoadCgroupSkb("cg_second");
            using var link = KernelLink.Create(new LinkCreateOptions { Program = first, TargetFd = dir, AttachType = AttachType.CgroupInetIngress });
            var info = link.GetInfo();
            Assert.Equal(LinkType.Cgroup, info.Type);
            Assert.Equal(first.GetInfo().Id, info.ProgramId);

            link.Update(second);
            Assert.Equal(second.GetInfo().Id, link.GetInfo().ProgramId);

            // BPF_F_REPLACE with the wrong expected program.
            var wrong = Assert.Throws<BpfException>(() => link.Update(first, expected: first));
            Assert.Equal(Errno.EPERM, wrong.Errno);
            link.Update(first, expected: second);
            Assert.Equal(first.GetInfo().Id, link.GetInfo().ProgramId);

            using (var fs = new TemporaryBpfFs())
            {
                link.Pin(fs["link"]);
                using var pinned = KernelLink.LoadPinned(fs["link"]);
                Assert.Equal(info.Id, pinned.GetInfo().Id);
            }

            link.Detach();
            // A detached link keeps its id but no longer holds the program.
            Assert.Equal(info.Id, link.GetInfo().Id);
        }
        finally
        {
            Directory.Delete(cgroup);
        }
    }

    [Fact]
    public void LinkCreateErrorsNameProgramAndAttachType()
    {
        Require();
        using var prog = KernelProgram.Load(new ProgramLoadAttributes { Type = ProgramType.Xdp, Instructions = ReturnImm(2), Name = "xdp_link" });
        // ifindex 0 is never a device.
        var e = Assert.Throws<BpfException>(() => KernelLink.Create(new LinkCreateOptions { Program = prog, TargetIfindex = 0, AttachType = AttachType.Xdp }));
        Assert.StartsWith("BPF_LINK_CREATE xdp_link Xdp: ", e.Message);
        Assert.Equal(Errno.EINVAL, e.Errno);
    }
}
