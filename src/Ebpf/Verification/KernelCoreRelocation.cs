using System.Buffers.Binary;
using System.Text.RegularExpressions;
using Ebpf.Btf;
using Ebpf.CoRe;
using Ebpf.Isa;

namespace Ebpf.Verification;

/// <summary>What the kernel's check_core_relo left: the patched instructions, or the errno and message it stopped with.</summary>
/// <param name="Instructions">The instructions with every record applied (the input's when there were none).</param>
/// <param name="Log">The lines bpf_core_apply logged (empty below log level 1).</param>
/// <param name="Errno">0, or why the load fails.</param>
/// <param name="Error">The line the failure is reported with.</param>
internal sealed record KernelCoreRelocationResult(Instruction[] Instructions, string Log, Errno Errno, string? Error);

/// <summary>
/// Kernel-side CO-RE (BPF_PROG_LOAD with core_relos, what light skeletons send): the verifier's check_core_relo and
/// bpf_core_apply. Each struct bpf_core_relo record {insn_off in bytes, type_id, access_str_off, kind} is checked and
/// applied one at a time, in order, against the kernel's BTF (vmlinux, then module BTFs), with the same algorithm as
/// libbpf's (the kernel compiles relo_core.c too) and its log lines, in which the program's name is empty
/// ("prog '': relo #0: …") and kinds are upper-case ("[12] STRUCT task_struct"). It runs before subprogram validation,
/// as in the kernel. As in the kernel, records are only read together with func_info or line_info, and the
/// candidate list is searched afresh for every record (the kernel's cache is not pruned).
/// </summary>
internal static partial class KernelCoreRelocation
{
    /// <summary>sizeof(struct bpf_core_relo).</summary>
    public const int MinRecordSize = 16;
    /// <summary>MAX_FUNCINFO_REC_SIZE, the kernel's bound for core_relo_rec_size.</summary>
    public const int MaxRecordSize = 252;

    /// <summary>Applies <paramref name="records"/> to <paramref name="instructions"/>.</summary>
    public static KernelCoreRelocationResult Apply(IReadOnlyList<Instruction> instructions, ReadOnlyMemory<byte> records, uint recordSize,
        bool hasFuncOrLineInfo, Btf.BtfSpec? programBtf, Func<CoreTargets> targets, int logLevel)
    {
        var insns = instructions.ToArray();
        if (records.IsEmpty || !hasFuncOrLineInfo)
            return new(insns, "", 0, null);
        var log = new System.Text.StringBuilder();
        void Line(string text)
        {
            if (logLevel != 0)
                log.Append(KernelKindNames(text)).Append('\n');
        }
        KernelCoreRelocationResult Fail(Errno errno, string message, bool logged = true)
        {
            if (logged)
                Line(message);
            return new(insns, log.ToString() + Stats(logLevel), errno, message);
        }

        if (recordSize < MinRecordSize || recordSize > MaxRecordSize || recordSize % 4 != 0)
            return Fail(Errno.EINVAL, $"core_relo_rec_size {recordSize} is invalid", logged: false);
        if (programBtf is null)
            return Fail(Errno.EINVAL, "core_relos without the program's BTF", logged: false);
        int count = records.Length / (int)recordSize;
        var coreLog = new CoreLog { Debug = Line, Warn = Line, KernelStyle = true };
        CoreTargets? resolvedTargets = null;
        for (int i = 0; i < count; i++)
        {
            var rec = records.Span.Slice(i * (int)recordSize, (int)recordSize);
            if (rec[MinRecordSize..].ContainsAnyExcept((byte)0))
            {
                // The kernel's message has no newline.
                log.Append(logLevel != 0 ? "nonzero tailing record in core_relo" : "");
                return new(insns, log.ToString() + Stats(logLevel), Errno.E2BIG, "nonzero tailing record in core_relo");
            }
            uint insnOff = BinaryPrimitives.ReadUInt32LittleEndian(rec);
            uint typeId = BinaryPrimitives.ReadUInt32LittleEndian(rec[4..]);
            uint accessOff = BinaryPrimitives.ReadUInt32LittleEndian(rec[8..]);
            var kind = (BtfCoreReloKind)BinaryPrimitives.ReadUInt32LittleEndian(rec[12..]);
            if (insnOff % 8 != 0 || insnOff / 8 >= insns.Length)
                return Fail(Errno.EINVAL, $"Invalid core_relo[{i}].insn_off:{insnOff} prog->len:{insns.Length}");
            if (!programBtf.TryGetType(typeId, out _))
                return Fail(Errno.EINVAL, $"relo #{i}: bad type id {typeId}");
            if (!programBtf.TryGetString(accessOff, out string access))
                access = "";
            try
            {
                resolvedTargets ??= targets();
                // A fresh relocator per record: the kernel copies its (unpruned) candidate cache for every relocation.
                var relocator = new CoreRelocator(programBtf, resolvedTargets, coreLog);
                int at = (int)(insnOff / 8);
                var res = relocator.Resolve("", i, new CoreRelocation(at, typeId, access, kind));
                CoreInstructionPatcher.Patch("", i, insns, at, res, coreLog.Debug);
            }
            catch (BpfException e)
            {
                // relo_core's own messages were logged as they happened; a message not yet in the log is added.
                string message = KernelKindNames(e.Message);
                if (!log.ToString().Contains(message, StringComparison.Ordinal))
                    Line(e.Message);
                return new(insns, log.ToString() + Stats(logLevel), e.Errno == Errno.None ? Errno.EINVAL : e.Errno, message);
            }
        }
        return new(insns, log.ToString(), 0, null);
    }

    /// <summary>
    /// The verifier's result with the CO-RE lines before its own (they come first in the kernel's log). At log level 1
    /// a successful verification resets the kernel's log to its start (do_check_common pops the log of explored paths),
    /// which drops them: only a failure, or level 2, keeps them.
    /// </summary>
    public static VerificationResult PrependLog(VerificationResult result, string prefix, int logLevel) =>
        prefix.Length == 0 || result.Accepted && (logLevel & 2) == 0 ? result : new VerificationResult
    {
        Errno = result.Errno, Error = result.Error, ErrorInstruction = result.ErrorInstruction, ErrorState = result.ErrorState,
        Log = prefix + result.Log, ProcessedInstructions = result.ProcessedInstructions, MaxStatesPerInstruction = result.MaxStatesPerInstruction,
        TotalStates = result.TotalStates, PeakStates = result.PeakStates, Elapsed = result.Elapsed, Program = result.Program,
    };

    /// <summary>The stats line bpf_check prints even when it stops before walking any instruction.</summary>
    private static string Stats(int logLevel) => logLevel == 0 ? ""
        : $"processed 0 insns (limit {Verifier.ComplexityLimit}) max_states_per_insn 0 total_states 0 peak_states 0 mark_read 0\n";

    /// <summary>libbpf prints "[id] struct name"; the kernel's btf_type_str gives "[id] STRUCT name".</summary>
    private static string KernelKindNames(string line) => LibbpfKind().Replace(line, m =>
        $"[{m.Groups[1].Value}] {(m.Groups[2].Value == "void" ? "UNKNOWN" : m.Groups[2].Value.ToUpperInvariant())} ");

    [GeneratedRegex(@"\[(\d+)\] (void|int|ptr|array|struct|union|enum64|enum|fwd|typedef|volatile|const|restrict|func_proto|func|var|datasec|float|decl_tag|type_tag) ")]
    private static partial Regex LibbpfKind();
}
