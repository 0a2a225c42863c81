namespace Ebpf.Tests.CoRe.Scenarios;

/// <summary>
/// The core_reloc scenarios end to end in the managed runtime: each program is relocated against its target BTF
/// (btf_custom_path), verified and run; its output must equal the expected blob, and every scenario upstream expects
/// to fail must fail the same way (the relocation error, or the verifier reaching the poisoned call).
/// </summary>
public class CoreScenarioTests
{
    [Theory]
    [MemberData(nameof(CoreScenarios.Names), MemberType = typeof(CoreScenarios))]
    public void Scenario(string name)
    {
        var s = CoreScenarios.Get(name);
        var expected = ScenarioExpectations.Output(s, s.TargetPath);
        var outcome = ScenarioRunner.Run(s.ObjectPath, s.Program, s.TargetPath, File.ReadAllBytes(s.InputPath), expected.Length);
        if (s.Failure is { } failure)
        {
            ScenarioRunner.AssertFails(failure, outcome.Failure, name);
            return;
        }
        Assert.True(outcome.Failure is null, $"{name}: {outcome.Failure?.Errno} {outcome.Failure?.Message}\n{outcome.Failure?.Log}");
        Assert.Equal(Convert.ToHexString(expected), Convert.ToHexString(outcome.Output!));
    }

    [Fact]
    public void The_table_holds_upstreams_77_entries()
    {
        Assert.Equal(77, CoreScenarios.All.Count + CoreScenarios.KernelAndModule.Count);
        Assert.Equal(CoreScenarios.All.Count, CoreScenarios.All.Select(s => s.Name).Distinct().Count());
        Assert.Equal(22, CoreScenarios.All.Count(s => s.Fails));
    }
}
