using System.CommandLine;
using System.Text;
using Ebpf.Isa;

namespace Ebpf.Cli.Commands.Isa;

/// <summary>
/// <c>ebpf disasm FILE [--section S] [--style llvm|conformance|kernel] [--bytes] [--lenient]</c>: prints the instructions
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
        var style = new Option<string>("--style")
        {
            Description = "llvm (llvm-objdump-14 text), conformance (bpf_conformance assembly) or kernel (verifier log / disasm.c)",
            DefaultValueFactory = _ => "llvm",
        };
        style.AcceptOnlyFromAmong("llvm", "conformance", "kernel");
        var bytes = new Option<bool>("--bytes") { Description = "Show the instruction bytes" };
        var lenient = new Option<bool>("--lenient") { Description = "Print undecodable instructions instead of failing" };
        var command = new Command("disasm", "Disassemble BPF instructions from an object, a .bin or a .data file") { file, section, style, bytes, lenient };
        CliConsole.SetBody(command, pr =>
        {
            string path = pr.GetValue(file)!;
            var chosen = pr.GetValue(style) switch { "conformance" => Style.Conformance, "kernel" => Style.Kernel, _ => Style.Llvm };
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
                    instructions = Lines(p, chosen).Select(l => new { index = l.Index, raw = l.Raw, text = l.Text }).ToList(),
                }).ToList());
                return 0;
            }
            var output = new StringBuilder();
            foreach (var program in programs)
                Write(output, program, chosen, pr.GetValue(bytes));
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

    private enum Style { Llvm, Conformance, Kernel }

    private readonly record struct Line(int Index, int Slots, string Raw, string Text);

    private static IEnumerable<Line> Lines(IsaProgram program, Style style)
    {
        var slots = program.Instructions;
        BranchLabeler? labeler = program.Symbols is null ? null : program.Symbols.Label;
        for (int i = 0; i < slots.Length;)
        {
            int count;
            string text;
            switch (style)
            {
                case Style.Conformance:
                    text = ConformanceDisassembler.Format(slots, i, out count);
                    break;
                case Style.Kernel:
                    count = slots[i].IsLoadImm64 && i + 1 < slots.Length ? 2 : 1;
                    text = KernelDisassembler.Format(slots, i);
                    break;
                default:
                    text = LlvmDisassembler.Format(slots, i, out count, labeler);
                    break;
            }
            var raw = new StringBuilder();
            foreach (var b in InstructionStream.Write(slots.AsSpan(i, count)))
                raw.Append(b.ToString("x2"));
            yield return new Line(i, count, raw.ToString(), text);
            i += count;
        }
    }

    private static void Write(StringBuilder output, IsaProgram program, Style style, bool showBytes)
    {
        bool conformance = style == Style.Conformance;
        if (program.Section is not null)
            output.Append(conformance ? $"# section {program.Section}\n" : $"\nDisassembly of section {program.Section}:\n");
        foreach (var line in Lines(program, style))
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
            else if (style == Style.Kernel)
                output.Append($"{line.Index}: ").Append(line.Text).Append(showBytes ? $"  ; {bytes}" : "").Append('\n');
            else
                output.Append($"{line.Index,8}:\t").Append(showBytes ? bytes + "\t" : "").Append(line.Text).Append('\n');
        }
    }

    private static bool IsLabel(string name) =>
        name.Length > 0 && !char.IsDigit(name[0]) && name.All(c => char.IsAsciiLetterOrDigit(c) || c is '_' or '.' or '$') && name != "exit";
}
