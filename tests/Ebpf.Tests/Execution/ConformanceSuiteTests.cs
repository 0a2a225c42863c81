using Ebpf.Execution;

namespace Ebpf.Tests.Execution;

/// <summary>The whole bpf_conformance suite (313 tests, cpu v4, callx included) in the checked interpreter.</summary>
public class ConformanceSuiteTests
{
    public static TheoryData<string> Files()
    {
        var data = new TheoryData<string>();
        string dir = Path.Combine(SharedData.SharedRoot, "conformance", "tests");
        if (Directory.Exists(dir))
            foreach (var f in Directory.EnumerateFiles(dir, "*.data").Order(StringComparer.Ordinal))
                data.Add(Path.GetFileName(f));
        else
            data.Add("(missing)");
        return data;
    }

    [Theory]
    [MemberData(nameof(Files))]
    public void Test_passes_in_checked_interpreter(string file)
    {
        string dir = SharedData.Require("conformance/tests");
        var outcome = ConformanceRunner.RunFile(Path.Combine(dir, file));
        Assert.True(outcome.Passed, $"{file}: expected {outcome.Expected}, actual {outcome.Actual}, error {outcome.Error}");
    }

    [Fact]
    public void Whole_suite_passes_with_no_exclusions()
    {
        string dir = SharedData.Require("conformance/tests");
        var outcomes = ConformanceRunner.RunDirectory(dir);
        Assert.Equal(313, outcomes.Count);
        var failed = outcomes.Where(o => !o.Passed).Select(o => $"{o.File}: {o.Expected} vs {o.Actual} {o.Error}").ToList();
        Assert.Empty(failed);
    }

    [Fact]
    public void Whole_suite_passes_in_unchecked_mode_too()
    {
        string dir = SharedData.Require("conformance/tests");
        var failed = new List<string>();
        foreach (var path in Directory.EnumerateFiles(dir, "*.data").Order(StringComparer.Ordinal))
        {
            var test = Ebpf.Isa.ConformanceDataFile.Load(path);
            var options = new InterpreterOptions { Name = test.Name, Mode = ExecutionMode.Unchecked, Helpers = HelperTable.ForConformance() };
            ulong r0 = ConformanceRunner.Execute(test.Instructions, test.Memory, options);
            if (r0 != test.ExpectedResult)
                failed.Add($"{test.Name}: expected 0x{test.ExpectedResult:x}, got 0x{r0:x}");
        }
        Assert.Empty(failed);
    }
}
