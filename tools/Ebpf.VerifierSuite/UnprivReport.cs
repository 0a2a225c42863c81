using System.Globalization;
using System.Text;

namespace Ebpf.VerifierSuite;

/// <summary>
/// The unprivileged figures. The live kernel cannot be asked here (kernel.unprivileged_bpf_disabled), so every figure
/// compares our verifier with upstream's annotations (__success_unpriv, __failure_unpriv, __msg_unpriv and what they
/// inherit from the privileged ones), never with a kernel verdict.
/// </summary>
internal static class UnprivReport
{
    public static string Build(int files, IReadOnlyList<string> notCompiled, IReadOnlyList<UnprivOutcome> all, IReadOnlyList<string> skipped)
    {
        var s = new StringBuilder();
        var messageCases = all.Where(o => o.Expect.ExpectFailure && o.RefusedBeforeVerifier is null && o.Expect.Messages.Count > 0).ToList();
        int oursMatch = messageCases.Count(o => !o.Ours.Accepted && MessageMatcher.AllInOrder(o.Ours.Log, o.Expect.Messages));
        s.AppendLine("UNPRIVILEGED MODE (annotation-based: the live kernel refuses unprivileged BPF here, upstream's annotations are the reference)");
        s.AppendLine(CultureInfo.InvariantCulture, $"files: {files}, compiled: {files - notCompiled.Count}, not compiled: {notCompiled.Count}");
        foreach (string n in notCompiled) s.AppendLine(CultureInfo.InvariantCulture, $"  not compiled: {n}");
        s.AppendLine(CultureInfo.InvariantCulture, $"unprivileged tests: {all.Count}, upstream expects success: {all.Count(o => !o.Expect.ExpectFailure)}, rejection: {all.Count(o => o.Expect.ExpectFailure)}");
        s.AppendLine(CultureInfo.InvariantCulture, $"refused before the verifier (program type or size needs a capability, as bpf_prog_load): {all.Count(o => o.RefusedBeforeVerifier is not null)}");
        s.AppendLine(CultureInfo.InvariantCulture, $"our verdict as upstream expects: {all.Count(o => o.AsExpected)}/{all.Count} = {Report.Percent(all.Count(o => o.AsExpected), all.Count)}");
        s.AppendLine(CultureInfo.InvariantCulture, $"false accepts (we accept, upstream expects rejection): {all.Count(o => o.FalseAccept)}");
        s.AppendLine(CultureInfo.InvariantCulture, $"false rejects (we reject, upstream expects success): {all.Count(o => o.FalseReject)}");
        s.AppendLine(CultureInfo.InvariantCulture, $"our verifier crashed or timed out: {all.Count(o => o.Ours.Crashed)}");
        s.AppendLine(CultureInfo.InvariantCulture, $"expected __msg_unpriv found, on {messageCases.Count} expected rejections: ours {oursMatch} = {Report.Percent(oursMatch, messageCases.Count)}");
        s.AppendLine("false accepts:");
        foreach (var o in all.Where(o => o.FalseAccept))
            s.AppendLine(CultureInfo.InvariantCulture, $"  {o.Id}: expected \"{string.Join("\" … \"", o.Expect.Messages)}\"");
        s.AppendLine("false rejects:");
        foreach (var o in all.Where(o => o.FalseReject))
            s.AppendLine(CultureInfo.InvariantCulture, $"  {o.Id}: ours: {Report.FirstLine(o.Ours.Error)}");
        s.AppendLine("expected rejections whose __msg_unpriv our log lacks:");
        foreach (var o in messageCases.Where(o => !o.Ours.Accepted && !MessageMatcher.AllInOrder(o.Ours.Log, o.Expect.Messages)))
            s.AppendLine(CultureInfo.InvariantCulture, $"  {o.Id}: expected \"{string.Join("\" … \"", o.Expect.Messages)}\", ours: {Report.FirstLine(o.Ours.Error)}");
        s.AppendLine("crashes:");
        foreach (var o in all.Where(o => o.Ours.Crashed))
            s.AppendLine(CultureInfo.InvariantCulture, $"  {o.Id}: {Report.FirstLine(o.Ours.Error)}");
        s.AppendLine(CultureInfo.InvariantCulture, $"skipped as test_loader would on x86-64 with the JIT on (not counted above): {skipped.Count}");
        foreach (string k in skipped)
            s.AppendLine(CultureInfo.InvariantCulture, $"  {k}");
        return s.ToString();
    }

    public static string Details(IReadOnlyList<UnprivOutcome> all)
    {
        var s = new StringBuilder("\nper test (upstream expects/ours; A accept, R reject):\n");
        foreach (var o in all)
            s.AppendLine(CultureInfo.InvariantCulture, $"{o.Id}\t{(o.Expect.ExpectFailure ? "R" : "A")}/{(o.Ours.Accepted ? "A" : "R")}\t{Report.FirstLine(o.Ours.Error)}");
        return s.ToString();
    }
}
