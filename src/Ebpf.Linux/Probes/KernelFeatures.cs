using System.Collections.Concurrent;
using Ebpf.Abi;
using Ebpf.Isa;

namespace Ebpf.Linux.Probes;

/// <summary>The outcome of one feature probe: whether the kernel has it, and what the probe saw (for reports).</summary>
public sealed record FeatureProbe(bool Supported, Errno Errno, string Detail);

/// <summary>
/// What the running kernel supports, found the way bpftool's feature probe does: load tiny programs and
/// create tiny maps, and read the verifier's verdict. Each probe runs once per process and is cached.
/// </summary>
public static class KernelFeatures
{
    private static readonly ConcurrentDictionary<ProgramType, FeatureProbe> ProgramTypes = new();
    private static readonly ConcurrentDictionary<MapType, FeatureProbe> MapTypes = new();
    private static readonly ConcurrentDictionary<(ProgramType, int), FeatureProbe> Helpers = new();
    private static readonly Lazy<FeatureProbe> BpfUsable = new(ProbeBpfUsable);
    private static readonly Lazy<FeatureProbe> ArgCtx = new(ProbeArgCtxTag);

    private static readonly Instruction[] ReturnZero = [Instruction.Mov64(0, 0), Instruction.Exit()];

    /// <summary>
    /// Whether this process can use bpf(2) at all: BPF_PROG_LOAD of <c>r0 = 0; exit</c> as a socket filter.
    /// Fails with EPERM without privileges (unprivileged BPF disabled) and ENOSYS off Linux/unknown arches.
    /// </summary>
    public static FeatureProbe Bpf => BpfUsable.Value;

    private static FeatureProbe ProbeBpfUsable()
    {
        try
        {
            using var p = KernelProgram.Load(new ProgramLoadAttributes
            {
                Type = ProgramType.SocketFilter, Instructions = ReturnZero, Name = "probe", RetryWithLogOnFailure = false,
            });
            return new FeatureProbe(true, Errno.None, "BPF_PROG_LOAD of a socket filter succeeded");
        }
        catch (BpfException e)
        {
            return new FeatureProbe(false, e.Errno, e.Message);
        }
        catch (DllNotFoundException e)
        {
            return new FeatureProbe(false, Errno.ENOSYS, $"libc not found: {e.Message}");
        }
    }

    /// <summary>Whether the running kernel loads a minimal program of this type.</summary>
    public static bool SupportsProgramType(ProgramType type) => ProbeProgramType(type).Supported;
    /// <summary>Whether the running kernel creates a minimal map of this type.</summary>
    public static bool SupportsMapType(MapType type) => ProbeMapType(type).Supported;
    /// <summary>Whether a program of this type may call the helper with this id on the running kernel.</summary>
    public static bool SupportsHelper(ProgramType type, int helperId) => ProbeHelper(type, helperId).Supported;

    /// <summary>Whether global subprograms may mark a parameter as the context with a <c>arg:ctx</c> decl tag (6.8+).</summary>
    public static bool SupportsArgCtxTag => ArgCtx.Value.Supported;
    /// <summary>The arg:ctx decl tag probe with its errno and detail, for reports.</summary>
    public static FeatureProbe ArgCtxTagProbe => ArgCtx.Value;

    /// <summary>Every program type the running kernel loads, probed (once each) on demand.</summary>
    public static IReadOnlyList<ProgramType> SupportedProgramTypes() =>
        Enum.GetValues<ProgramType>().Where(t => t != ProgramType.Unspec && SupportsProgramType(t)).ToList();

    /// <summary>Every map type the running kernel creates, probed (once each) on demand.</summary>
    public static IReadOnlyList<MapType> SupportedMapTypes() =>
        Enum.GetValues<MapType>().Where(t => t != MapType.Unspec && SupportsMapType(t)).ToList();

    /// <summary>Helper ids [1, maxId] that pass the program type's helper gate.</summary>
    public static IReadOnlyList<int> SupportedHelpers(ProgramType type, int maxId = 211) =>
        Enumerable.Range(1, maxId).Where(id => SupportsHelper(type, id)).ToList();

    // ---- program types ----

    /// <summary>
    /// Program types whose load needs an expected attach type to get past bpf_prog_load_check_attach;
    /// the probe supplies a valid one so a "no" means the kernel lacks the type.
    /// </summary>
    internal static AttachType ProbeAttachType(ProgramType type) => type switch
    {
        ProgramType.CgroupSockAddr => AttachType.CgroupInet4Connect,
        ProgramType.CgroupSockopt => AttachType.CgroupGetsockopt,
        ProgramType.SkLookup => AttachType.SkLookup,
        ProgramType.Netfilter => AttachType.Netfilter,
        ProgramType.CgroupSkb => AttachType.CgroupInetIngress,
        ProgramType.CgroupSock => AttachType.CgroupInetSockCreate,
        ProgramType.Lsm => AttachType.LsmMac,
        _ => 0,
    };

    /// <summary>Types that cannot load without a BTF attach target; the probe then asks whether the verifier got far enough to ask for one.</summary>
    internal static bool NeedsAttachTarget(ProgramType type) =>
        type is ProgramType.Tracing or ProgramType.Ext or ProgramType.Lsm or ProgramType.StructOps;

    /// <summary>Loads a minimal program of this type once per process and remembers the kernel's answer.</summary>
    public static FeatureProbe ProbeProgramType(ProgramType type) => ProgramTypes.GetOrAdd(type, static t =>
    {
        try
        {
            using var p = KernelProgram.Load(ProbeOptions(t, ReturnZero, VerifierLogLevel.Level1));
            return new FeatureProbe(true, Errno.None, "loaded");
        }
        catch (BpfException e)
        {
            // An unknown type is rejected before the verifier runs (EINVAL, empty log). A known type that
            // still fails here (missing attach target, sleepable-only) got as far as the verifier, which
            // explains itself in the log: the type exists.
            bool reachedVerifier = !string.IsNullOrWhiteSpace(e.Log);
            if (reachedVerifier)
                return new FeatureProbe(true, e.Errno, $"known: {VerdictLine(e.Log!) ?? e.Message}");
            // Types that need a BTF attach target may be refused before the verifier. An unknown type is
            // always EINVAL (find_prog_type), so any other errno means the kernel recognised the type.
            if (NeedsAttachTarget(t) && e.Errno != Errno.EINVAL)
                return new FeatureProbe(true, e.Errno, $"known: refused without an attach target ({e.Message})");
            return new FeatureProbe(false, e.Errno, e.Message);
        }
    });

    /// <summary>The verifier's verdict in a log: the first line that is neither an instruction/state trace nor the stats line.</summary>
    private static string? VerdictLine(string log) =>
        log.Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .FirstOrDefault(l => !char.IsAsciiDigit(l[0]) && !l.StartsWith("processed ", StringComparison.Ordinal)
                && !l.StartsWith("func#", StringComparison.Ordinal) && !l.StartsWith("Live regs", StringComparison.Ordinal) && !l.StartsWith(' '));

    private static ProgramLoadAttributes ProbeOptions(ProgramType type, Instruction[] insns, VerifierLogLevel level) => new()
    {
        Type = type,
        Instructions = insns,
        License = "GPL",
        Name = "probe",
        ExpectedAttachType = ProbeAttachType(type),
        Flags = type == ProgramType.Syscall ? ProgramLoadFlags.Sleepable : ProgramLoadFlags.None,
        LogLevel = level,
        LogSize = 16 * 1024,
        MaxLogSize = 1024 * 1024,
        RetryWithLogOnFailure = false,
    };

    // ---- helpers ----

    /// <summary>Loads a program of this type calling the helper once per process; the verifier's refusal text says why not.</summary>
    public static FeatureProbe ProbeHelper(ProgramType type, int helperId) => Helpers.GetOrAdd((type, helperId), static key =>
    {
        var (t, id) = key;
        if (NeedsAttachTarget(t))
            return new FeatureProbe(false, Errno.EOPNOTSUPP, $"{t}: helper probes need an attach target (not probed)");
        Instruction[] insns = [Instruction.CallHelper(id), Instruction.Exit()];
        try
        {
            using var p = KernelProgram.Load(ProbeOptions(t, insns, VerifierLogLevel.Level1));
            return new FeatureProbe(true, Errno.None, "loaded");
        }
        catch (BpfException e)
        {
            // Same test as bpftool: the gate's messages mean "not for this type"; any other complaint is about
            // the (deliberately bogus) arguments, so the helper itself is allowed.
            string log = e.Log ?? "";
            bool gated = log.Contains("invalid func ", StringComparison.Ordinal)
                || log.Contains("unknown func ", StringComparison.Ordinal)
                || log.Contains("program of this type cannot use helper", StringComparison.Ordinal);
            if (log.Length == 0)
                return new FeatureProbe(false, e.Errno, e.Message);
            return new FeatureProbe(!gated, e.Errno, VerdictLine(log) ?? e.Message);
        }
    });

    // ---- map types ----

    /// <summary>Creates a minimal map of this type once per process and remembers the kernel's answer.</summary>
    public static FeatureProbe ProbeMapType(MapType type) => MapTypes.GetOrAdd(type, static t =>
    {
        var disposables = new List<IDisposable>();
        try
        {
            var options = MapProbeOptions(t, disposables);
            using var m = KernelMap.Create(options);
            return new FeatureProbe(true, Errno.None, "created");
        }
        catch (BpfException e)
        {
            // struct_ops with a bogus vmlinux value type id: ENOTSUPP means the type exists (libbpf's rule).
            if (t == MapType.StructOps && e.Errno == Errno.ENOTSUPP)
                return new FeatureProbe(true, e.Errno, "known (rejected the dummy vmlinux value type)");
            return new FeatureProbe(false, e.Errno, e.Message);
        }
        finally
        {
            foreach (var d in disposables)
                d.Dispose();
        }
    });

    private static MapCreateAttributes MapProbeOptions(MapType type, List<IDisposable> owned)
    {
        const uint page = 4096;
        switch (type)
        {
            case MapType.LpmTrie:
                return new() { Type = type, KeySize = 8, ValueSize = 8, MaxEntries = 1, Flags = MapFlags.NoPrealloc, Name = "probe" };
            case MapType.Queue or MapType.Stack:
                return new() { Type = type, KeySize = 0, ValueSize = 4, MaxEntries = 1, Name = "probe" };
            case MapType.BloomFilter:
                return new() { Type = type, KeySize = 0, ValueSize = 4, MaxEntries = 1, Name = "probe" };
            case MapType.Ringbuf or MapType.UserRingbuf:
                return new() { Type = type, KeySize = 0, ValueSize = 0, MaxEntries = page, Name = "probe" };
            case MapType.Arena:
                return new() { Type = type, KeySize = 0, ValueSize = 0, MaxEntries = 1, Flags = MapFlags.Mmapable, Name = "probe" };
            case MapType.StackTrace:
                return new() { Type = type, KeySize = 4, ValueSize = 8, MaxEntries = 1, Name = "probe" };
            case MapType.CgroupStorage or MapType.PercpuCgroupStorage:
                return new() { Type = type, KeySize = 8, ValueSize = 8, MaxEntries = 0, Name = "probe" };
            case MapType.SkStorage or MapType.InodeStorage or MapType.TaskStorage or MapType.CgrpStorage:
            {
                // Local storage needs BTF for its key (an int) and value.
                var btf = new TinyBtf();
                uint intId = btf.Int("int", 4);
                uint valueId = btf.Struct("val", 4, ("a", intId, 0));
                var kbtf = KernelBtf.Load(btf.ToArray());
                owned.Add(kbtf);
                return new()
                {
                    Type = type, KeySize = 4, ValueSize = 4, MaxEntries = 0, Flags = MapFlags.NoPrealloc, Name = "probe",
                    Btf = kbtf.Fd, BtfKeyTypeId = intId, BtfValueTypeId = valueId,
                };
            }
            case MapType.ArrayOfMaps or MapType.HashOfMaps:
            {
                var inner = KernelMap.Create(new() { Type = MapType.Array, KeySize = 4, ValueSize = 4, MaxEntries = 1, Name = "probe_inner" });
                owned.Add(inner);
                return new() { Type = type, KeySize = 4, ValueSize = 4, MaxEntries = 1, InnerMap = inner, Name = "probe" };
            }
            case MapType.StructOps:
                return new() { Type = type, KeySize = 4, ValueSize = 4, MaxEntries = 1, BtfVmlinuxValueTypeId = 1, Name = "probe" };
            default:
                return new() { Type = type, KeySize = 4, ValueSize = 4, MaxEntries = 1, Name = "probe" };
        }
    }

    // ---- arg:ctx ----

    /// <summary>
    /// libbpf's probe_kern_arg_ctx_tag (FEAT_ARG_CTX_TAG), byte for byte: BTF <c>int a(void *a)</c> (the main program)
    /// and <c>int b(void *b)</c> with an <c>arg:ctx</c> decl tag on b's parameter; a kprobe "det_arg_ctx" whose main
    /// function calls b, which passes its argument to bpf_get_func_ip (ARG_PTR_TO_CTX). Kernels without the tag see a
    /// plain <c>void *</c> and refuse the call. No verifier log is asked for, as libbpf asks for none; the refusal's
    /// errno is the detail.
    /// </summary>
    private static FeatureProbe ProbeArgCtxTag()
    {
        const uint funcA = 4, funcB = 6;
        Instruction[] insns =
        [
            Instruction.CallLocal(1),
            Instruction.Exit(),
            Instruction.CallHelper(173), // bpf_get_func_ip: ARG_PTR_TO_CTX
            Instruction.Exit(),
        ];
        var funcInfo = new byte[16];
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(funcInfo.AsSpan(0), 0);
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(funcInfo.AsSpan(4), funcA);
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(funcInfo.AsSpan(8), 2);
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(funcInfo.AsSpan(12), funcB);
        try
        {
            using var kbtf = KernelBtf.Load(ArgCtxProbeBtf());
            using var p = KernelProgram.Load(new ProgramLoadAttributes
            {
                Type = ProgramType.Kprobe,
                Instructions = insns,
                Name = "det_arg_ctx",
                Btf = kbtf.Fd,
                FuncInfo = funcInfo,
                FuncInfoRecordSize = 8,
                RetryWithLogOnFailure = false,
            });
            return new FeatureProbe(true, Errno.None, "global subprogram with arg:ctx accepted");
        }
        catch (BpfException e)
        {
            return new FeatureProbe(false, e.Errno, e.Message);
        }
    }

    /// <summary>
    /// The probe's BTF, as libbpf writes it: strings "\0a\0b\0arg:ctx\0"; [1] INT 'a' (4 bytes, signed), [2] PTR -> void,
    /// [3] FUNC_PROTO int(void *a), [4] FUNC 'a' global (main program), [5] FUNC_PROTO int(void *b), [6] FUNC 'b' global
    /// (subprogram), [7] DECL_TAG 'arg:ctx' on b's parameter 0.
    /// </summary>
    internal static byte[] ArgCtxProbeBtf()
    {
        var btf = new TinyBtf();
        btf.String("a");
        btf.String("b");
        btf.String("arg:ctx");
        uint intId = btf.Int("a", 4);
        uint voidPtr = btf.Pointer(0);
        btf.Func("a", btf.FuncProto(intId, ("a", voidPtr)), global: true);
        uint funcB = btf.Func("b", btf.FuncProto(intId, ("b", voidPtr)), global: true);
        btf.DeclTag("arg:ctx", funcB, 0);
        return btf.ToArray();
    }
}
