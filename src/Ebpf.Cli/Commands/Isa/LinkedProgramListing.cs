using Ebpf.Isa;
using Ebpf.Loading;

namespace Ebpf.Cli.Commands.Isa;

/// <summary>
/// <c>ebpf disasm FILE.o</c>: every program of the object as the loader links it (subprograms appended),
/// interleaved with the source lines that line_info names, and with map/data/extern references named.
/// </summary>
internal static class LinkedProgramListing
{
    public enum Dialect { Llvm, Conformance, Kernel }

    public static bool IsElf(string path)
    {
        try
        {
            using var stream = File.OpenRead(path);
            Span<byte> magic = stackalloc byte[4];
            return stream.Read(magic) == 4 && magic[0] == 0x7f && magic[1..].SequenceEqual("ELF"u8);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false; // the normal input path reports the error with its errno
        }
    }

    public static int Print(string path, Dialect dialect, bool json)
    {
        var spec = ObjectSpec.Load(path);
        InstructionFormatter format = dialect switch
        {
            Dialect.Conformance => ConformanceDisassembler.Format,
            Dialect.Kernel => (ReadOnlySpan<Instruction> p, int i, out int n) =>
            {
                n = p[i].IsLoadImm64 ? 2 : 1;
                return KernelDisassembler.Format(p, i);
            },
            _ => (ReadOnlySpan<Instruction> p, int i, out int n) => LlvmDisassembler.Format(p, i, out n),
        };
        if (!json)
        {
            foreach (var program in spec.Programs)
            {
                ProgramListing.Write(program, CliConsole.Out, format);
                CliConsole.Out.WriteLine();
            }
            return 0;
        }
        CliConsole.WriteJson(spec.Programs.Select(p => new
        {
            name = p.Name,
            section = p.SectionName,
            instructions = Listing(p, format),
        }).ToList());
        return 0;
    }

    private static List<object> Listing(ProgramSpec program, InstructionFormatter format)
    {
        var lines = program.LineInfos.GroupBy(l => l.InstructionIndex).ToDictionary(g => g.Key, g => g.First());
        var result = new List<object>();
        for (int i = 0; i < program.Instructions.Length;)
        {
            string text = format(program.Instructions, i, out int slots);
            lines.TryGetValue(i, out var line);
            result.Add(new
            {
                index = i,
                text,
                source = line is null ? null : line.LineText.Trim(),
                file = line?.FileName,
                line = line?.Line,
            });
            i += Math.Max(1, slots);
        }
        return result;
    }
}
