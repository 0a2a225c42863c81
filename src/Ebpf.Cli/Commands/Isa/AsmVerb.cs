using System.CommandLine;
using Ebpf.Isa;

namespace Ebpf.Cli.Commands.Isa;

/// <summary>
/// <c>ebpf asm FILE [-o OUT]</c>: assembles bpf_conformance-dialect text (or the program of a .data file) into
/// raw little-endian instructions; writes them to OUT, or prints one <c>0x…</c> word per line (the -- raw format).
/// </summary>
internal sealed class AsmVerb : ICliVerb
{
    public IReadOnlyList<string> Path => ["asm"];

    public Command Create()
    {
        var file = new Argument<string>("FILE") { Description = "Assembly in the bpf_conformance dialect, or a conformance .data file" };
        var output = new Option<string?>("--output", "-o") { Description = "Write the raw instructions (.bin) here" };
        var command = new Command("asm", "Assemble bpf_conformance-dialect text into raw BPF instructions") { file, output };
        CliConsole.SetBody(command, pr =>
        {
            string path = pr.GetValue(file)!;
            string text = System.Text.Encoding.UTF8.GetString(IsaInput.ReadBytes(path));
            var program = IsaInput.IsDataFile(path) ? ConformanceDataFile.Parse(text, path).Instructions : Assembler.Assemble(text, path);
            string? outPath = pr.GetValue(output);
            if (outPath is not null)
            {
                try
                {
                    File.WriteAllBytes(outPath, InstructionStream.Write(program));
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                {
                    throw new BpfException(Errno.EIO, $"{outPath}: {e.Message}", e);
                }
            }
            var words = program.Select(i => $"0x{i.ToRaw():x16}").ToList();
            if (CliConsole.IsJson(pr))
                CliConsole.WriteJson(new { instructions = words, output = outPath });
            else if (outPath is null)
                CliConsole.Out.Write(string.Concat(words.Select(w => w + "\n")));
            else
                CliConsole.Out.WriteLine($"wrote {program.Length} instructions ({program.Length * Instruction.Size} bytes) to {outPath}");
            return 0;
        });
        return command;
    }
}
