using System.CommandLine;

namespace Ebpf.Cli;

/// <summary>
/// One CLI verb. Implementations are discovered by reflection, so a new verb is a new file and
/// no shared list needs editing. <see cref="Path"/> names the verb's position in the tree
/// (e.g. <c>["btf", "dump"]</c>); intermediate groups are created on demand.
/// </summary>
internal interface ICliVerb
{
    IReadOnlyList<string> Path { get; }
    Command Create();
}

/// <summary>Optional description of a verb group (e.g. "prog"), also discovered by reflection.</summary>
internal interface ICliVerbGroup
{
    string Name { get; }
    string Description { get; }
}
