using System.Diagnostics;

namespace Ebpf.Tests;

/// <summary>
/// A program the tests compare against or build with (bpftool, pahole, llvm-objdump-14, clang-14): found on the
/// usual paths or the requirement is missing (<see cref="Requirement"/>: skip, or fail under EBPF_REQUIRE).
/// </summary>
public static class ExternalTool
{
    public sealed record Result(int ExitCode, string Stdout, string Stderr);

    /// <summary>Tools to treat as absent (EBPF_HIDE_TOOLS=bpftool,pahole): runs the suite as a machine without them would.</summary>
    private static readonly string[] Hidden =
        (Environment.GetEnvironmentVariable("EBPF_HIDE_TOOLS") ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    /// <summary>
    /// The first of <paramref name="names"/> found in /usr/sbin, /usr/bin, /usr/local/{s,}bin or $PATH; null if none
    /// (or if EBPF_HIDE_TOOLS names it).
    /// </summary>
    public static string? Find(params string[] names)
    {
        var dirs = new[] { "/usr/sbin", "/usr/bin", "/usr/local/sbin", "/usr/local/bin" }
            .Concat((Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries));
        foreach (string name in names.Where(n => !Hidden.Contains(n, StringComparer.Ordinal)))
            foreach (string dir in dirs)
            {
                string candidate = Path.Combine(dir, name);
                if (File.Exists(candidate))
                    return candidate;
            }
        return null;
    }

    /// <summary>The tool's path, or the calling test skips (fails under EBPF_REQUIRE=<paramref name="kind"/>).</summary>
    public static string Require(string kind, string name, string why)
    {
        string? path = Find(name);
        if (path is null)
            Requirement.Missing(kind, $"{name} is not installed: {why}");
        return path;
    }

    public static Result Run(string file, IEnumerable<string> args, TimeSpan? timeout = null)
    {
        var psi = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string a in args)
            psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var stderr = p.StandardError.ReadToEndAsync();
        string stdout = p.StandardOutput.ReadToEnd();
        if (!p.WaitForExit(timeout ?? TimeSpan.FromMinutes(2)))
        {
            p.Kill(entireProcessTree: true);
            throw new TimeoutException($"{file} {string.Join(' ', args)} did not finish");
        }
        return new Result(p.ExitCode, stdout, stderr.GetAwaiter().GetResult());
    }
}
