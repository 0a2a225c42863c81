using System.Security.Cryptography;
using Ebpf.Abi;
using Ebpf.Collections;
using Ebpf.Isa;

namespace Ebpf.Runtime.Objects;

/// <summary>
/// A loaded program. It holds a reference on every map in <see cref="UsedMaps"/> (refcnt only,
/// not usercnt) and on its BTF; both are dropped when the program is freed (§1.3).
/// </summary>
public sealed partial class ProgramObject : KernelObject
{
    private readonly List<MapObject> _usedMaps;
    private readonly Lock _lock = new();

    internal ProgramObject(BpfRuntime runtime, ProgramDefinition definition, List<MapObject> usedMaps, BtfObject? btf)
        : base(runtime, ObjectKind.Program)
    {
        Definition = definition;
        Instructions = definition.Instructions.ToArray();
        _usedMaps = usedMaps;
        Btf = btf;
        Tag = ComputeTag(Instructions);
        LoadTime = DateTimeOffset.UtcNow;
    }

    /// <summary>The definition the program was loaded from (type, instructions, license, BTF records, flags).</summary>
    public ProgramDefinition Definition { get; }
    /// <summary>The program type (BPF_PROG_TYPE_*).</summary>
    public ProgramType Type => Definition.Type;
    /// <summary>The expected attach type given at load (<c>expected_attach_type</c>).</summary>
    public AttachType ExpectedAttachType => Definition.ExpectedAttachType;
    /// <summary>The program's name (at most 15 characters).</summary>
    public string Name => Definition.Name;
    /// <summary>The instructions as the runtime executes them ("xlated").</summary>
    public Instruction[] Instructions { get; internal set; }
    /// <summary>The program's own BTF (func_info and line_info refer to it); null when loaded without.</summary>
    public BtfObject? Btf { get; }
    /// <summary>The kernel BTF objects and modules the program holds (module ksyms, kfuncs, btf_ptr type ids).</summary>
    internal ProgramBtfReferences? BtfReferences { get; init; }
    /// <summary>The kernel's prog tag: first 8 bytes of SHA-256 (Linux 6.18) over the instructions, map references zeroed.</summary>
    public byte[] Tag { get; }
    /// <summary>When the program was loaded (the kernel reports load_time in bpf_prog_info).</summary>
    public DateTimeOffset LoadTime { get; }
    /// <summary>Executable form chosen by the runtime (interpreter program, JIT delegate …).</summary>
    public object? Executable { get; internal set; }
    /// <summary>The verifier's verdict at load: errno, message, log and statistics (null only for objects built before verification).</summary>
    public Verification.VerificationResult? Verification { get; internal set; }
    /// <summary>
    /// How the runtime runs this program. Unchecked only when the verifier accepted it and it is fully
    /// modelled (every helper prototyped and implemented, no kfuncs); otherwise Checked, where every memory
    /// access is bounds-checked at run time. See <see cref="ExecutionModeReason"/>.
    /// </summary>
    public Execution.ExecutionMode ExecutionMode { get; internal set; } = Execution.ExecutionMode.Checked;
    /// <summary>Why <see cref="ExecutionMode"/> was chosen (e.g. "verified", "verifier rejected (AllowUnverified)", "insn 7: kfunc call").</summary>
    public string ExecutionModeReason { get; internal set; } = "";
    /// <summary>True when the program runs as JIT-compiled native code (<see cref="BpfRuntime.JitEnabled"/>, unchecked mode, a program the JIT takes).</summary>
    public bool IsJitCompiled => (Executable as PreparedProgram)?.Interpreter.IsCompiled ?? false;
    /// <summary>Why an unchecked program is interpreted although the JIT was on (e.g. "insn 9: tail call"), or null.</summary>
    public string? JitFailure => (Executable as PreparedProgram)?.Interpreter.CompileFailure;
    /// <summary>Map-helper call sites the JIT bound straight to their map (R1 an lddw'd map), as the kernel's do_misc_fixups does.</summary>
    public int JitBoundMapCalls => (Executable as PreparedProgram)?.Interpreter.SpecializedHelperCalls ?? 0;
    /// <summary>Per-type context description (Runtime/ProgramTypes).</summary>
    public ProgramTypes.ProgramTypeInfo TypeInfo => ProgramTypes.ProgramTypeInfo.Get(ResolvedType);

    /// <summary>The maps the program references (used_maps): the program holds a reference on each while it lives.</summary>
    public IReadOnlyList<MapObject> UsedMaps
    {
        get { lock (_lock) return _usedMaps.ToArray(); }
    }

    /// <summary>BPF_PROG_BIND_MAP: the program keeps the map alive; binding twice is a no-op.</summary>
    public void BindMap(MapObject map)
    {
        lock (_lock)
        {
            if (_usedMaps.Contains(map))
                return;
            map.Acquire();
            _usedMaps.Add(map);
        }
    }

    /// <summary>bpf_prog_info. JitedSize: bytes of IL our JIT emitted (RyuJIT's native size is not observable).</summary>
    public ProgramInfo GetInfo() => new()
    {
        Id = Id, Type = Type, Name = Name, Tag = Tag, MapIds = UsedMaps.Select(m => m.Id).ToArray(), BtfId = Btf?.Id ?? 0, LoadTime = LoadTime,
        XlatedSize = (uint)(Instructions.Length * Instruction.Size),
        GplCompatible = Definition.License == "GPL" || Definition.License.Contains("GPL"),
        VerifiedInstructions = (uint)(Verification?.ProcessedInstructions ?? 0),
        JitedSize = (uint)((Executable as PreparedProgram)?.Interpreter.CompiledSize ?? 0),
        AttachBtfId = AttachBtfId, AttachBtfObjectId = AttachBtfObjectId,
    };

    private List<LinkObject>? _ownedLinks;

    /// <summary>Program-owned links (beyond the kernel): this program holds <paramref name="link"/> (a reference already taken) until it is freed.</summary>
    internal void OwnLink(LinkObject link)
    {
        lock (_lock)
            (_ownedLinks ??= []).Add(link);
    }

    /// <summary>Drops the program's references on its maps, its load-time attach target and its BTF, and releases its executable form.</summary>
    protected override void OnFree()
    {
        MapObject[] maps;
        LinkObject[] owned;
        lock (_lock)
        {
            maps = _usedMaps.ToArray();
            _usedMaps.Clear();
            owned = _ownedLinks?.ToArray() ?? [];
            _ownedLinks = null;
        }
        // Program-owned links go first: their extensions leave this program's slots before it is torn down.
        foreach (var link in owned)
            link.Release();
        foreach (var map in maps)
            map.Release();
        ReleaseLoadTimeTarget();
        Btf?.Release();
        BtfReferences?.Release();
        (Executable as IDisposable)?.Dispose();
    }

    /// <summary>bpf_prog_calc_tag: ld_imm64 of a map (src 1/2, and the index forms 5/6 as 1/2) has both imm halves zeroed first.</summary>
    internal static byte[] ComputeTag(ReadOnlySpan<Instruction> instructions)
    {
        var bytes = new byte[instructions.Length * Instruction.Size];
        for (int i = 0; i < instructions.Length; i++)
        {
            var insn = instructions[i];
            bool mapLoad = insn.IsLoadImm64 && insn.Src is 1 or 2 or 5 or 6 && i + 1 < instructions.Length;
            // libbpf hands the kernel src=1/2 with fds; the index forms (5/6) hash as those.
            var hashed = mapLoad ? insn.WithImm(0).WithSrc(insn.Src switch { 5 => 1, 6 => 2, _ => insn.Src }) : insn;
            ulong raw = hashed.ToRaw();
            System.Buffers.Binary.BinaryPrimitives.WriteUInt64LittleEndian(bytes.AsSpan(i * 8), raw);
            if (mapLoad)
            {
                i++;
                System.Buffers.Binary.BinaryPrimitives.WriteUInt64LittleEndian(bytes.AsSpan(i * 8), instructions[i].WithImm(0).ToRaw());
            }
        }
        // 6.18 hashes with SHA-256 (the program digest also used for signing); older kernels used SHA-1.
        return SHA256.HashData(bytes)[..8];
    }
}
