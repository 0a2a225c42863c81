using System.Collections.Frozen;
using Ebpf.Abi.Helpers;

namespace Ebpf.Abi.Profiles;

/// <summary>
/// The built-in reference profile, mainline Linux 6.18: the helper table of <see cref="HelperAvailability"/> and the
/// kfunc table <c>Data/kfunc-availability.tsv</c> (both probed from 6.18 builds and committed, with their
/// regeneration scripts beside them), every program and map type, and the features 6.18 has.
/// </summary>
internal static class ReferenceKernelProfile
{
    private const string KfuncResource = "Ebpf.Abi.Profiles.kfunc-availability.tsv";
    private const string ProbedPrefix = "# probed types: ";

    private static readonly Lazy<KernelProfile> Profile = new(Build);

    /// <summary>Where Linux exposes the running kernel's BTF.</summary>
    public const string DefaultKernelBtf = "/sys/kernel/btf/vmlinux";

    public static KernelProfile Instance => Profile.Value;

    private static KernelProfile Build()
    {
        var (probed, kfuncs) = LoadKfuncTable();
        return new KernelProfile
        {
            Name = "6.18",
            KernelRelease = "6.18 (mainline reference)",
            Helpers = HelperAvailability.ReferenceSets,
            KfuncProbedTypes = probed,
            Kfuncs = kfuncs,
            Features = Enum.GetValues<KernelFeature>().ToFrozenSet(),
            // The kernel BTF has no machine-independent value: like libbpf, the default is the running kernel's, and a
            // caller that wants another kernel's gives a profile naming its file.
            KernelBtfPath = DefaultKernelBtf,
        };
    }

    private static (FrozenSet<ProgramType>, FrozenDictionary<string, FrozenSet<ProgramType>>) LoadKfuncTable()
    {
        using var stream = typeof(ReferenceKernelProfile).Assembly.GetManifestResourceStream(KfuncResource)
            ?? throw new InvalidOperationException($"embedded resource {KfuncResource} is missing");
        using var reader = new StreamReader(stream);
        var probed = new HashSet<ProgramType>();
        var allowed = new Dictionary<string, FrozenSet<ProgramType>>(StringComparer.Ordinal);
        while (reader.ReadLine() is { } line)
        {
            if (line.StartsWith(ProbedPrefix, StringComparison.Ordinal))
            {
                probed.UnionWith(Types(line[ProbedPrefix.Length..]));
                continue;
            }
            if (line.Length == 0 || line[0] == '#')
                continue;
            int tab = line.IndexOf('\t');
            if (tab <= 0)
                throw new InvalidOperationException($"{KfuncResource}: bad row '{line}'");
            allowed[line[..tab]] = Types(line[(tab + 1)..]).ToFrozenSet();
        }
        return (probed.ToFrozenSet(), allowed.ToFrozenDictionary(StringComparer.Ordinal));
    }

    private static IEnumerable<ProgramType> Types(string list) =>
        list.Split(',', StringSplitOptions.RemoveEmptyEntries)
            .Select(n => KernelNames.ProgramTypeNamed(n) ?? throw new InvalidOperationException($"{KfuncResource}: unknown program type '{n}'"));
}
