using Ebpf.Tests.Linux;

namespace Ebpf.Tests.CoRe.Scenarios;

/// <summary>
/// tests/fixtures/core/libbpf-driver/core_driver.c built with the system cc against Debian's libbpf-dev, once per
/// test run, into a temporary directory: libbpf's side of the CO-RE differential tests (it loads into the live kernel).
/// </summary>
public static class LibbpfDriver
{
    private static readonly Lazy<(string? Path, string Why)> Built = new(Build);

    /// <summary>The driver's path; skips (fails under EBPF_REQUIRE) when the kernel, cc or libbpf-dev is missing.</summary>
    public static string Require()
    {
        KernelRequirement.Require();
        var (path, why) = Built.Value;
        if (path is null)
            Requirement.Missing(Requirement.Clang, why);
        return path;
    }

    private static (string?, string) Build()
    {
        string? cc = ExternalTool.Find("cc", "gcc");
        if (cc is null)
            return (null, "no C compiler (cc) to build the libbpf driver");
        if (!File.Exists("/usr/include/bpf/libbpf.h"))
            return (null, "libbpf-dev is not installed (/usr/include/bpf/libbpf.h)");
        string dir = Path.Combine(Path.GetTempPath(), $"ebpf-core-driver-{Environment.ProcessId}");
        Directory.CreateDirectory(dir);
        string exe = Path.Combine(dir, "core_driver");
        var r = ExternalTool.Run(cc, ["-O1", "-o", exe, SharedData.Fixture("core/libbpf-driver/core_driver.c"), "-lbpf"]);
        AppDomain.CurrentDomain.ProcessExit += (_, _) => { try { Directory.Delete(dir, true); } catch (IOException) { } };
        return r.ExitCode == 0 ? (exe, "") : (null, $"building the libbpf driver failed: {r.Stderr}");
    }

    /// <summary>libbpf loads <paramref name="obj"/> against <paramref name="btf"/> ("-": the kernel's) and runs it: the output hex, or null and libbpf's log.</summary>
    public static (string? OutputHex, string Log) Run(string obj, string program, string btf, string input, int outLength)
    {
        var r = ExternalTool.Run(Require(), ["run", obj, program, btf, input, outLength.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
        string? line = r.Stdout.Split('\n').FirstOrDefault(l => l.StartsWith("out ", StringComparison.Ordinal));
        if (r.ExitCode == 0 && line is not null)
            return (line[4..].Trim().ToUpperInvariant(), r.Stderr);
        Assert.True(r.ExitCode == 2, $"libbpf driver: exit {r.ExitCode}: {r.Stdout}\n{r.Stderr}");
        return (null, r.Stderr);
    }

    /// <summary>libbpf loads <paramref name="obj"/> into the kernel: program name → the kernel's xlated instructions.</summary>
    public static Dictionary<string, List<ulong>> Xlated(string obj)
    {
        var r = ExternalTool.Run(Require(), ["xlated", obj]);
        Assert.True(r.ExitCode == 0, $"libbpf driver xlated {obj}: exit {r.ExitCode}: {r.Stdout}\n{r.Stderr}");
        var result = new Dictionary<string, List<ulong>>();
        List<ulong>? current = null;
        foreach (string line in r.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            if (line.StartsWith("prog ", StringComparison.Ordinal))
                result[line[5..]] = current = [];
            else
                current!.Add(ulong.Parse(line, System.Globalization.NumberStyles.HexNumber, System.Globalization.CultureInfo.InvariantCulture));
        }
        return result;
    }
}
