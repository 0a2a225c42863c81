using Ebpf.Abi;
using Ebpf.Verification;

namespace Ebpf.Tests.Verification;

/// <summary>
/// Each targeted case must give the kernel's message verbatim (or be accepted). Where bpf(2) works, the
/// same instructions also go to the running kernel: the verdicts must agree and the kernel's log must
/// contain the same message.
/// </summary>
public class VerifierMessageTests
{
    public static TheoryData<string> CaseNames => new(VerifierCases.All.Select(c => c.Name));

    private static VerifierCase Case(string name) => VerifierCases.All.Single(c => c.Name == name);

    private static Dictionary<int, IVerifierMapInfo>? Maps(VerifierCase c, int fd) =>
        c.Map is null ? null : new() { [fd] = new VerifierMapInfo(c.Map.Type, c.Map.KeySize, c.Map.ValueSize, c.Map.MaxEntries, c.Map.Flags) };

    [Theory]
    [MemberData(nameof(CaseNames))]
    public void Managed_verifier_reproduces_the_kernel_message(string name)
    {
        var c = Case(name);
        const int fakeFd = 3;
        var result = Asm.Verify(c.Build(fakeFd), c.Type, Maps(c, fakeFd), attach: c.Attach);
        if (c.Expected is null)
        {
            Assert.True(result.Accepted, $"expected acceptance, got: {result.Error}\n{result.Log}");
        }
        else
        {
            Assert.False(result.Accepted, $"expected rejection with '{c.Expected}'\n{result.Log}");
            Assert.Contains(c.Expected, result.Log);
            Assert.Contains(c.Expected, result.Error!);
        }
        Assert.EndsWith(result.StatsLine + "\n", result.Log);
    }

    [Theory]
    [MemberData(nameof(CaseNames))]
    public void Kernel_agrees(string name)
    {
        if (KernelBpf.Unavailable() is { } why) Requirement.Missing(Requirement.Kernel, why);
        var c = Case(name);
        int fd = -1;
        if (c.Map is not null)
        {
            fd = KernelBpf.CreateMap((uint)c.Map.Type, c.Map.KeySize, c.Map.ValueSize, c.Map.MaxEntries, (uint)c.Map.Flags);
            Assert.True(fd >= 0, $"map create failed: errno {-fd}");
        }
        try
        {
            var insns = c.Build(fd);
            var kernel = KernelBpf.Load(insns, (uint)c.Type, (uint)c.Attach);
            var ours = Asm.Verify(insns, c.Type, Maps(c, fd), attach: c.Attach);
            Assert.True(kernel.Accepted == ours.Accepted,
                $"kernel accepted={kernel.Accepted} (errno {kernel.Errno}), ours accepted={ours.Accepted}\n--- kernel log ---\n{kernel.Log}\n--- our log ---\n{ours.Log}");
            if (c.Expected is not null)
                Assert.True(kernel.Log.Contains(c.Expected, StringComparison.Ordinal), $"kernel log lacks '{c.Expected}':\n{kernel.Log}\n--- our log ---\n{ours.Log}");
            if (!kernel.Accepted) Assert.Equal(kernel.Errno, (int)ours.Errno);
        }
        finally
        {
            KernelBpf.Close(fd);
        }
    }
}
