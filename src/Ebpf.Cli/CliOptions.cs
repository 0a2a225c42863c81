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
}
