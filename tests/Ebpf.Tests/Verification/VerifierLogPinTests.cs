using Ebpf.Loading;
using Ebpf.Verification;

namespace Ebpf.Tests.Verification;

/// <summary>
/// Pins the verifier log, byte for byte, of every program in the clang-built verifier fixtures and of the
/// precision-log programs at log level 2 (every instruction, every state, every backtracking step). The log is the
/// verifier's most detailed observable behaviour, so a restructuring of the engine that changes any decision — a
/// pruning, a precision mark, a bound — shows up here. Set EBPF_UPDATE_LOGS=1 to rewrite the pinned logs after a
/// deliberate change.
/// </summary>
public class VerifierLogPinTests
{
    private static readonly string[] Objects = ["xdp_parse", "maps", "loops", "helper_calls", "global_args", "global_trusted", "kfuncs"];

    public static TheoryData<string, string> FixturePrograms
    {
        get
        {
            var data = new TheoryData<string, string>();
            foreach (var file in Objects)
                foreach (var p in ObjectSpec.Load(SharedData.Fixture($"verifier/{file}.bpf.o")).Programs)
                    data.Add(file, p.Name);
            return data;
        }
    }

    public static TheoryData<string> PrecisionPrograms => new(PrecisionLogPrograms.Names);

    [Theory]
    [MemberData(nameof(FixturePrograms))]
    public void Fixture_log_at_level_2_is_pinned(string file, string program)
    {
        var obj = ObjectSpec.Load(SharedData.Fixture($"verifier/{file}.bpf.o"));
        var prog = obj.FindProgram(program)!;
        var result = Verifier.Verify(ProgramSpecInput.Create(obj, prog, logLevel: 2));
        Check($"{file}.{program}", Describe(result));
    }

    [Theory]
    [MemberData(nameof(PrecisionPrograms))]
    public void Precision_program_log_at_level_2_is_pinned(string name)
    {
        var result = Asm.Verify(PrecisionLogPrograms.Build(name), logLevel: 2);
        Check($"precision.{name}", Describe(result));
    }

    // The verdict, the failing instruction and the log; the elapsed time is the one field that may differ.
    private static string Describe(VerificationResult r) =>
        $"errno {r.Errno} insn {r.ErrorInstruction} error {r.Error}\nstate {r.ErrorState}\n{r.Log}";

    private static void Check(string name, string actual)
    {
        string path = Path.Combine(SharedData.RepoRoot, "tests", "fixtures", "verifier", "logs", name + ".log");
        if (Environment.GetEnvironmentVariable("EBPF_UPDATE_LOGS") == "1")
        {
            File.WriteAllText(path, actual);
            return;
        }
        Assert.True(File.Exists(path), $"no pinned log {path}; run with EBPF_UPDATE_LOGS=1 once");
        string expected = File.ReadAllText(path);
        if (expected == actual) return;
        int at = 0;
        while (at < expected.Length && at < actual.Length && expected[at] == actual[at]) at++;
        int line = expected.AsSpan(0, at).Count('\n') + 1;
        Assert.Fail($"{name}: log differs from the pinned log at line {line}:\nexpected: {Line(expected, at)}\nactual:   {Line(actual, at)}");
    }

    private static string Line(string text, int at)
    {
        int start = at == 0 ? 0 : text.LastIndexOf('\n', Math.Min(at, text.Length) - 1) + 1;
        int end = text.IndexOf('\n', Math.Min(at, text.Length));
        return end < 0 ? text[start..] : text[start..end];
    }
}
