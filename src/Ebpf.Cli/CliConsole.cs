using System.CommandLine;
using System.Text.Json;

namespace Ebpf.Cli;

/// <summary>
/// Where verbs write (swappable so tests run the CLI in-process) and the one place that turns a
/// <see cref="BpfException"/> into "Error: …" on stderr and a non-zero exit code, as bpftool does.
/// </summary>
internal static class CliConsole
{
    // AsyncLocal: tests run many CLI invocations in parallel, each with its own writers.
    private static readonly AsyncLocal<TextWriter?> CurrentOut = new();
    private static readonly AsyncLocal<TextWriter?> CurrentError = new();

    public static TextWriter Out { get => CurrentOut.Value ?? Console.Out; set => CurrentOut.Value = value; }
    public static TextWriter Error { get => CurrentError.Value ?? Console.Error; set => CurrentError.Value = value; }

    public static readonly JsonSerializerOptions JsonOptions = new()
    {
        WriteIndented = false,
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
    };

    /// <summary>Attaches a body to a command, mapping library errors to stderr and exit code 1 (2 for usage).</summary>
    public static void SetBody(Command command, Func<ParseResult, int> body)
    {
        command.SetAction(parseResult =>
        {
            try
            {
                return body(parseResult);
            }
            catch (BpfException e)
            {
                return Report(e);
            }
            catch (CliUsageException e)
            {
                Error.WriteLine($"Error: {e.Message}");
                return 2;
            }
        });
    }

    /// <summary>"Error: message (ERRNO)" and the verifier log, if any, on stderr; exit code 1.</summary>
    public static int Report(BpfException e)
    {
        Error.WriteLine($"Error: {e.Message} ({e.Errno})");
        if (!string.IsNullOrEmpty(e.Log))
            Error.WriteLine(e.Log.TrimEnd());
        return 1;
    }

    /// <summary>
    /// Anything else that escaped a verb is our bug, not the user's: one line naming the exception, no stack
    /// trace (bpftool never prints one either), exit code 1.
    /// </summary>
    public static int ReportInternal(Exception e)
    {
        string message = e.Message.ReplaceLineEndings(" ");
        Error.WriteLine($"Error: internal error: {e.GetType().FullName}: {message}");
        return 1;
    }

    public static bool IsJson(ParseResult parseResult) => parseResult.GetValue(CliOptions.Json);

    /// <summary>Writes one JSON value (an anonymous object, list, record …) on its own line.</summary>
    public static void WriteJson<T>(T value) => Out.WriteLine(JsonSerializer.Serialize(value, JsonOptions));
}

/// <summary>Bad command-line words (as opposed to bad input files, which are <see cref="BpfException"/>).</summary>
internal sealed class CliUsageException(string message) : Exception(message);
