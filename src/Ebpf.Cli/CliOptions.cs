using System.CommandLine;

namespace Ebpf.Cli;

/// <summary>Options shared by every verb.</summary>
internal static class CliOptions
{
    /// <summary>bpftool's -j/--json: machine-readable output on stdout.</summary>
    public static readonly Option<bool> Json = new("--json", "-j")
    {
        Description = "Print machine-readable JSON instead of text",
        Recursive = true,
    };

    public const string ManagedBackend = "managed";
    public const string LinuxBackend = "linux";

    /// <summary>
    /// Where the runtime verbs act: the managed BpfRuntime (default; a fresh one per invocation,
    /// shared by the lines of `batch file`) or the running Linux kernel through bpf(2).
    /// </summary>
    public static readonly Option<string> Backend = CreateBackend();

    private static Option<string> CreateBackend()
    {
        var option = new Option<string>("--backend")
        {
            Description = "managed (the in-process BpfRuntime) or linux (the running kernel through bpf(2))",
            Recursive = true,
            DefaultValueFactory = _ => ManagedBackend,
        };
        option.AcceptOnlyFromAmong(ManagedBackend, LinuxBackend);
        return option;
    }
}
