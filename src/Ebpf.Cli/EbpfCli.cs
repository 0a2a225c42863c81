using System.CommandLine;

namespace Ebpf.Cli;

/// <summary>Builds the `ebpf` command tree and runs it; the tests call <see cref="Run"/> in-process.</summary>
public static class EbpfCli
{
    public static int Run(string[] args, TextWriter stdout, TextWriter stderr)
    {
        var root = new RootCommand("ebpf: load, inspect, verify and run BPF programs (bpftool-style verbs)");
        root.Add(CliOptions.Json);
        root.Add(CliOptions.Backend);
        foreach (var command in CommandCatalog.Create())
            root.Add(command);
        var config = new InvocationConfiguration { Output = stdout, Error = stderr, EnableDefaultExceptionHandler = false };
        var previous = (CliConsole.Out, CliConsole.Error);
        CliConsole.Out = stdout;
        CliConsole.Error = stderr;
        try
        {
            return root.Parse(args).Invoke(config);
        }
        // The last line of defence: no verb ends the process with an unhandled exception and a stack trace.
        catch (BpfException e)
        {
            return CliConsole.Report(e);
        }
        catch (CliUsageException e)
        {
            CliConsole.Error.WriteLine($"Error: {e.Message}");
            return 2;
        }
        catch (Exception e)
        {
            return CliConsole.ReportInternal(e);
        }
        finally
        {
            (CliConsole.Out, CliConsole.Error) = previous;
        }
    }
}
