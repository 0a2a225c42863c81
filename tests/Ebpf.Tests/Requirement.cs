namespace Ebpf.Tests;

/// <summary>
/// What a test needs from its environment, and what happens when it is missing: on a developer machine the test
/// skips, saying why; where <c>EBPF_REQUIRE</c> names the requirement (CI sets it), the test fails instead, so a
/// green run cannot hide a check that never ran. Kinds: <c>kernel</c> (bpf(2) usable), <c>shared</c> (../shared),
/// <c>vmlinux</c> (/sys/kernel/btf/vmlinux), <c>bpftool</c>, <c>llvm</c> (llvm-objdump-14/llvm-mc-14), <c>clang</c>
/// (clang-14), <c>pahole</c>, <c>xdptools</c> (xdp-loader); <c>EBPF_REQUIRE=all</c> names every kind.
/// </summary>
public static class Requirement
{
    public const string Kernel = "kernel", Shared = "shared", Vmlinux = "vmlinux", Bpftool = "bpftool", Llvm = "llvm", Clang = "clang", Pahole = "pahole", XdpTools = "xdptools";

    private static readonly string[] Required =
        (Environment.GetEnvironmentVariable("EBPF_REQUIRE") ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    /// <summary>True when the environment says <paramref name="kind"/> must be present.</summary>
    public static bool IsRequired(string kind) => Required.Contains(kind, StringComparer.Ordinal) || Required.Contains("all", StringComparer.Ordinal);

    /// <summary>The requirement is missing: skip with the reason, or fail when the environment requires it.</summary>
    [System.Diagnostics.CodeAnalysis.DoesNotReturn]
    public static void Missing(string kind, string reason)
    {
        if (IsRequired(kind))
            Assert.Fail($"EBPF_REQUIRE names '{kind}', which is missing here: {reason}");
        Assert.Skip(reason);
    }
}
