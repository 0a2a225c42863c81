using System.Diagnostics;

namespace Ebpf.Tests.Linux;

/// <summary>
/// Runs a shell script in a private mount namespace (unshare --mount --propagation private): whatever it mounts
/// or unmounts (a bpffs on /sys/fs/bpf, say) is seen only inside and vanishes with it, so tests that need the
/// standard mount point never leave anything on the machine.
/// </summary>
internal static class PrivateMountNamespace
{
    public sealed record Result(int ExitCode, string Stdout, string Stderr);

    public static string? Unshare => new[] { "/usr/bin/unshare", "/bin/unshare" }.FirstOrDefault(File.Exists);

    /// <summary>Skips the calling test when unshare(1) is missing.</summary>
    public static void Require(string why)
    {
        if (Unshare is null)
            Requirement.Missing(Requirement.Kernel, $"unshare(1) not found: {why}");
    }

    /// <summary>sh -c SCRIPT sh ARGS… in the namespace ($1… are ARGS), from WORKDIR; killed after TIMEOUT.</summary>
    public static Result Run(string script, IEnumerable<string> args, TimeSpan timeout, string? workingDirectory = null)
    {
        var psi = new ProcessStartInfo(Unshare ?? throw new InvalidOperationException("unshare(1) not found"))
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory ?? "",
        };
        foreach (var a in new[] { "--mount", "--propagation", "private", "sh", "-c", script, "sh" })
            psi.ArgumentList.Add(a);
        foreach (var a in args)
            psi.ArgumentList.Add(a);
        using var process = Process.Start(psi)!;
        var stderr = process.StandardError.ReadToEndAsync();
        string stdout = process.StandardOutput.ReadToEnd();
        if (!process.WaitForExit(timeout))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"script in a private mount namespace did not finish in {timeout}");
        }
        return new Result(process.ExitCode, stdout, stderr.GetAwaiter().GetResult());
    }
}
