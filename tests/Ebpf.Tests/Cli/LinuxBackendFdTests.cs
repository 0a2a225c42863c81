using System.Text.RegularExpressions;
using Ebpf.Linux;

namespace Ebpf.Tests.Cli;

/// <summary>
/// Counts this process's BPF fds around linux-backend CLI commands. The count is process-wide, so the test
/// runs in the non-parallel fd-counting collection: another test opening kernel objects meanwhile would skew it.
/// </summary>
[Collection(nameof(Ebpf.Tests.Linux.FdCountingCollection))]
public sealed class LinuxBackendFdTests
{
    [Fact]
    public void Linux_backend_closes_every_fd_it_opened()
    {
        if (!LinuxKernel.IsAvailable)
            Requirement.Missing(Requirement.Kernel, $"bpf(2) unavailable: {LinuxKernel.UnavailableReason}");
        using var bpffs = BackendParityTests.MountOrSkip();
        string obj = SharedData.Fixture("runtime/xdp_count.bpf.o");
        int before = BackendParityTests.BpfFdCount();
        Assert.Equal(0, CliRunner.Run("--backend", "linux", "prog", "loadall", obj, bpffs["p"], "pinmaps", bpffs["m"]).ExitCode);
        Assert.Equal(0, CliRunner.Run("--backend", "linux", "prog", "show", "pinned", bpffs["p/xdp_count"]).ExitCode);
        Assert.Equal(0, CliRunner.Run("--backend", "linux", "map", "dump", "pinned", bpffs["m/counts"]).ExitCode);
        GC.Collect();
        GC.WaitForPendingFinalizers();
        Assert.Equal(before, BackendParityTests.BpfFdCount());
    }
}
