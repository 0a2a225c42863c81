using Ebpf.Abi;
using Ebpf.Loading;

namespace Ebpf.Tests.Loading;

/// <summary>
/// The corpus's prog_type column (kernel_verdicts.tsv, libbpf's snake_case names). Loaders no longer guess a
/// type for sections libbpf has no rule for, so corpus tests give such programs the type the kernel saw.
/// </summary>
internal static class CorpusProgramTypes
{
    /// <summary>"sched_cls" → SchedCls; null for an empty or unknown name.</summary>
    public static ProgramType? Parse(string name) =>
        Enum.TryParse<ProgramType>(name.Replace("_", "", StringComparison.Ordinal), ignoreCase: true, out var t) && t != ProgramType.Unspec ? t : null;

    /// <summary>Sets the type of a program libbpf could not type from its section to the corpus's, as a loader option would.</summary>
    public static void GiveTypeIfUntyped(ProgramSpec program, string tsvName)
    {
        if (program.Type == ProgramType.Unspec && Parse(tsvName) is { } type)
            program.Type = type;
    }
}
