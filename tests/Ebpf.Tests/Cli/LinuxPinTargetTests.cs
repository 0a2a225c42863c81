using Ebpf.Cli.Commands.Linux;
using Ebpf.Linux;
using Ebpf.Tests.Linux;

namespace Ebpf.Tests.Cli;

/// <summary>
/// Pin paths with --backend linux: off bpffs the CLI fails with one "Error: … (ERRNO)" line before loading
/// anything; under /sys/fs/bpf without a bpffs it mounts one, as bpftool does. The auto-mount is exercised
/// only inside a private mount namespace (unshare), so no mount is ever left on the machine.
/// </summary>
public sealed class LinuxPinTargetTests(ITestOutputHelper output)
{
    private static readonly Func<string, bool> Nothing = _ => false;

    private static Func<string, bool> In(params string[] paths) => p => paths.Contains(p);

    [Fact]
    public void Decision_over_the_file_system()
    {
        string[] sysfs = ["/", "/sys", "/sys/fs", "/sys/fs/bpf"];
        Assert.Equal(KernelPins.PinTarget.MountStandard, KernelPins.Decide("/sys/fs/bpf/x", true, In(sysfs), Nothing).Target);
        Assert.Equal(KernelPins.PinTarget.MountStandard, KernelPins.Decide("/sys/fs/bpf/a/b/prog", false, In(sysfs), Nothing).Target);
        Assert.Equal(KernelPins.PinTarget.MountStandard, KernelPins.Decide("/sys/fs/bpf", true, In(sysfs), Nothing).Target);
        Assert.Equal((KernelPins.PinTarget.Ready, "/sys/fs/bpf"), KernelPins.Decide("/sys/fs/bpf/x", true, In(sysfs), In("/sys/fs/bpf")));
        // Not the standard place: never mounted over, refused naming the directory the pin would land in.
        Assert.Equal((KernelPins.PinTarget.NotBpfFs, "/tmp/t"), KernelPins.Decide("/tmp/t/x", true, In("/", "/tmp", "/tmp/t"), Nothing));
        Assert.Equal(KernelPins.PinTarget.NotBpfFs, KernelPins.Decide("/sys/fs/bpfx/y", false, In(sysfs), Nothing).Target);
        // /sys/fs/bpf missing altogether (no sysfs): nothing to mount on.
        Assert.Equal(KernelPins.PinTarget.NotBpfFs, KernelPins.Decide("/sys/fs/bpf/x", true, In("/"), Nothing).Target);
        // Directories still to be created are walked past; a loadall directory that exists is itself the target.
        Assert.Equal((KernelPins.PinTarget.Ready, "/b"), KernelPins.Decide("/b/new/deeper/p", true, In("/", "/b"), In("/b")));
        Assert.Equal((KernelPins.PinTarget.Ready, "/t/b"), KernelPins.Decide("/t/b/", true, In("/", "/t", "/t/b"), In("/t/b")));
        Assert.Equal(KernelPins.PinTarget.NotBpfFs, KernelPins.Decide("/t/b", false, In("/", "/t", "/t/b"), In("/t/b")).Target);
    }

    private static void RequireKernel()
    {
        if (!LinuxKernel.IsAvailable)
            Requirement.Missing(Requirement.Kernel, $"bpf(2) unavailable: {LinuxKernel.UnavailableReason}");
    }

    private static void AssertCleanError(CliRunner.Result r, string expected)
    {
        Assert.NotEqual(0, r.ExitCode);
        Assert.StartsWith("Error: ", r.Stderr, StringComparison.Ordinal);
        Assert.Contains(expected, r.Stderr, StringComparison.Ordinal);
        Assert.EndsWith("(EINVAL)", r.Stderr.TrimEnd(), StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", r.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void Pin_paths_off_bpffs_fail_with_an_error_line_before_anything_is_made()
    {
        RequireKernel();
        string obj = SharedData.Fixture("runtime/xdp_count.bpf.o");
        var plain = Directory.CreateTempSubdirectory("ebpf-cli-plain-");
        try
        {
            string dir = Path.Combine(plain.FullName, "progs");
            var loadall = CliRunner.Run("--backend", "linux", "prog", "loadall", obj, dir);
            output.WriteLine(loadall.Stderr);
            AssertCleanError(loadall, $"{plain.FullName} is not on a BPF file system");
            Assert.False(Directory.Exists(dir)); // refused before the directory (or anything in the kernel) was made

            AssertCleanError(CliRunner.Run("--backend", "linux", "prog", "load", obj, Path.Combine(plain.FullName, "p")), "not on a BPF file system");
            AssertCleanError(CliRunner.Run("--backend", "linux", "map", "create", Path.Combine(plain.FullName, "m"),
                "type", "array", "key", "4", "value", "4", "entries", "1", "name", "m"), "not on a BPF file system");
            Assert.Empty(plain.EnumerateFileSystemInfos());
        }
        finally
        {
            plain.Delete(recursive: true);
        }
    }

    [Fact]
    public void Loadall_under_sys_fs_bpf_mounts_a_bpffs_there_when_there_is_none()
    {
        RequireKernel();
        PrivateMountNamespace.Require("the /sys/fs/bpf auto-mount is only tried inside a private mount namespace");
        if (!Directory.Exists(BpfFs.DefaultMount))
            Requirement.Missing(Requirement.Kernel, $"{BpfFs.DefaultMount} does not exist here (no sysfs)");
        string cli = Path.Combine(AppContext.BaseDirectory, "Ebpf.Cli");
        if (!File.Exists(cli))
            Assert.Fail($"CLI apphost not found at {cli}: it is built with the solution");
        string obj = SharedData.Fixture("runtime/xdp_count.bpf.o");
        string hostMountsBefore = SysFsBpfMounts();

        // In the namespace: drop any bpffs the machine has there (privately), then let the CLI find none.
        const string script = """
            while grep -q ' /sys/fs/bpf ' /proc/self/mounts; do umount /sys/fs/bpf || exit 90; done
            "$1" --backend linux prog loadall "$2" /sys/fs/bpf/ebpf-test/progs
            echo "rc=$?"
            ls /sys/fs/bpf/ebpf-test/progs
            grep ' /sys/fs/bpf ' /proc/self/mounts
            """;
        var r = PrivateMountNamespace.Run(script, [cli, obj], TimeSpan.FromMinutes(2));
        output.WriteLine(r.Stdout);
        output.WriteLine(r.Stderr);

        var lines = r.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Contains("rc=0", lines);
        Assert.Contains("xdp_count", lines); // the program pinned on the bpffs the CLI mounted
        Assert.Contains(lines, l => l.StartsWith("bpf /sys/fs/bpf bpf ", StringComparison.Ordinal));
        Assert.Equal(hostMountsBefore, SysFsBpfMounts()); // and the machine's own mounts are untouched
    }

    private static string SysFsBpfMounts() =>
        string.Join('\n', File.ReadLines("/proc/self/mounts").Where(l => l.Split(' ') is { Length: > 2 } f && f[1] == BpfFs.DefaultMount));

    [Fact]
    public void No_verb_ends_in_an_unhandled_exception()
    {
        // prog run writes data_out with File.WriteAllBytes: a directory that does not exist throws an
        // IOException that no verb catches. The top-level guard turns it into one Error line and exit 1.
        var work = Directory.CreateTempSubdirectory("ebpf-cli-guard-");
        try
        {
            string data = Path.Combine(work.FullName, "in.bin"), batch = Path.Combine(work.FullName, "batch.txt");
            File.WriteAllBytes(data, new byte[64]);
            string obj = SharedData.Fixture("runtime/xdp_count.bpf.o");
            File.WriteAllText(batch, $"""
                prog load {obj} /sys/fs/bpf/guard
                prog run pinned /sys/fs/bpf/guard data_in {data} data_out {work.FullName}/missing/dir/out.bin
                """);
            var r = CliRunner.Run("batch", "file", batch);
            output.WriteLine(r.Stderr);
            Assert.NotEqual(0, r.ExitCode);
            string first = r.Stderr.Split('\n')[0];
            Assert.Matches(@"^Error: (internal error: [\w.]+Exception: .+|.+ \(E[A-Z0-9]+\))$", first);
            Assert.Contains("error in line 2", r.Stderr, StringComparison.Ordinal);
            Assert.DoesNotContain("   at ", r.Stderr, StringComparison.Ordinal);
        }
        finally
        {
            work.Delete(recursive: true);
        }
    }
}
