using Ebpf.Abi;
using Ebpf.Isa;

namespace Ebpf.Verification;

/// <summary>
/// check_map_prog_compatibility, which the kernel runs for every map an <c>ld_imm64</c> names while resolve_pseudo_ldimm64
/// walks the instructions, before any path is verified (the log then says "processed 0 insns"): a map whose value holds
/// a bpf_spin_lock may not be used by a socket filter or a tracing program (kprobe, tracepoint, perf_event, raw
/// tracepoints), whether or not the program ever takes the lock, and whether or not the instruction is reachable.
/// </summary>
internal static class MapProgramCompatibility
{
    public static void Check(VerifierInput input, IReadOnlyList<Instruction> insns)
    {
        for (int i = 0; i + 1 < insns.Count; i++)
        {
            var insn = insns[i];
            if (!insn.IsLoadImm64)
                continue;
            if (MapOf(input, insn, i) is { SpinLockOffset: >= 0 })
            {
                if (input.ProgramType == ProgramType.SocketFilter)
                    throw new VerifierError(Errno.EINVAL, "socket filter progs cannot use bpf_spin_lock yet", i);
                if (IsTracing(input.ProgramType))
                    throw new VerifierError(Errno.EINVAL, "tracing progs cannot use bpf_spin_lock yet", i);
            }
            i++;
        }
    }

    /// <summary>is_tracing_prog_type.</summary>
    public static bool IsTracing(ProgramType type) =>
        type is ProgramType.Kprobe or ProgramType.Tracepoint or ProgramType.PerfEvent or ProgramType.RawTracepoint
            or ProgramType.RawTracepointWritable;

    /// <summary>The map an ld_imm64 names, or null when it names none or one that does not resolve (the walk then
    /// reports that at the instruction, as before).</summary>
    private static IVerifierMapInfo? MapOf(VerifierInput input, Instruction insn, int index)
    {
        if (insn.Src is not ((byte)LoadImm64Source.MapFd or (byte)LoadImm64Source.MapIndex
            or (byte)LoadImm64Source.MapValue or (byte)LoadImm64Source.MapIndexValue))
            return null;
        if (input.MapReferences is not null && input.MapReferences.TryGetValue(index, out var referenced)) return referenced;
        if (insn.Src is (byte)LoadImm64Source.MapIndex or (byte)LoadImm64Source.MapIndexValue)
            return input.MapsByIndex is { } list && insn.Imm >= 0 && insn.Imm < list.Count ? list[insn.Imm] : null;
        return input.MapsByFd is { } fds && fds.TryGetValue(insn.Imm, out var m) ? m : null;
    }
}
