using System.CommandLine;
using Ebpf.Btf;
using Ebpf.Cli.Commands.Runtime;
using Ebpf.Linux;

namespace Ebpf.Cli.Commands.Btf;

internal sealed class BtfVerbGroup : ICliVerbGroup
{
    public string Name => "btf";
    public string Description => "Inspect BTF (BPF Type Format) data";
}

/// <summary>
/// <c>ebpf btf dump (file FILE | id N) [format raw|c]</c>, like bpftool's. FILE is raw BTF
/// (/sys/kernel/btf/vmlinux, a module's split BTF with --base-btf) or a BPF ELF object, whose .BTF section
/// is read; <c>id N</c> names a loaded BTF object of the selected backend (the managed runtime, or the
/// kernel with --backend linux, where module BTF is read on top of vmlinux). --json prints bpftool's JSON
/// shape for the raw format.
/// </summary>
internal sealed class BtfDumpVerb : ICliVerb
{
    public IReadOnlyList<string> Path => ["btf", "dump"];

    public Command Create()
    {
        var spec = new Argument<string[]>("spec")
        {
            Description = "(file FILE | id N) [format raw|c]",
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
            if (words.Length < 2 || words[0] is not ("file" or "id"))
                throw new CliUsageException("expected: btf dump (file FILE | id N) [format raw|c]");
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
            var btf = words[0] == "file" ? BtfElf.LoadAny(words[1], @base) : LoadById(pr, ParseId(words[1]), @base);
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

    private static uint ParseId(string word) =>
        uint.TryParse(word, out uint id) ? id : throw new CliUsageException($"can't parse '{word}' as an id");

    private static Ebpf.Btf.BtfSpec LoadById(ParseResult pr, uint id, Ebpf.Btf.BtfSpec? @base)
    {
        using var handle = (Ebpf.Collections.BtfHandle)RuntimeBackends.Get(RuntimeBackends.Resolve(pr)).Open(Ebpf.Abi.ObjectKind.Btf, id);
        var info = handle.GetInfo();
        // Module BTF is split BTF on top of vmlinux (bpftool does the same when dumping by id).
        @base ??= info.IsKernel && info.Name != "vmlinux" ? Ebpf.Btf.BtfSpec.LoadVmlinux() : null;
        return Ebpf.Btf.BtfSpec.Parse(handle.GetData(), @base);
    }
}
