using Ebpf.Isa;

namespace Ebpf.Loading;

/// <summary>Formats one instruction of a program; sets <paramref name="slotCount"/> to 2 for an lddw, else 1.</summary>
public delegate string InstructionFormatter(ReadOnlySpan<Instruction> program, int index, out int slotCount);

/// <summary>
/// A linked program printed for people, the way <c>bpftool prog dump xlated linum</c> and <c>llvm-objdump -S</c> do:
/// each function starts with its name, each source line from line_info precedes the first instruction it produced,
/// and map, data and extern references are named. The instruction text itself comes from the caller's formatter
/// (the Isa disassembler), so this stays independent of any one disassembly dialect.
/// </summary>
public static class ProgramListing
{
    /// <summary>
    /// Writes the annotated listing of <paramref name="program"/> to <paramref name="output"/>, formatting
    /// instructions with <paramref name="format"/>.
    /// </summary>
    public static void Write(ProgramSpec program, TextWriter output, InstructionFormatter format)
    {
        output.WriteLine($"{program.Name}:  ; section {program.SectionName}, {program.Instructions.Length} insns");
        var functionStarts = program.Functions.ToDictionary(f => f.Offset, f => f.Name);
        var lines = program.LineInfos.GroupBy(l => l.InstructionIndex).ToDictionary(g => g.Key, g => g.First());
        var relocations = program.Relocations.GroupBy(r => r.InstructionIndex).ToDictionary(g => g.Key, g => g.First());
        int width = Math.Max(1, (program.Instructions.Length - 1).ToString().Length);
        ProgramLineInfo? lastLine = null;

        for (int i = 0; i < program.Instructions.Length;)
        {
            if (i != 0 && functionStarts.TryGetValue(i, out var function))
                output.WriteLine($"{function}:");
            if (lines.TryGetValue(i, out var line) && (lastLine is null || line.Line != lastLine.Line || line.FileName != lastLine.FileName))
            {
                output.WriteLine($"; {line.LineText.Trim()}  [{Path.GetFileName(line.FileName)}:{line.Line}:{line.Column}]");
                lastLine = line;
            }
            string text = format(program.Instructions, i, out int slots);
            string note = relocations.TryGetValue(i, out var r) ? "  ; " + Describe(r) : "";
            output.WriteLine($"{i.ToString().PadLeft(width)}: {text}{note}");
            i += Math.Max(1, slots);
        }
    }

    /// <summary>The annotated listing of <paramref name="program"/> as a string.</summary>
    public static string ToString(ProgramSpec program, InstructionFormatter format)
    {
        var sw = new StringWriter();
        Write(program, sw, format);
        return sw.ToString();
    }

    private static string Describe(ProgramRelocation r) => r.Kind switch
    {
        ProgramRelocationKind.MapReference => $"map {r.MapName}",
        ProgramRelocationKind.MapValue => $"{r.MapName}+{r.Offset} ({r.Symbol})",
        ProgramRelocationKind.KconfigExtern => $"kconfig {r.Symbol} ({r.MapName}+{r.Offset})",
        ProgramRelocationKind.KsymVariable => $"ksym {r.Symbol}",
        ProgramRelocationKind.KfuncCall => $"kfunc {r.Symbol}",
        _ => $"unresolved {r.Symbol}",
    };
}
