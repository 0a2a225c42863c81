using Ebpf.Abi;
using Ebpf.Collections;
using Ebpf.Abi.Helpers;
using Ebpf.Execution;
using Ebpf.Isa;
using Ebpf.Runtime.Objects;
using Ebpf.Verification;

namespace Ebpf.Runtime;

/// <summary>
/// BPF_PROG_LOAD's verification step and the runtime's choice of execution mode.
/// </summary>
/// <remarks>
/// Policy — kernel fidelity with host safety:
/// <list type="bullet">
/// <item>A program the verifier rejects is refused with the verifier's errno and log, as the kernel
/// does — unless <see cref="ProgramLoadOptions.AllowUnverified"/>, which runs it checked.</item>
/// <item>An accepted program runs in the unchecked interpreter only when it is "fully modelled": every
/// helper it calls has a prototype in <see cref="HelperPrototypes"/> (so the verifier checked its
/// arguments against the kernel's contract) or is a host helper registered with its prototype, and is implemented
/// by this runtime, and it calls no kfunc.
/// Anything else runs checked: the verifier's proof only covers what it models, and the host process
/// has no MMU boundary to fall back on.</item>
/// <item>A tail call continues in the caller's mode: a verified, fully modelled caller runs unchecked and
/// enters only targets that may run unchecked themselves (a checked-only target in the prog array is
/// ENOENT at the call, as an empty slot); a checked caller enters every target through the target's
/// checked interpreter.</item>
/// </list>
/// </remarks>
internal static class ProgramVerification
{
    public static VerificationResult Verify(ProgramObject program, IReadOnlyList<MapObject> indexed, ProgramLoadOptions options)
    {
        IReadOnlyList<Instruction> insns = program.Definition.Instructions;
        // Kernel-side CO-RE (core_relos) is applied first, as the kernel's bpf_check does before subprogram checks.
        string coreLog = "";
        var definition = program.Definition;
        if (!definition.CoreRelocations.IsEmpty)
        {
            var core = KernelCoreRelocation.Apply(insns, definition.CoreRelocations, definition.CoreRelocationRecordSize,
                !definition.FuncInfo.IsEmpty || !definition.LineInfo.IsEmpty, program.Btf?.Parsed,
                () => program.Runtime.Backend.CoreTargets(null), options.LogLevel ?? 1);
            if (core.Errno != 0)
                return new VerificationResult { Errno = core.Errno, Error = core.Error, Log = core.Log };
            insns = core.Instructions;
            program.Instructions = [.. core.Instructions]; // what runs when the program is not translated
            coreLog = core.Log;
        }
        var byFd = new Dictionary<int, IVerifierMapInfo>();
        for (int pc = 0; pc < insns.Count; pc++)
        {
            var insn = insns[pc];
            if (!insn.IsLoadImm64)
                continue;
            if (insn.Src is 1 or 2 && program.Runtime.FindObject(ObjectKind.Map, (uint)insn.Imm) is MapObject map)
                byFd.TryAdd(insn.Imm, new MapVerifierInfo(map));
            pc++;
        }
        var input = new VerifierInput
        {
            Instructions = insns,
            // An extension is verified with its target's type and attach type (check_attach_btf_id), from its prototype.
            ProgramType = program.ResolvedType,
            ExpectedAttachType = program.VerifiedAttachType,
            EntryFunction = program.ExtensionEntry,
            ContextLayout = program.TracingContextLayout,
            Name = program.Name,
            // The used-map list is this runtime's fd_array: a load that passes none has no fd_array (kernel: EPROTO).
            MapsByIndex = indexed.Count == 0 ? null : indexed.Select(m => (IVerifierMapInfo)new MapVerifierInfo(m)).ToArray(),
            MapsByFd = byFd,
            Functions = options.Functions,
            HostHelpers = program.Runtime.Helpers.HostPrototypes,
            LogLevel = options.LogLevel ?? 1,
            GplCompatible = ProgramSpecInput.IsGplCompatible(program.Definition.License),
            Sleepable = (program.Definition.Flags & 16) != 0, // BPF_F_SLEEPABLE (1 << 4)
            StrictAlignment = (program.Definition.Flags & 1) != 0, // BPF_F_STRICT_ALIGNMENT
            InstructionLimit = options.VerifierInstructionLimit,
            // The runtime's CPUs are the process's: a verified program may rely on a CPU number below that count only.
            Profile = program.Runtime.Profile.PossibleCpus is int cpus && cpus >= Maps.BpfCpu.PossibleCount
                ? program.Runtime.Profile
                : program.Runtime.Profile.WithPossibleCpus(program.Runtime.Profile.PossibleCpus is null ? null : Maps.BpfCpu.PossibleCount),
            ContextConverter = program.TypeInfo,
            ModuleBtfs = program.BtfReferences?.ModuleBtfsByFd,
            DeviceBound = program.IsDeviceBound,
            KernelFunctions = program.BtfReferences is { KfuncsByInstruction.Count: > 0 } refs ? refs.KfuncsByInstruction : null,
            MainFunctionDeclTags = MainDeclTags(program.Btf, definition.FuncInfo.Span),
        };
        try
        {
            return KernelCoreRelocation.PrependLog(Verifier.Verify(input), coreLog, input.LogLevel);
        }
        catch (BpfException e)
        {
            // The verifier reports verdicts in its result; an exception is a gap in it, not the program's fault.
            return new VerificationResult { Errno = e.Errno == Errno.None ? Errno.EINVAL : e.Errno, Error = "verifier failed: " + e.Message, Log = e.Log ?? "" };
        }
    }

    /// <summary>The decl tags on the main function's FUNC: func_info's first record (insn_off 0, then its type id).
    /// The BTF is parsed only when there is func_info to read (a program may hold a BTF it never describes itself with).</summary>
    private static IReadOnlyList<string>? MainDeclTags(Objects.BtfObject? btf, ReadOnlySpan<byte> funcInfo) =>
        btf is not null && funcInfo.Length >= 8 && System.Buffers.Binary.BinaryPrimitives.ReadUInt32LittleEndian(funcInfo) == 0
            ? btf.Parsed.GetDeclTagValues(System.Buffers.Binary.BinaryPrimitives.ReadUInt32LittleEndian(funcInfo[4..]))
            : null;

    /// <summary>
    /// The conservative "fully modelled" test: null when the program may run unchecked, else the reason it may not.
    /// </summary>
    public static string? WhyNotFullyModelled(ReadOnlySpan<Instruction> insns, BpfRuntime runtime)
    {
        for (int pc = 0; pc < insns.Length; pc++)
        {
            var insn = insns[pc];
            if (insn.IsLoadImm64)
            {
                pc++;
                continue;
            }
            if (!insn.IsCall)
                continue;
            switch (insn.Src)
            {
                case 0:
                    // A host helper's prototype is the host's, checked by the verifier like a kernel helper's.
                    if (insn.Imm >= Helpers.HelperRegistry.FirstHostId ? runtime.Helpers.Find(insn.Imm)?.Prototype is null
                        : HelperPrototypes.Get((HelperId)insn.Imm) is null or { Unsupported: not null })
                        return $"insn {pc}: helper {insn.Imm} has no prototype the verifier checks";
                    // bpf_tail_call is fine: it continues in the caller's mode, and an unchecked caller enters only
                    // targets that may run unchecked themselves (MapHelpers.TailCall; a checked-only target is ENOENT).
                    if (runtime.Helpers.Find(insn.Imm) is null)
                        return $"insn {pc}: helper {insn.Imm} is not implemented by this runtime";
                    break;
                case 1:
                    break; // bpf-to-bpf call: verified like the caller
                case 2 when Net.XdpMetadataKfuncs.MetadataKfuncOf(insn, runtime.Profile.KernelBtf) is not null:
                    break; // an XDP metadata kfunc: arguments checked against its vmlinux prototype, run by the host
                case 2 when Helpers.IteratorKfuncs.Of(insn, runtime.Profile.KernelBtf) is not null
                    || Helpers.DynptrHelpers.KfuncOf(insn, runtime.Profile.KernelBtf) is not null:
                    break; // an open-coded iterator kfunc: its stack slots tracked by the verifier, run by the host
                case 2 when Helpers.CpumaskKfuncs.Of(insn, runtime.Profile.KernelBtf) is not null:
                    break; // a cpumask kfunc or pointer cast: references tracked by the verifier, run by the host
                default:
                    return $"insn {pc}: kfunc call (imm {insn.Imm})";
            }
        }
        return null;
    }

    public static ExecutionMode ChooseMode(VerificationResult result, string? notModelled) =>
        result.Accepted && notModelled is null ? ExecutionMode.Unchecked : ExecutionMode.Checked;
}
