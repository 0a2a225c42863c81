using System.Collections.Frozen;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Ebpf.Abi.Profiles;

/// <summary>
/// The profile file format: JSON with the kernel's own names ("xdp", "percpu_hash", helper ids as numbers, kfunc names),
/// so a profile can be read, diffed and edited by hand. Unknown names are errors, not silently dropped: a profile that
/// says less than it seems to would give wrong verdicts.
/// </summary>
internal static class KernelProfileJson
{
    public static string Write(KernelProfile p)
    {
        var root = new JsonObject
        {
            ["name"] = p.Name,
            ["kernel_release"] = p.KernelRelease,
            ["kernel_btf"] = p.KernelBtfPath,
            ["possible_cpus"] = p.PossibleCpus,
            ["program_types"] = p.ProgramTypes is null ? null : Array(p.ProgramTypes.Select(KernelNames.Of).Order(StringComparer.Ordinal)),
            ["map_types"] = p.MapTypes is null ? null : Array(p.MapTypes.Select(KernelNames.Of).Order(StringComparer.Ordinal)),
            ["features"] = Array(p.Features.Select(f => KernelNames.Snake(f.ToString())).Order(StringComparer.Ordinal)),
            ["helpers"] = new JsonObject(p.Helpers.OrderBy(h => KernelNames.Of(h.Key), StringComparer.Ordinal)
                .Select(h => KeyValuePair.Create(KernelNames.Of(h.Key), (JsonNode?)new JsonArray([.. h.Value.Order().Select(id => (JsonNode)id)])))),
            ["kfunc_probed_types"] = Array(p.KfuncProbedTypes.Select(KernelNames.Of).Order(StringComparer.Ordinal)),
            ["kfuncs"] = new JsonObject(p.Kfuncs.OrderBy(k => k.Key, StringComparer.Ordinal)
                .Select(k => KeyValuePair.Create(k.Key, (JsonNode?)Array(k.Value.Select(KernelNames.Of).Order(StringComparer.Ordinal))))),
        };
        return root.ToJsonString(new JsonSerializerOptions { WriteIndented = true });
    }

    public static KernelProfile Parse(string text, string source)
    {
        JsonObject root;
        try
        {
            root = JsonNode.Parse(text) as JsonObject ?? throw new BpfException(Errno.EINVAL, $"kernel profile {source}: not a JSON object");
        }
        catch (JsonException e)
        {
            throw new BpfException(Errno.EINVAL, $"kernel profile {source}: {e.Message}");
        }
        try
        {
            return new KernelProfile
            {
                Name = (string?)root["name"] ?? source,
                KernelRelease = (string?)root["kernel_release"],
                KernelBtfPath = (string?)root["kernel_btf"],
                PossibleCpus = (int?)root["possible_cpus"],
                ProgramTypes = root["program_types"] is JsonArray pt ? Strings(pt).Select(n => ProgramTypeNamed(n, source)).ToFrozenSet() : null,
                MapTypes = root["map_types"] is JsonArray mt ? Strings(mt).Select(n => MapTypeNamed(n, source)).ToFrozenSet() : null,
                Features = root["features"] is JsonArray f ? Strings(f).Select(n => FeatureNamed(n, source)).ToFrozenSet() : FrozenSet<KernelFeature>.Empty,
                Helpers = root["helpers"] is JsonObject h
                    ? h.ToFrozenDictionary(e => ProgramTypeNamed(e.Key, source), e => Ids(e.Value, $"{source}: helpers.{e.Key}"))
                    : FrozenDictionary<ProgramType, FrozenSet<int>>.Empty,
                KfuncProbedTypes = root["kfunc_probed_types"] is JsonArray kp ? Strings(kp).Select(n => ProgramTypeNamed(n, source)).ToFrozenSet() : FrozenSet<ProgramType>.Empty,
                Kfuncs = root["kfuncs"] is JsonObject k
                    ? k.ToFrozenDictionary(e => e.Key, e => Strings(e.Value as JsonArray ?? []).Select(n => ProgramTypeNamed(n, source)).ToFrozenSet(), StringComparer.Ordinal)
                    : FrozenDictionary<string, FrozenSet<ProgramType>>.Empty,
            };
        }
        catch (Exception e) when (e is InvalidOperationException or FormatException)
        {
            throw new BpfException(Errno.EINVAL, $"kernel profile {source}: {e.Message}");
        }
    }

    private static JsonArray Array(IEnumerable<string> items) => new([.. items.Select(s => (JsonNode)s)]);

    private static IEnumerable<string> Strings(JsonArray array) => array.Select(n => (string?)n ?? throw new FormatException("null in a list of names"));

    private static FrozenSet<int> Ids(JsonNode? node, string where) =>
        node is JsonArray a ? a.Select(n => (int?)n ?? throw new FormatException($"{where}: null helper id")).ToFrozenSet()
            : throw new FormatException($"{where}: expected a list of helper ids");

    private static ProgramType ProgramTypeNamed(string name, string source) =>
        KernelNames.ProgramTypeNamed(name) ?? throw new BpfException(Errno.EINVAL, $"kernel profile {source}: unknown program type '{name}'");

    private static MapType MapTypeNamed(string name, string source) =>
        Enum.GetValues<MapType>().Cast<MapType?>().FirstOrDefault(t => KernelNames.Of(t!.Value) == name)
        ?? throw new BpfException(Errno.EINVAL, $"kernel profile {source}: unknown map type '{name}'");

    private static KernelFeature FeatureNamed(string name, string source) =>
        Enum.GetValues<KernelFeature>().Cast<KernelFeature?>().FirstOrDefault(f => KernelNames.Snake(f!.Value.ToString()) == name)
        ?? throw new BpfException(Errno.EINVAL, $"kernel profile {source}: unknown feature '{name}'");
}
