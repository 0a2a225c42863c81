using Ebpf.Verification;

namespace Ebpf.Tests.Verification;

/// <summary>
/// A verifier rejection as the kernel reports it: the index of the instruction the verifier stopped at (the last
/// "N: …" line of the log before the message; -1 when it stopped before walking any, as check_cfg does) and the
/// message, the log's last line before the statistics. Tests of a rejection assert both, for our verifier and for
/// the kernel, so a rejection for another reason or at another place fails.
/// </summary>
internal readonly record struct Rejection(int Insn, string Message)
{
    public override string ToString() => $"insn {Insn}: {Message}";

    /// <summary>Ours: the instruction our verifier stopped at and the last line of its message.</summary>
    public static Rejection Of(VerificationResult result) =>
        new(result.ErrorInstruction, LastLine(result.Error ?? ""));

    /// <summary>The kernel's, read from its verifier log (level 1 or 2) as the differential fuzzer reads it.</summary>
    public static Rejection OfKernelLog(string log)
    {
        var (message, insn) = Ebpf.Fuzz.KernelBackend.ErrorOf(log);
        return new(insn, message.Trim());
    }

    public static void AssertOurs(VerificationResult result, Rejection expected, string name)
    {
        Assert.False(result.Accepted, $"{name}: accepted, expected the rejection {expected}\n{result.Log}");
        Assert.True(Of(result) == expected, $"{name}: expected {expected}, ours {Of(result)}\n{result.Log}");
    }

    public static void AssertKernel(bool accepted, string log, Rejection expected, string name)
    {
        Assert.False(accepted, $"{name}: the kernel accepted it, expected the rejection {expected}\n{log}");
        Assert.True(OfKernelLog(log) == expected, $"{name}: expected {expected}, the kernel's {OfKernelLog(log)}\n{log}");
    }

    private static string LastLine(string text) =>
        text.Split('\n', StringSplitOptions.TrimEntries).LastOrDefault(l => l.Length > 0) ?? "";
}
