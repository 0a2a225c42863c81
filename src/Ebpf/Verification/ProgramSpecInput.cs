using Ebpf.Abi;
using Ebpf.Abi.Helpers;
using Ebpf.Btf;
using Ebpf.Loading;

namespace Ebpf.Verification;

/// <summary>A <see cref="MapSpec"/> as the verifier sees it (sizes, flags, frozen, bpf_spin_lock offset from BTF).</summary>
internal sealed class MapSpecInfo : IVerifierMapInfo, IUptrFieldSource
{
    private readonly MapSpec _spec;
    private readonly Btf.BtfSpec? _btf;

    public MapSpecInfo(MapSpec spec, Btf.BtfSpec? btf)
    {
        _spec = spec;
        _btf = btf;
        // A global-data map's value type is its section's DATASEC (libbpf's btf_value_type_id for internal maps).
        uint valueType = spec.ValueTypeId != 0 ? spec.ValueTypeId
            : btf is not null && spec.Type == MapType.Array && spec.SectionName.StartsWith('.')
                ? btf.FindAllByName(spec.SectionName, Btf.BtfKind.Datasec).FirstOrDefault() : 0;
        SpinLockOffset = btf is not null && valueType != 0 ? btf.OffsetOfStructMember(valueType, "bpf_spin_lock") : -1;
        TimerOffset = btf is not null && valueType != 0 ? btf.OffsetOfStructMember(valueType, "bpf_timer") : -1;
        UptrFields = btf is not null && valueType != 0 ? MapValueUptrs.Find(btf, valueType) : [];
    }

    public string Name => _spec.Name;
    public MapType Type => _spec.Type;
    public uint KeySize => _spec.KeySize;
    public uint ValueSize => _spec.ValueSize;
    public uint MaxEntries => _spec.MaxEntries;
    public MapFlags Flags => _spec.Flags | (_spec.Freeze ? MapFlags.RdonlyProg : MapFlags.None);
    public bool Frozen => _spec.Freeze;
    public int SpinLockOffset { get; }
    public int TimerOffset { get; }
    public IReadOnlyList<UptrField> UptrFields { get; }
    // .kconfig values are filled in by the loader later, so only .rodata-style global data is known now.
    public ReadOnlyMemory<byte>? FrozenValue =>
        _spec.Freeze && _spec.Origin == MapOrigin.GlobalData && _spec.InitialValue is { } v && v.Length == _spec.ValueSize ? v : null;
    public IVerifierMapInfo? InnerMap => _spec.InnerMap is null ? null : new MapSpecInfo(_spec.InnerMap, _btf);
}

/// <summary>
/// Builds a <see cref="VerifierInput"/> from a loaded object's program (maps by index, functions from BTF), with its
/// CO-RE relocations applied against the profile's kernel BTF — what a loader would submit to that kernel — so a
/// verdict is never given for the compiler's guessed offsets.
/// </summary>
public static class ProgramSpecInput
{
    /// <summary>The verifier input for <paramref name="program"/> of <paramref name="obj"/>, as a loader would submit
    /// it to <paramref name="profile"/>'s kernel.</summary>
    /// <param name="obj">The parsed object file holding the program, its maps and BTF.</param>
    /// <param name="program">The program to verify.</param>
    /// <param name="logLevel">The BPF_LOG_LEVEL bits for the verifier log (1: the failing path).</param>
    /// <param name="privilege">The loader's capabilities, which decide the helpers and checks that apply.</param>
    /// <param name="profile">The kernel to verify for (default: the reference kernel, mainline 6.18).</param>
    public static VerifierInput Create(ObjectSpec obj, ProgramSpec program, int logLevel = 1, HelperPrivilege privilege = HelperPrivilege.Full,
        Abi.Profiles.KernelProfile? profile = null)
    {
        profile ??= Abi.Profiles.KernelProfile.Reference;
        var maps = obj.Maps.Select(m => (IVerifierMapInfo)new MapSpecInfo(m, obj.Btf)).ToList();
        var functions = PrepareFunctions(obj.Btf, program, program.FuncInfos.Select(fi => fi.TypeId).ToList(), program.Type,
            program.ExpectedAttachType ?? default, profile);
        Dictionary<int, KernelFunction>? kfuncs = null;
        foreach (var relo in program.Relocations.Where(r => r.Kind == ProgramRelocationKind.KfuncCall))
            if (KernelFunctions.Resolve(relo.Symbol, profile.KernelBtf) is { } kf)
                (kfuncs ??= [])[relo.InstructionIndex] = kf;
        string license = string.IsNullOrEmpty(program.License) ? obj.License : program.License;
        var (attachBtfId, member) = StructOpsAttach(obj, program, profile);
        return new VerifierInput
        {
            Instructions = Relocated(obj, program, profile),
            ProgramType = program.Type,
            ExpectedAttachType = program.Type == ProgramType.StructOps ? (AttachType)member : program.ExpectedAttachType ?? default,
            AttachBtfId = attachBtfId,
            Name = program.Name,
            MapsByIndex = maps,
            Functions = program.FuncInfos.Count > 0 ? functions : null,
            KernelFunctions = kfuncs,
            MainFunctionDeclTags = MainDeclTags(obj.Btf, program),
            LogLevel = logLevel,
            Privilege = privilege,
            GplCompatible = IsGplCompatible(license),
            Sleepable = (program.Flags & ProgramLoadFlags.Sleepable) != 0,
            Profile = profile,
            ContextLayout = IteratorContext(program, profile) ?? RawTracepointContext(program, profile),
        };
    }

    /// <summary>An iterator program's context as the kernel types it (struct bpf_iter__TARGET from the vmlinux FUNC
    /// bpf_iter_TARGET that libbpf attaches it to), so the standalone verifier reads it as a load would; null for other
    /// programs or when the kernel BTF lacks the target (the load itself then fails in the loader).</summary>
    private static Abi.Contexts.ContextLayout? IteratorContext(ProgramSpec program, Abi.Profiles.KernelProfile profile) =>
        program.Type == ProgramType.Tracing && program.ExpectedAttachType == AttachType.TraceIter
        && !string.IsNullOrEmpty(program.AttachTarget) && profile.KernelBtf is { } vmlinux
        && vmlinux.FindAllByName(Attach.IterContext.FunctionPrefix + program.AttachTarget, Btf.BtfKind.Func).FirstOrDefault() is var id and not 0
        && vmlinux.TryGetType(id, out var t) && t is Btf.BtfFunc func
            ? Attach.IterContext.For(vmlinux, func, anyKernelTarget: true)
            : null;

    /// <summary>A struct_ops program's (attach_btf_id, member index) as libbpf sets them from the struct_ops map that
    /// references it, bound to the profile's kernel BTF; (0, 0) for other programs and for one no map references (the
    /// kernel then refuses it with ENOTSUPP).</summary>
    private static (uint AttachBtfId, int Member) StructOpsAttach(ObjectSpec obj, ProgramSpec program, Abi.Profiles.KernelProfile profile)
    {
        if (program.Type != ProgramType.StructOps || profile.KernelBtf is not { } kernel)
            return (0, 0);
        Func<MapSpec, bool> include = m => m.StructOps!.Programs.Values.Contains(program.Name);
        return StructOpsBinding.BindAll(obj, kernel, include).Programs.TryGetValue(program.Name, out var bound) ? bound : (0, 0);
    }

    /// <summary>A tp_btf program's context typed by its tracepoint's BTF prototype (Attach/RawTracepointBtfContext); null
    /// for other programs or when the kernel BTF lacks the tracepoint.</summary>
    private static Abi.Contexts.ContextLayout? RawTracepointContext(ProgramSpec program, Abi.Profiles.KernelProfile profile) =>
        program.Type == ProgramType.Tracing && program.ExpectedAttachType == AttachType.TraceRawTp
        && !string.IsNullOrEmpty(program.AttachTarget) && profile.KernelBtf is { } vmlinux
            ? Attach.RawTracepointBtfContext.For(vmlinux, program.AttachTarget)
            : null;

    /// <summary>The decl tags (component -1) on the FUNC of the func_info record at instruction 0: the main function's.</summary>
    private static IReadOnlyList<string>? MainDeclTags(Btf.BtfSpec? btf, ProgramSpec program) =>
        btf is not null && program.FuncInfos.FirstOrDefault(fi => fi.InstructionIndex == 0) is { } main
            ? btf.GetDeclTagValues(main.TypeId)
            : null;

    /// <summary>
    /// The functions of <paramref name="program"/> as the verifier sees them from func_info: record i names FUNC
    /// <paramref name="funcTypeIds"/>[i] of <paramref name="btf"/> (the loader may have pointed records at clones, as
    /// libbpf's arg:ctx fallback does). A kernel without arg:ctx support (<paramref name="profile"/>) ignores arg tags.
    /// </summary>
    internal static List<VerifierFunction> PrepareFunctions(Btf.BtfSpec? btf, ProgramSpec program, IReadOnlyList<uint> funcTypeIds,
        ProgramType type, AttachType attachType, Abi.Profiles.KernelProfile profile)
    {
        var functions = new List<VerifierFunction>();
        bool argTags = profile.HasFeature(Abi.Profiles.KernelFeature.ArgCtxTag);
        foreach (var f in program.Functions)
        {
            bool isGlobal = f.IsGlobal && f.Offset != 0;
            int record = -1;
            for (int i = 0; i < program.FuncInfos.Count && i < funcTypeIds.Count; i++)
                if (program.FuncInfos[i].InstructionIndex == f.Offset) { record = i; break; }
            if (record >= 0 && btf is not null)
                functions.Add(FunctionPrototypes.Prepare(btf, funcTypeIds[record], f.Offset, f.Name, isGlobal, type, attachType,
                    profile.KernelBtf, argTags));
            else
                functions.Add(new VerifierFunction(f.Offset, f.Name, isGlobal, [],
                    PrepareError: isGlobal ? "Global functions need valid BTF" : null, PrepareErrno: Errno.EFAULT));
        }
        return functions;
    }

    /// <summary>
    /// The program's instructions with its CO-RE relocations applied against <paramref name="profile"/>'s kernel BTF;
    /// ENOENT when it has relocations and the profile names no kernel BTF (nothing to resolve them against).
    /// </summary>
    public static IReadOnlyList<Isa.Instruction> Relocated(ObjectSpec obj, ProgramSpec program, Abi.Profiles.KernelProfile profile)
    {
        if (program.CoreRelocations.Count == 0)
            return program.Instructions;
        var btf = profile.KernelBtf ?? throw new BpfException(Errno.ENOENT,
            $"program '{program.Name}': {program.CoreRelocations.Count} CO-RE relocations, and kernel {profile} names no kernel BTF to resolve them against");
        var relocator = CoRe.CoreProgramRelocation.RelocatorFor(obj, () => new CoRe.CoreTargets(new CoRe.CoreTargetBtf("vmlinux", btf)));
        return CoRe.CoreProgramRelocation.Apply(relocator, obj, program);
    }

    /// <summary>
    /// The loader's answer before any program is verified: the first map of <paramref name="obj"/> whose type
    /// <paramref name="profile"/>'s kernel cannot create (BPF_MAP_CREATE fails with EINVAL there), or null.
    /// </summary>
    public static string? UnsupportedMap(ObjectSpec obj, Abi.Profiles.KernelProfile profile) =>
        obj.Maps.FirstOrDefault(m => !profile.SupportsMapType(m.Type)) is { } map
            ? $"map '{map.Name}': map type {Abi.KernelNames.Of(map.Type)} is not supported by kernel {profile}"
            : null;

    /// <summary>license_is_gpl_compatible.</summary>
    public static bool IsGplCompatible(string license) =>
        license is "GPL" or "GPL v2" or "GPL and additional rights" or "Dual BSD/GPL" or "Dual MIT/GPL" or "Dual MPL/GPL";
}
