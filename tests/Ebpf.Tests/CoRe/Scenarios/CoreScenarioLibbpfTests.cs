namespace Ebpf.Tests.CoRe.Scenarios;

/// <summary>
/// The oracle for the scenario table: libbpf (Debian's libbpf-dev, through core_driver) relocates each scenario
/// program against the same target BTF and the live kernel verifies and runs it (BPF_PROG_TEST_RUN on raw_tp). It
/// must load exactly when ours does and produce the same expected output; so the expectations are libbpf's, not ours.
/// </summary>
public class CoreScenarioLibbpfTests
{
    [Theory]
    [MemberData(nameof(CoreScenarios.Names), MemberType = typeof(CoreScenarios))]
    public void Libbpf_and_the_kernel_agree(string name)
    {
        var s = CoreScenarios.Get(name);
        var expected = ScenarioExpectations.Output(s, s.TargetPath);
        var (output, log) = LibbpfDriver.Run(s.ObjectPath, s.Program, s.TargetPath, s.InputPath, expected.Length);
        if (s.Fails)
        {
            Assert.True(output is null, $"{name}: libbpf loaded it, but the scenario must fail");
            // libbpf rewrites the poisoned call's verifier line; its relocation errors are ours word for word.
            string text = s.Failure == CoreFailure.Poisoned ? "failed to resolve CO-RE relocation" : s.Failure!.Text;
            Assert.Contains(text, log, StringComparison.Ordinal);
            return;
        }
        Assert.True(output is not null, $"{name}: libbpf failed to load: {log}");
        Assert.Equal(Convert.ToHexString(expected), output);
    }
}
