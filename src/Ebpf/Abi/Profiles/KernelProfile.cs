using System.Collections.Frozen;
using Ebpf.Abi.Helpers;

namespace Ebpf.Abi.Profiles;

/// <summary>
/// Everything the verifier and the loaders take from "the kernel", as one explicit value: which program and map
/// types exist, which helpers and kfuncs each program type may call, feature bits, and where the kernel BTF is.
/// Kernels differ by version, configuration and distribution patches (one 6.18 build refuses bpf_xdp_adjust_meta in
/// XDP, another allows it); a profile names the kernel a verdict is for, so the same inputs give the same verdict on
/// any machine. Three sources: <see cref="Reference"/> (mainline 6.18, the default), one probed from the running
/// kernel (Ebpf.Linux's <c>LiveKernelProfile</c>), and files written by <c>ebpf feature probe --profile</c>
/// (<see cref="Load"/>).
/// </summary>
public sealed class KernelProfile
{
    /// <summary>The built-in reference: mainline Linux 6.18, what the verifier follows unless told otherwise.</summary>
    public static KernelProfile Reference => ReferenceKernelProfile.Instance;

    /// <summary>A short name for reports ("6.18", "live", a file name).</summary>
    public required string Name { get; init; }

    /// <summary>The kernel release the data was taken from (uname -r), when known.</summary>
    public string? KernelRelease { get; init; }

    /// <summary>Program types the kernel knows; null means every type this library knows.</summary>
    public FrozenSet<ProgramType>? ProgramTypes { get; init; }

    /// <summary>Map types the kernel can create; null means every type this library knows.</summary>
    public FrozenSet<MapType>? MapTypes { get; init; }

    /// <summary>
    /// Per program type, the helper ids that pass its <c>get_func_proto</c> gate at full privilege. A type missing here
    /// was not probed (types that need a BTF attach target cannot be): the reference rules answer for it.
    /// </summary>
    public FrozenDictionary<ProgramType, FrozenSet<int>> Helpers { get; init; } = FrozenDictionary<ProgramType, FrozenSet<int>>.Empty;

    /// <summary>Program types whose kfunc availability was probed.</summary>
    public FrozenSet<ProgramType> KfuncProbedTypes { get; init; } = FrozenSet<ProgramType>.Empty;

    /// <summary>Every vmlinux kfunc of the kernel, with the probed program types allowed to call it.</summary>
    public FrozenDictionary<string, FrozenSet<ProgramType>> Kfuncs { get; init; } = FrozenDictionary<string, FrozenSet<ProgramType>>.Empty;

    /// <summary>The features the kernel has.</summary>
    public FrozenSet<KernelFeature> Features { get; init; } = FrozenSet<KernelFeature>.Empty;

    /// <summary>
    /// nr_cpu_ids: the verifier bounds bpf_get_smp_processor_id's result below it. Null when the profile does not say
    /// (the reference: a mainline kernel on no particular machine), and the result is then an unknown u32.
    /// </summary>
    public int? PossibleCpus { get; init; }

    /// <summary>This profile for a machine with <paramref name="cpus"/> possible CPUs.</summary>
    public KernelProfile WithPossibleCpus(int? cpus) => new()
    {
        Name = Name, KernelRelease = KernelRelease, ProgramTypes = ProgramTypes, MapTypes = MapTypes, Helpers = Helpers,
        KfuncProbedTypes = KfuncProbedTypes, Kfuncs = Kfuncs, Features = Features, KernelBtfPath = KernelBtfPath, PossibleCpus = cpus,
    };

    /// <summary>
    /// The kernel's BTF (vmlinux) for kfuncs, trusted arguments and CO-RE, as a file path; null when the profile names
    /// none (then no kfunc resolves and no arg:trusted pointee matches, which refuses them: the sound choice).
    /// </summary>
    public string? KernelBtfPath { get; init; }

    /// <summary>This profile with another kernel BTF file (null: none).</summary>
    public KernelProfile WithKernelBtf(string? path) => new()
    {
        Name = Name, KernelRelease = KernelRelease, ProgramTypes = ProgramTypes, MapTypes = MapTypes, Helpers = Helpers,
        KfuncProbedTypes = KfuncProbedTypes, Kfuncs = Kfuncs, Features = Features, KernelBtfPath = path, PossibleCpus = PossibleCpus,
    };

    /// <summary>The BTF at <see cref="KernelBtfPath"/>, read once per path for the process; null when there is none.</summary>
    public Btf.BtfSpec? KernelBtf => KernelBtfPath is { } path ? KernelBtfCache.Get(path) : null;

    /// <summary>
    /// Whether the profiled kernel knows program type <paramref name="type"/> (every type but Unspec when the
    /// profile lists none).
    /// </summary>
    public bool SupportsProgramType(ProgramType type) => type != ProgramType.Unspec && (ProgramTypes?.Contains(type) ?? true);

    /// <summary>
    /// Whether the profiled kernel knows map type <paramref name="type"/> (every type but Unspec when the profile
    /// lists none).
    /// </summary>
    public bool SupportsMapType(MapType type) => type != MapType.Unspec && (MapTypes?.Contains(type) ?? true);

    /// <summary>
    /// This profile without <paramref name="features"/>: an older kernel, e.g. one before 6.8 without arg:ctx tags
    /// (<c>Without(KernelFeature.ArgCtxTag)</c>), which the loader then adapts objects to as libbpf would.
    /// </summary>
    public KernelProfile Without(params KernelFeature[] features) => new()
    {
        Name = $"{Name} without {string.Join(", ", features.Select(f => KernelNames.Snake(f.ToString())))}", KernelRelease = KernelRelease,
        ProgramTypes = ProgramTypes, MapTypes = MapTypes, Helpers = Helpers, KfuncProbedTypes = KfuncProbedTypes, Kfuncs = Kfuncs,
        Features = Features.Except(features).ToFrozenSet(), KernelBtfPath = KernelBtfPath, PossibleCpus = PossibleCpus,
    };

    /// <summary>Whether the profile has <paramref name="feature"/>.</summary>
    public bool HasFeature(KernelFeature feature) => Features.Contains(feature);

    /// <summary>True when the profile has probed data for <paramref name="type"/>'s helpers.</summary>
    public bool HasHelperData(ProgramType type) => Helpers.ContainsKey(type);

    /// <summary>
    /// Whether <paramref name="type"/> may call helper <paramref name="id"/> at <paramref name="privilege"/>: the
    /// probed set when there is one, the reference rules otherwise, with the capability tiers of bpf_base_func_proto
    /// on top.
    /// </summary>
    public bool IsHelperAllowed(ProgramType type, int id, HelperPrivilege privilege = HelperPrivilege.Full) =>
        Helpers.TryGetValue(type, out var observed)
            ? HelperAvailability.IsAllowed(type, id, privilege, observed)
            : HelperAvailability.IsAllowed(type, id, privilege);

    /// <summary>
    /// Whether <paramref name="type"/> may call the vmlinux kfunc <paramref name="name"/> ("calling kernel function X is
    /// not allowed" otherwise). For a probed type, a kfunc the kernel does not have is not allowed either. Types the
    /// profile could not probe (tracing, LSM, struct_ops, ext need an attach target) are allowed, as the table has no say.
    /// </summary>
    public bool IsKfuncAllowed(string name, ProgramType type)
    {
        if (!KfuncProbedTypes.Contains(type))
            return true;
        return Kfuncs.TryGetValue(name, out var types) && types.Contains(type);
    }

    /// <summary>Reads a profile written by <see cref="ToJson"/> (<c>ebpf feature probe --profile</c>).</summary>
    public static KernelProfile Load(string path)
    {
        string text;
        try
        {
            text = File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new BpfException(e is FileNotFoundException or DirectoryNotFoundException ? Errno.ENOENT : Errno.EACCES,
                $"kernel profile {path}: {e.Message}");
        }
        return KernelProfileJson.Parse(text, Path.GetFileName(path));
    }

    /// <summary>The profile as JSON, in the form <c>KernelProfile</c> files are read back from.</summary>
    public string ToJson() => KernelProfileJson.Write(this);

    /// <summary>The profile's name and, when known, its kernel release.</summary>
    public override string ToString() => KernelRelease is null ? Name : $"{Name} ({KernelRelease})";
}
