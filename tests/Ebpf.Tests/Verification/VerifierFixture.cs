using Ebpf.Abi;
using Ebpf.Elf;
using Ebpf.Linux;
using Ebpf.Loading;
using Ebpf.Verification;

namespace Ebpf.Tests.Verification;

/// <summary>
/// One clang-built regression fixture of verifier rules (tests/fixtures/verifier/…): its programs verified by ours
/// and loaded into the live kernel, the two halves every kernel-compared rule test (KernelRuleTests,
/// PacketContextRuleTests, MemoryRuleTests, ControlFlowRuleTests, BoundsRuleTests) is made of.
/// </summary>
internal sealed class VerifierFixture(string fixture)
{
    public string Path { get; } = SharedData.Fixture(fixture);

    /// <summary>The object's program names, sorted (for "every program of the fixture is listed").</summary>
    public IEnumerable<string> ProgramNames => ObjectSpec.Load(Path).Programs.Select(p => p.Name).Order(StringComparer.Ordinal);

    /// <summary>Our verdict on <paramref name="program"/>, with the object and program it came from.</summary>
    public VerificationResult Ours(string program, out ProgramSpec prog, out ObjectSpec obj, int logLevel = 1)
    {
        obj = ObjectSpec.Load(Path);
        prog = obj.FindProgram(program) ?? throw new InvalidOperationException($"{program} not in {System.IO.Path.GetFileName(Path)}");
        return Verifier.Verify(ProgramSpecInput.Create(obj, prog, logLevel));
    }

    /// <summary>The live kernel's verdict and log on <paramref name="prog"/> of <paramref name="obj"/> (the test is
    /// skipped, or fails under EBPF_REQUIRE, where bpf(2) is not usable).</summary>
    public (bool Accepted, string Log) Kernel(ObjectSpec obj, ProgramSpec prog, int logLevel = 1, string? pinRoot = null)
    {
        RequireKernel();
        try
        {
            using var collection = LinuxKernel.Load(obj, new ObjectLoadOptions
            {
                Elf = ElfFile.Open(Path),
                ProgramFilter = p => ReferenceEquals(p, prog),
                LogLevel = logLevel,
                PinRoot = pinRoot ?? new ObjectLoadOptions().PinRoot, // the loader's default unless the test gives a bpffs
            });
            return (true, collection.Programs[prog.Name].VerifierLog ?? "");
        }
        catch (BpfException e)
        {
            return (false, e.Log ?? e.Message);
        }
    }

    /// <summary>The rows of a fixture's test name every program of the object, and no other.</summary>
    public void AssertEveryProgramListed(IEnumerable<string> listed) =>
        Assert.Equal(ProgramNames, listed.Order(StringComparer.Ordinal));

    /// <summary>Our verdict on <paramref name="program"/>: accepted when <paramref name="expected"/> is null, else
    /// refused (with <paramref name="errno"/> when one is given) and the lines of <paramref name="expected"/> in our log
    /// in order.</summary>
    public void AssertOurs(string program, string? expected, Errno? errno = null)
    {
        var result = Ours(program, out _, out _);
        if (expected is null)
        {
            Assert.True(result.Accepted, $"{result.Error}\n{result.Log}");
            return;
        }
        Assert.False(result.Accepted, result.Log);
        if (errno is { } want) Assert.Equal(want, result.Errno);
        AssertLinesInOrder(expected, result.Log, "ours");
    }

    /// <summary>The live kernel's verdict on <paramref name="program"/> equals ours and the expected one, and a
    /// refusal's log holds the lines of <paramref name="expected"/> in order.</summary>
    public void AssertKernelAgrees(string program, string? expected)
    {
        var ours = Ours(program, out var prog, out var obj);
        var (kernelAccepted, log) = Kernel(obj, prog);
        Assert.True(ours.Accepted == kernelAccepted, $"kernel accepted={kernelAccepted}\n{log}\n--- ours ---\n{ours.Log}");
        Assert.True((expected is null) == kernelAccepted, $"kernel accepted={kernelAccepted}, expected {expected ?? "acceptance"}\n{log}");
        if (expected is not null) AssertLinesInOrder(expected, log, "the kernel");
    }

    /// <summary>Skips the test (fails it under EBPF_REQUIRE) where bpf(2) is not usable.</summary>
    public static void RequireKernel()
    {
        if (!LinuxKernel.IsAvailable) Requirement.Missing(Requirement.Kernel, $"bpf(2) is not usable here: {LinuxKernel.UnavailableReason}");
    }

    /// <summary>Each line of <paramref name="expected"/> occurs in <paramref name="log"/>, in that order.</summary>
    public static void AssertLinesInOrder(string expected, string log, string who)
    {
        int from = 0;
        foreach (var line in expected.Split('\n'))
        {
            int at = log.IndexOf(line, from, StringComparison.Ordinal);
            Assert.True(at >= 0, $"{who}: \"{line}\" not in the log (in order)\n{log}");
            from = at + line.Length;
        }
    }
}
