using Ebpf.Abi.Profiles;
using Ebpf.Linux.Probes;

namespace Ebpf.Cli.Commands.Verification;

/// <summary>
/// The values of <c>--kernel</c>: <c>live</c> (the running kernel, probed), <c>6.18</c> (the built-in mainline
/// reference; also <c>reference</c>), or the path of a profile written by <c>ebpf feature probe --profile</c>.
/// A value may list several, comma-separated.
/// </summary>
internal static class KernelProfileArgument
{
    public static IReadOnlyList<KernelProfile> Resolve(IEnumerable<string> values)
    {
        var profiles = new List<KernelProfile>();
        foreach (string value in values.SelectMany(v => v.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)))
            profiles.Add(ResolveOne(value));
        return profiles;
    }

    private static KernelProfile ResolveOne(string value) => value switch
    {
        "live" => LiveKernelProfile.Current,
        "6.18" or "reference" => KernelProfile.Reference,
        _ when File.Exists(value) => KernelProfile.Load(value),
        _ => throw new CliUsageException($"--kernel {value}: not 'live', '6.18' or a profile file (ebpf feature probe --profile > FILE)"),
    };

    /// <summary>A column heading for <paramref name="profile"/>: its name, and the release for the live kernel.</summary>
    public static string Heading(KernelProfile profile) =>
        profile.Name == "live" && profile.KernelRelease is { } r ? $"live ({r})" : profile.Name;
}
