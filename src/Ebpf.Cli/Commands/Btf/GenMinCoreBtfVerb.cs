using System.CommandLine;
using Ebpf.Btf;
using Ebpf.CoRe;
using Ebpf.Loading;

namespace Ebpf.Cli.Commands.Btf;

internal sealed class GenVerbGroup : ICliVerbGroup
{
    public string Name => "gen";
    public string Description => "Generate files from BPF objects (bpftool gen)";
}

/// <summary>
/// <c>ebpf gen min_core_btf INPUT OUTPUT OBJ...</c>: bpftool's BTFGen — the minimal BTF with which every CO-RE
/// relocation of the objects resolves as it does against INPUT (a kernel's full BTF), usable as btf_custom_path on a
/// kernel that has no BTF of its own.
/// </summary>
internal sealed class GenMinCoreBtfVerb : ICliVerb
{
    public IReadOnlyList<string> Path => ["gen", "min_core_btf"];

    public Command Create()
    {
        var input = new Argument<string>("INPUT") { Description = "the source BTF (e.g. a kernel's vmlinux BTF)" };
        var output = new Argument<string>("OUTPUT") { Description = "where to write the minimal BTF" };
        var objects = new Argument<string[]>("OBJ") { Description = "BPF objects whose CO-RE relocations must resolve", Arity = ArgumentArity.OneOrMore };
        var cmd = new Command("min_core_btf", "Generate the minimal BTF that CO-RE relocations of some objects need") { input, output, objects };
        CliConsole.SetBody(cmd, pr =>
        {
            var source = BtfElf.LoadAny(pr.GetValue(input)!);
            var specs = pr.GetValue(objects)!.Select(ObjectSpec.Load).ToList();
            byte[] raw = MinimalCoreBtf.Generate(source, specs);
            string path = pr.GetValue(output)!;
            try
            {
                File.WriteAllBytes(path, raw);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new BpfException(e is UnauthorizedAccessException ? Errno.EACCES : Errno.EIO, $"cannot write {path}: {e.Message}");
            }
            return 0;
        });
        return cmd;
    }
}
