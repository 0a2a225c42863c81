using System.Text;
using System.Text.RegularExpressions;
using Ebpf.Isa;

namespace Ebpf.Fuzz;

/// <summary>Classes of disagreement between our verifier/runtime and the kernel.</summary>
public enum FindingKind
{
    /// <summary>Our verifier accepts what the kernel rejects: a soundness bug.</summary>
    FalseAccept,
    /// <summary>Our verifier rejects what the kernel accepts.</summary>
    FalseReject,
    /// <summary>Both accept, but BpfRuntime's program load refuses it.</summary>
    RuntimeRefusal,
    /// <summary>An accepted program faulted in the checked interpreter: the verifier's proof did not hold.</summary>
    CheckedFault,
    /// <summary>
    /// Accepted by both; our three engines agree but the kernel's test_run returned another value. Expected where the
    /// result is not defined by the program: a returned pointer (map value or stack address), bytes of stack it
    /// never wrote (root may read them), random numbers.
    /// </summary>
    ResultMismatch,
    /// <summary>Accepted by both; our checked interpreter, unchecked interpreter and JIT disagree among themselves: an engine bug.</summary>
    EngineMismatch,
    /// <summary>Anything threw what it should not (a non-BpfException, or a runtime error in an accepted program).</summary>
    Exception,
    /// <summary>An accepted program called a helper BpfRuntime does not implement (a runtime gap, not a verifier bug).</summary>
    HelperNotImplemented,
    /// <summary>Both reject with a different error line (counted, reproducers kept; not a verdict bug).</summary>
    MessageMismatch,
}

/// <summary>One disagreement; <see cref="Signature"/> groups findings of one cause (numbers blanked).</summary>
public sealed partial record Finding(FindingKind Kind, string Ours, string Kernel, string Detail)
{
    public string Signature => Kind is FindingKind.FalseAccept or FindingKind.FalseReject or FindingKind.MessageMismatch
        ? $"{Kind}: ours [{Normalise(Ours)}] kernel [{Normalise(Kernel)}]"
        : $"{Kind}: [{Normalise(Detail)}]";

    private static string Normalise(string s) => Numbers().Replace(s.Length > 120 ? s[..120] : s, "N");

    [GeneratedRegex(@"-?(0x[0-9a-f]+|\d+)")]
    private static partial Regex Numbers();

    /// <summary>A reproducer file: the verdicts, then the program as the kernel prints it, then raw hex (for tests).</summary>
    public static string Reproducer(Finding finding, FuzzProgram program, Instruction[] minimal)
    {
        var sb = new StringBuilder();
        sb.AppendLine($"# {finding.Kind} ({program.Type}, {program.Origin}; minimised {program.Instructions.Length} -> {minimal.Length} insns)");
        sb.AppendLine($"# ours:   {finding.Ours}");
        sb.AppendLine($"# kernel: {finding.Kernel}");
        if (finding.Detail.Length > 0)
            sb.AppendLine($"# detail: {finding.Detail}");
        for (int i = 0; i < minimal.Length; i++)
        {
            string text;
            try { text = KernelDisassembler.Format(minimal, i); }
            catch (Exception e) when (e is not OutOfMemoryException) { text = $"(undecodable: {e.GetType().Name})"; }
            sb.AppendLine($"{i,4}: {minimal[i].ToRaw():x16}  {text}");
        }
        return sb.ToString();
    }
}
