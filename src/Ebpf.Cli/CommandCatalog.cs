using System.CommandLine;

namespace Ebpf.Cli;

/// <summary>
/// Builds the command tree from every <see cref="ICliVerb"/> in this assembly. Verbs live in their
/// own files under Commands/; groups such as "prog" or "map" are created for the verbs below them.
/// </summary>
internal static class CommandCatalog
{
    public static IEnumerable<Command> Create()
    {
        var types = typeof(CommandCatalog).Assembly.GetTypes()
            .Where(t => !t.IsAbstract && !t.IsInterface && t.GetConstructor(Type.EmptyTypes) is not null)
            .ToList();
        var groupDescriptions = types.Where(t => typeof(ICliVerbGroup).IsAssignableFrom(t))
            .Select(t => (ICliVerbGroup)Activator.CreateInstance(t)!)
            .ToDictionary(g => g.Name, g => g.Description, StringComparer.Ordinal);
        var verbs = types.Where(t => typeof(ICliVerb).IsAssignableFrom(t))
            .Select(t => (ICliVerb)Activator.CreateInstance(t)!)
            .OrderBy(v => string.Join(' ', v.Path), StringComparer.Ordinal);

        var top = new List<Command>();
        var groups = new Dictionary<string, Command>(StringComparer.Ordinal);
        foreach (var verb in verbs)
        {
            Command? parent = null;
            for (int i = 0; i < verb.Path.Count - 1; i++)
            {
                string key = string.Join(' ', verb.Path.Take(i + 1));
                if (!groups.TryGetValue(key, out var group))
                {
                    group = new Command(verb.Path[i], groupDescriptions.GetValueOrDefault(key, ""));
                    groups[key] = group;
                    if (parent is null) top.Add(group); else parent.Add(group);
                }
                parent = group;
            }
            var command = verb.Create();
            if (parent is null) top.Add(command); else parent.Add(command);
        }
        return top;
    }
}
