namespace Ebpf.Tests;

/// <summary>
/// bpftool's output, recorded under tests/fixtures/bpftool-records so the BTF- and map-dump comparisons check
/// something where bpftool cannot be installed. Where bpftool is installed the comparison uses its live output and
/// also asserts the record still equals it; where it is not, the record stands in (under EBPF_REQUIRE=bpftool the
/// absence fails instead). <c>tests/fixtures/bpftool-records/regenerate.sh</c> rewrites every record from the
/// live bpftool (EBPF_BPFTOOL_RECORD=write).
/// </summary>
public static class BpftoolRecord
{
    private static bool Writing => Environment.GetEnvironmentVariable("EBPF_BPFTOOL_RECORD") == "write";

    public static string Directory => Path.Combine(SharedData.RepoRoot, "tests", "fixtures", "bpftool-records");

    /// <summary>The installed bpftool, or null (and a failure under EBPF_REQUIRE=bpftool).</summary>
    public static string? Tool()
    {
        string? bpftool = ExternalTool.Find("bpftool");
        if (bpftool is null && Requirement.IsRequired(Requirement.Bpftool))
            Assert.Fail("EBPF_REQUIRE names 'bpftool', which is missing here: bpftool is not installed");
        return bpftool;
    }

    /// <summary>
    /// What <c>bpftool ARGS</c> prints, by record name (a path under the records directory): live and checked against
    /// the record when bpftool is installed, else the record.
    /// </summary>
    public static string Output(string record, params string[] args)
    {
        string path = Path.Combine(Directory, record);
        string? bpftool = Tool();
        if (bpftool is null)
        {
            Assert.True(File.Exists(path), $"no bpftool here and no record {path}: run tests/fixtures/bpftool-records/regenerate.sh where bpftool is installed");
            return File.ReadAllText(path);
        }
        var r = ExternalTool.Run(bpftool, args);
        Assert.True(r.ExitCode == 0, $"bpftool {string.Join(' ', args)} failed ({r.ExitCode}): {r.Stderr}");
        if (Writing)
        {
            System.IO.Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            File.WriteAllText(path, r.Stdout);
        }
        Assert.True(File.Exists(path), $"bpftool-records/{record} is missing: run tests/fixtures/bpftool-records/regenerate.sh");
        Assert.True(File.ReadAllText(path) == r.Stdout,
            $"bpftool-records/{record} differs from what bpftool prints now (bpftool {string.Join(' ', args)}): run tests/fixtures/bpftool-records/regenerate.sh");
        return r.Stdout;
    }

    /// <summary>A record read without bpftool (for comparisons whose live side needs the kernel as well).</summary>
    public static string Read(string record)
    {
        string path = Path.Combine(Directory, record);
        Assert.True(File.Exists(path), $"bpftool-records/{record} is missing: run tests/fixtures/bpftool-records/regenerate.sh where bpftool is installed");
        return File.ReadAllText(path);
    }
}
