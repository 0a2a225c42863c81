using System.Diagnostics;

namespace Ebpf.VerifierSuite;

/// <summary>Builds each upstream test program (verifier_*.c and the --files extras) as upstream's selftests Makefile does (clang -target bpf -O2 -g).</summary>
internal sealed class Compiler(string clang, string cpu, string sourceDir, string outputDir)
{
    /// <summary>The object, or null with clang's first error lines when it does not compile.</summary>
    public (string? Object, string Error) Build(string source)
    {
        Directory.CreateDirectory(outputDir);
        string output = Path.Combine(outputDir, $"{Path.GetFileNameWithoutExtension(source)}.{cpu}.o");
        // DIR/compat/NAME.h, when present, is forced into NAME.c (-include): the place for the few definitions a
        // stored upstream file needs from an older version of the headers beside it (README.md).
        string compat = Path.Combine(sourceDir, "compat", $"{Path.GetFileNameWithoutExtension(source)}.h");
        bool hasCompat = File.Exists(compat);
        if (File.Exists(output) && File.GetLastWriteTimeUtc(output) > File.GetLastWriteTimeUtc(source)
            && (!hasCompat || File.GetLastWriteTimeUtc(output) > File.GetLastWriteTimeUtc(compat)))
            return (output, "");
        var psi = new ProcessStartInfo(clang)
        {
            RedirectStandardError = true,
            RedirectStandardOutput = true,
        };
        var includes = new List<string> { "-I", Path.Combine(sourceDir, "include"), "-I", sourceDir };
        // Upstream programs include "../../../include/linux/filter.h" relative to tools/testing/selftests/bpf (the
        // selftests Makefile's -I$(CURDIR)): with tools/include/linux/filter.h fetched under DIR, the same relative path
        // resolves from DIR/tools/testing/selftests/bpf.
        if (Directory.Exists(Path.Combine(sourceDir, "tools", "include")))
        {
            string selftests = Path.Combine(sourceDir, "tools", "testing", "selftests", "bpf");
            Directory.CreateDirectory(selftests);
            includes.AddRange(["-I", selftests]);
        }
        string[] arguments =
        [
            "-target", "bpf", $"-mcpu={cpu}", "-O2", "-g", "-D__TARGET_ARCH_x86", "-mlittle-endian", "-std=gnu11",
            "-fno-strict-aliasing", "-Wno-compare-distinct-pointer-types", "-DENABLE_ATOMICS_TESTS",
            .. includes, "-I", "/usr/include/x86_64-linux-gnu", .. (hasCompat ? (string[])["-include", compat] : []),
            "-c", source, "-o", output,
        ];
        foreach (string a in arguments)
            psi.ArgumentList.Add(a);
        using var process = Process.Start(psi) ?? throw new InvalidOperationException($"cannot run {clang}");
        string stderr = process.StandardError.ReadToEnd();
        process.StandardOutput.ReadToEnd();
        if (!process.WaitForExit(120_000))
        {
            process.Kill(entireProcessTree: true);
            return (null, "clang timed out");
        }
        if (process.ExitCode == 0)
            return (output, "");
        var firstError = stderr.Split('\n').FirstOrDefault(l => l.Contains("error:", StringComparison.Ordinal)) ?? stderr.Trim();
        return (null, firstError);
    }
}
