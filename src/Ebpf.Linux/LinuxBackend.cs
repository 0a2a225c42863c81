namespace Ebpf.Linux;

/// <summary>The real kernel over bpf(2). Filled in by the Linux-backend work.</summary>
public static class LinuxBackend
{
    /// <summary>True when this process runs on Linux (bpf(2) may still be refused: see the feature probes).</summary>
    public static bool IsLinux => OperatingSystem.IsLinux();
}
