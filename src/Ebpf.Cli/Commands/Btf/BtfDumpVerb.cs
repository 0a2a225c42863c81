using System.CommandLine;
using Ebpf.Btf;

namespace Ebpf.Cli.Commands.Btf;

internal sealed class BtfVerbGroup : ICliVerbGroup
{
    public string Name => "btf";
    public string Description => "Inspect BTF (BPF Type Format) data";
}

/// <summary>
/// <c>ebpf btf dump file FILE [format raw|c]</c>, like <c>bpftool btf dump file FILE [format raw|c]</c>.
/// FILE is raw BTF (/sys/kernel/btf/vmlinux, a module's split BTF with --base-btf) or a BPF ELF object,
/// whose .BTF section is read. --json prints bpftool's JSON shape for the raw format.
/// </summary>
internal sealed class BtfDumpVerb : ICliVerb
{
    public IReadOnlyList<string> Path => ["btf", "dump"];

    public Command Create()
    {
        var spec = new Argument<string[]>("spec")
        {
            Description = "file FILE [format raw|c]",
            Arity = ArgumentArity.OneOrMore,
        };
        var baseBtf = new Option<string?>("--base-btf", "-B")
        {
            Description = "Base BTF for split BTF (e.g. /sys/kernel/btf/vmlinux for a module)",
        };
        var cmd = new Command("dump", "Dump the types of a BTF file or an ELF object's .BTF section");
        cmd.Add(spec);
        cmd.Add(baseBtf);
        CliConsole.SetBody(cmd, pr =>
        {
            var words = pr.GetValue(spec) ?? [];
            if (words.Length < 2 || words[0] != "file")
                throw new CliUsageException("expected: btf dump file FILE [format raw|c]");
            string path = words[1];
            string format = "raw";
            if (words.Length > 2)
            {
                if (words.Length != 4 || words[2] != "format")
                    throw new CliUsageException($"unexpected '{string.Join(' ', words.Skip(2))}': expected 'format raw|c'");
                format = words[3];
                if (format is not ("raw" or "c"))
                    throw new CliUsageException($"unrecognized format specifier: '{format}', possible values: raw, c");
            }
            string? basePath = pr.GetValue(baseBtf);
            var @base = basePath is null ? null : BtfElf.LoadAny(basePath);
            var btf = BtfElf.LoadAny(path, @base);
            if (format == "c")
            {
                if (CliConsole.IsJson(pr))
                    throw new CliUsageException("JSON output is not supported for the C format");
                new BtfCPrinter(btf).Print(CliConsole.Out);
            }
            else if (CliConsole.IsJson(pr))
            {
                CliConsole.Out.WriteLine(BtfRawDumper.DumpJson(btf));
            }
            else
            {
                BtfRawDumper.Dump(btf, CliConsole.Out);
            }
            CliConsole.Out.Flush();
            return 0;
        });
        return cmd;
    }
}
