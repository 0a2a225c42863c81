using System.Globalization;

namespace Ebpf.VerifierSuite;

/// <summary>
/// One machine-readable line per file (and a TOTAL line, whose compiled= counts the files that compiled): "SUMMARY file=NAME key=value …" in privileged mode,
/// "SUMMARY-UNPRIV file=NAME key=value …" in unprivileged mode. The keys are the report's figures, counted the same way.
/// </summary>
internal static class Summary
{
    public static string Priv(string file, IReadOnlyList<Outcome> all, int skipped, int compiled = 1)
    {
        var verified = all.Where(o => o.KernelVerified).ToList();
        var messageCases = verified.Where(o => o.MessageCase).ToList();
        return Line("SUMMARY", file,
            ("compiled", compiled), ("programs", all.Count), ("kernel_verified", verified.Count), ("not_loadable", all.Count - verified.Count),
            ("kernel_as_expected", verified.Count(o => o.Kernel.Accepted == o.Expect.ExpectSuccess)),
            ("agree", verified.Count(o => o.Agree)), ("false_accepts", verified.Count(o => o.FalseAccept)),
            ("false_rejects", verified.Count(o => o.FalseReject)), ("crashes", all.Count(o => o.Ours.Crashed)),
            ("msg_cases", messageCases.Count),
            ("msg_ours", messageCases.Count(o => MessageMatcher.AllInOrder(o.Ours.Log, o.Expect.Messages))),
            ("msg_kernel", messageCases.Count(o => MessageMatcher.AllInOrder(o.Kernel.Log, o.Expect.Messages))),
            ("skipped", skipped));
    }

    public static string Unpriv(string file, IReadOnlyList<UnprivOutcome> all, int skipped, int compiled = 1)
    {
        var messageCases = all.Where(o => o.Expect.ExpectFailure && o.RefusedBeforeVerifier is null && o.Expect.Messages.Count > 0).ToList();
        return Line("SUMMARY-UNPRIV", file,
            ("compiled", compiled), ("tests", all.Count), ("refused_before_verifier", all.Count(o => o.RefusedBeforeVerifier is not null)),
            ("as_expected", all.Count(o => o.AsExpected)), ("false_accepts", all.Count(o => o.FalseAccept)),
            ("false_rejects", all.Count(o => o.FalseReject)), ("crashes", all.Count(o => o.Ours.Crashed)),
            ("msg_cases", messageCases.Count),
            ("msg_ours", messageCases.Count(o => !o.Ours.Accepted && MessageMatcher.AllInOrder(o.Ours.Log, o.Expect.Messages))),
            ("skipped", skipped));
    }

    public static string NotCompiled(string file, bool unpriv) => $"{(unpriv ? "SUMMARY-UNPRIV" : "SUMMARY")} file={file} compiled=0";

    private static string Line(string tag, string file, params (string Key, int Value)[] figures) =>
        $"{tag} file={file} " + string.Join(' ', figures.Select(f => string.Create(CultureInfo.InvariantCulture, $"{f.Key}={f.Value}")));
}
