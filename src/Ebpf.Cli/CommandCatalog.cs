using System.CommandLine;

namespace Ebpf.Cli;

/// <summary>
/// Every top-level verb group of the CLI. Each group lives in its own file under Commands/ and
/// exposes <c>static Command Create()</c>; adding a verb group is one line here.
/// </summary>
internal static class CommandCatalog
{
    public static IEnumerable<Command> Create()
    {
        yield break;
    }
}
