using System.Text.Json;

namespace Ebpf.Cli.Commands.Runtime;

/// <summary>Writes one JSON value per line to a given writer (bpftool -j output).</summary>
internal static class RuntimeJson
{
    public static void Write<T>(TextWriter output, T value) => output.WriteLine(JsonSerializer.Serialize(value, CliConsole.JsonOptions));
}
