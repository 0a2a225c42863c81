using System.Collections.Frozen;
using Ebpf.Abi;
using Ebpf.Abi.Helpers;
using Ebpf.Abi.Profiles;

namespace Ebpf.Linux.Probes;

/// <summary>
/// The running kernel as a <see cref="KernelProfile"/>: program and map types, helpers per program type, kfuncs per
/// program type and feature bits, each found by probing (tiny loads, as bpftool's feature probe). Probing every helper
/// of every type takes well under a second; kfuncs (every vmlinux kfunc × every type) a few seconds, so they are
/// optional. <see cref="Current"/> probes once per process, on first use.
/// </summary>
public static class LiveKernelProfile
{
    private const string VmlinuxPath = "/sys/kernel/btf/vmlinux";

    private static readonly Lazy<KernelProfile> Cached = new(() => Probe(includeKfuncs: true));

    /// <summary>The running kernel, probed once (with kfuncs). Throws when bpf(2) is not usable.</summary>
    public static KernelProfile Current => Cached.Value;

    /// <summary>Probes the running kernel afresh; kfuncs are the slow part, so they are optional.</summary>
    public static KernelProfile Probe(bool includeKfuncs)
    {
        var bpf = KernelFeatures.Bpf;
        if (!bpf.Supported)
            throw new BpfException(bpf.Errno, $"cannot probe the running kernel: bpf(2) is not usable: {bpf.Detail}");
        var programTypes = KernelFeatures.SupportedProgramTypes();
        var helpers = programTypes
            .Where(t => !KernelFeatures.NeedsAttachTarget(t))
            .ToFrozenDictionary(t => t, t => KernelFeatures.SupportedHelpers(t, HelperNames.MaxId - 1).ToFrozenSet());
        var (kfuncTypes, kfuncs) = includeKfuncs ? ProbeKfuncs(programTypes) : (FrozenSet<ProgramType>.Empty, FrozenDictionary<string, FrozenSet<ProgramType>>.Empty);
        return new KernelProfile
        {
            Name = "live",
            KernelRelease = Release(),
            ProgramTypes = programTypes.ToFrozenSet(),
            MapTypes = KernelFeatures.SupportedMapTypes().ToFrozenSet(),
            Helpers = helpers,
            KfuncProbedTypes = kfuncTypes,
            Kfuncs = kfuncs,
            Features = Enum.GetValues<KernelFeature>().Where(f => KernelFeatureProbes.Probe(f).Supported).ToFrozenSet(),
            KernelBtfPath = File.Exists(VmlinuxPath) ? VmlinuxPath : null,
            PossibleCpus = PossibleCpus.Count,
        };
    }

    private static (FrozenSet<ProgramType>, FrozenDictionary<string, FrozenSet<ProgramType>>) ProbeKfuncs(IReadOnlyList<ProgramType> types)
    {
        if (!File.Exists(VmlinuxPath))
            return (FrozenSet<ProgramType>.Empty, FrozenDictionary<string, FrozenSet<ProgramType>>.Empty);
        var probeable = types.Where(KernelFunctionProbes.CanProbe).ToList();
        var kfuncs = KernelFunctionProbes.VmlinuxKfuncs().ToFrozenDictionary(
            k => k.Name,
            k => probeable.Where(t => KernelFunctionProbes.Probe(t, k.BtfId).Supported).ToFrozenSet(),
            StringComparer.Ordinal);
        return (probeable.ToFrozenSet(), kfuncs);
    }

    private static string? Release()
    {
        try
        {
            return File.ReadAllText("/proc/sys/kernel/osrelease").Trim();
        }
        catch (IOException)
        {
            return null;
        }
    }
}
