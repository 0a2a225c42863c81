namespace Ebpf.Verification;

/// <summary>
/// bpf_adj_linfo for the translated program: where each line-info record of the verified program points afterwards.
/// A record on a surviving instruction moves with it (to the first instruction of its patch when a conversion grew
/// it). Records on removed instructions are dropped, except that the first survivor after a removed run, when it
/// has no record of its own, inherits the run's last record (the kernel's "needs to inherit last removed linfo");
/// nothing is inherited when the run ends the program.
/// </summary>
internal static class LineInfoAdjustment
{
    /// <param name="newIndex"><see cref="VerifiedProgram.NewIndex"/> (one entry per verified instruction, plus the end).</param>
    /// <param name="recordInstructions">Each record's instruction in the verified program, ascending.</param>
    /// <returns>For each record, its xlated instruction, or -1 when the record was dropped.</returns>
    public static int[] Move(IReadOnlyList<int> newIndex, IReadOnlyList<int> recordInstructions)
    {
        int n = newIndex.Count - 1;
        bool Survives(int i) => newIndex[i] < newIndex[i + 1];
        var result = new int[recordInstructions.Count];
        var hasRecord = new HashSet<int>(recordInstructions);
        for (int r = 0; r < recordInstructions.Count; r++)
        {
            int insn = recordInstructions[r];
            if ((uint)insn >= (uint)n)
                throw new BpfException(Errno.EINVAL, $"line info record {r}: insn {insn} outside the program ({n} insns)");
            if (Survives(insn))
            {
                result[r] = newIndex[insn];
                continue;
            }
            int next = insn + 1;
            while (next < n && !Survives(next)) next++;
            bool lastInRun = r + 1 == recordInstructions.Count || recordInstructions[r + 1] >= next;
            result[r] = next < n && lastInRun && !hasRecord.Contains(next) ? newIndex[next] : -1;
        }
        return result;
    }
}
