using System.CommandLine;
using System.Text;
using Ebpf.Isa;

namespace Ebpf.Cli.Commands.Isa;

/// <summary>
/// <c>ebpf disasm FILE [--section S] [--style llvm|conformance] [--bytes] [--lenient]</c>: prints the instructions
/// of an ELF object (every code section, symbols as headers, like llvm-objdump -d), a raw .bin file or a
/// conformance .data file. Every instruction must decode (kernel rules, plus callx); --lenient prints what does not
/// as &lt;unknown&gt; (llvm) or <c>.insn</c> (conformance) instead of failing.
/// </summary>
internal sealed class DisasmVerb : ICliVerb
{
    public IReadOnlyList<string> Path => ["disasm"];

    public Command Create()
    {
        var file = new Argument<string>("FILE") { Description = "ELF object, raw .bin (little-endian 8-byte instructions) or conformance .data file" };
        var section = new Option<string?>("--section", "-s") { Description = "Only this ELF section" };
        var style = new Option<string>("--style") { Description = "llvm (llvm-objdump-14 text) or conformance (bpf_conformance assembly)", DefaultValueFactory = _ => "llvm" };
        style.AcceptOnlyFromAmong("llvm", "conformance");
        var bytes = new Option<bool>("--bytes") { Description = "Show the instruction bytes" };
        var lenient = new Option<bool>("--lenient") { Description = "Print undecodable instructions instead of failing" };
        var command = new Command("disasm", "Disassemble BPF instructions from an object, a .bin or a .data file") { file, section, style, bytes, lenient };
        CliConsole.SetBody(command, pr =>
        {
            string path = pr.GetValue(file)!;
            bool conformance = pr.GetValue(style) == "conformance";
            var programs = IsaInput.Load(path, pr.GetValue(section));
            if (!pr.GetValue(lenient))
            {
                foreach (var program in programs)
                    Check(path, program);
            }
            if (CliConsole.IsJson(pr))
            {
                CliConsole.WriteJson(programs.Select(p => new
                {
                    section = p.Section,
                    instructions = Lines(p, conformance).Select(l => new { index = l.Index, raw = l.Raw, text = l.Text }).ToList(),
                }).ToList());
                return 0;
            }
            var output = new StringBuilder();
            foreach (var program in programs)
                Write(output, program, conformance, pr.GetValue(bytes));
            CliConsole.Out.Write(output.ToString());
            return 0;
        });
        return command;
    }

    private static void Check(string path, IsaProgram program)
    {
        var slots = program.Instructions;
        for (int i = 0; i < slots.Length;)
        {
            if (!InstructionDecoder.TryDecode(slots, i, out var d, out string? error, IsaExtensions.Callx))
            {
                string where = program.Section is null ? path : $"{path}: section {program.Section}";
                throw new BpfException(Errno.EINVAL, $"{where}: insn {i}: {error} (raw 0x{slots[i].ToRaw():x16}; --lenient prints it anyway)");
            }
            i += d.SlotCount;
        }
    }

    private readonly record struct Line(int Index, int Slots, string Raw, string Text);

    private static IEnumerable<Line> Lines(IsaProgram program, bool conformance)
    {
        var slots = program.Instructions;
        BranchLabeler? labeler = program.Symbols is null ? null : program.Symbols.Label;
        for (int i = 0; i < slots.Length;)
        {
            string text = conformance
                ? ConformanceDisassembler.Format(slots, i, out int count)
                : LlvmDisassembler.Format(slots, i, out count, labeler);
            var raw = new StringBuilder();
            foreach (var b in InstructionStream.Write(slots.AsSpan(i, count)))
                raw.Append(b.ToString("x2"));
            yield return new Line(i, count, raw.ToString(), text);
            i += count;
        }
    }

    private static void Write(StringBuilder output, IsaProgram program, bool conformance, bool showBytes)
    {
        if (program.Section is not null)
            output.Append(conformance ? $"# section {program.Section}\n" : $"\nDisassembly of section {program.Section}:\n");
        foreach (var line in Lines(program, conformance))
        {
            if (program.Symbols is not null)
            {
                foreach (var symbol in program.Symbols.At((ulong)line.Index * 8))
                {
                    if (conformance)
                        output.Append(IsLabel(symbol.Name) ? $"{symbol.Name}:\n" : $"# {symbol.Name}:\n");
                    else
                        output.Append($"\n{symbol.Address:x16} <{symbol.Name}>:\n");
                }
            }
            string bytes = string.Join(' ', Enumerable.Range(0, line.Raw.Length / 2).Select(k => line.Raw.Substring(k * 2, 2)));
            if (conformance)
                output.Append(line.Text).Append(showBytes ? $"  # {line.Index}: {bytes}" : "").Append('\n');
            else
                output.Append($"{line.Index,8}:\t").Append(showBytes ? bytes + "\t" : "").Append(line.Text).Append('\n');
        }
    }

    private static bool IsLabel(string name) =>
        name.Length > 0 && !char.IsDigit(name[0]) && name.All(c => char.IsAsciiLetterOrDigit(c) || c is '_' or '.' or '$') && name != "exit";
}
