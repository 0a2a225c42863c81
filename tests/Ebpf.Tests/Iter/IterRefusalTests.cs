using Ebpf.Collections;
using Ebpf.Loading;

namespace Ebpf.Tests.Iter;

/// <summary>
/// Verifier refusals of iterator rules (tests/fixtures/iter/refusals.bpf.c), the same on the managed runtime and on
/// this machine's kernel: errno and the log's last line.
/// </summary>
public class IterRefusalTests
{
    [Theory]
    [InlineData("seq_in_socket", "program of this type cannot use helper bpf_seq_write#127")]
    [InlineData("map_unchecked", "invalid mem access")]
    [InlineData("ctx_write", "invalid bpf_context access off=8 size=8")]
    [InlineData("bad_return", "At program exit the register R0 has ")]
    public void Both_backends_refuse_alike(string program, string expected)
    {
        BpfException Refusal(string backend)
        {
            using var b = TestBackend.Create(backend);
            var options = new ObjectLoadOptions { ProgramFilter = p => p.Name == program, LogLevel = 1 };
            return Assert.Throws<BpfException>(() =>
                BpfCollection.Load(b.Backend, ObjectSpec.Load(SharedData.Fixture("iter/refusals.bpf.o")), options).Dispose());
        }
        var kernel = Refusal(Backends.Linux);
        var ours = Refusal(Backends.Managed);
        string LastLine(BpfException e) => (e.Log ?? "").TrimEnd('\n').Split('\n').Where(l => !l.StartsWith("processed ", StringComparison.Ordinal)).LastOrDefault() ?? "";
        Assert.Contains(expected, LastLine(kernel));
        Assert.Equal(kernel.Errno, ours.Errno);
        Assert.Equal(LastLine(kernel), LastLine(ours));
    }
}
