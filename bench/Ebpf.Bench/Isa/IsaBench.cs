using System.Diagnostics;
using Ebpf.Elf;
using Ebpf.Isa;

namespace Ebpf.Bench.Isa;

/// <summary>
/// Throughput of the instruction-set tools over every code section of the object corpus:
/// decode, encode, structural validation, the three disassemblers and the assembler.
/// Usage: <c>isa [CORPUS_DIR] [--seconds N]</c> (default corpus: $EBPF_SHARED/corpus/objects or ../shared/corpus/objects).
/// </summary>
public sealed class IsaBench : IBenchSuite
{
    public string Name => "isa";
    public string Description => "decode/encode/validate/disassemble/assemble throughput over the object corpus";

    public int Run(string[] args)
    {
        double seconds = 1;
        string? dir = null;
        for (int i = 0; i < args.Length; i++)
        {
            if (args[i] == "--seconds" && i + 1 < args.Length)
                seconds = double.Parse(args[++i], System.Globalization.CultureInfo.InvariantCulture);
            else
                dir = args[i];
        }
        dir ??= Path.Combine(Environment.GetEnvironmentVariable("EBPF_SHARED") is { Length: > 0 } s ? s : Path.Combine("..", "shared"), "corpus", "objects");
        if (!Directory.Exists(dir))
        {
            Console.Error.WriteLine($"corpus not found: {dir}");
            return 1;
        }
        var programs = new List<Instruction[]>();
        foreach (string path in Directory.EnumerateFiles(dir, "*.o", SearchOption.AllDirectories).Where(p => !p.Contains("/invalid/")))
        {
            var elf = ElfFile.Open(path);
            foreach (var section in elf.Sections.Where(x => x.IsExecutable && !x.IsNoBits && x.Size > 0))
                programs.Add(InstructionStream.Read(section.Data.Span));
        }
        long slots = programs.Sum(p => (long)p.Length);
        var decoded = programs.Select(p => InstructionDecoder.DecodeProgram(p)).ToList();
        var asm = programs.Select(p => ConformanceDisassembler.Disassemble(p)).ToList();
        Console.WriteLine($"corpus: {programs.Count} code sections, {slots} slots");
        Console.WriteLine($"{"operation",-28} {"slots/s",14} {"ns/slot",9}");

        Measure("decode", seconds, slots, () => { foreach (var p in programs) InstructionDecoder.DecodeProgram(p); });
        Measure("encode", seconds, slots, () => { foreach (var d in decoded) InstructionEncoder.EncodeProgram(d); });
        Measure("validate (kernel rules)", seconds, slots, () =>
        {
            foreach (var p in programs)
            {
                try { ProgramValidator.Validate(p); } catch (BpfException) { /* unrelocated local calls */ }
            }
        });
        Measure("llvm-objdump text", seconds, slots, () =>
        {
            foreach (var p in programs)
                for (int i = 0; i < p.Length;) { LlvmDisassembler.Format(p, i, out int n); i += n; }
        });
        Measure("kernel (disasm.c) text", seconds, slots, () =>
        {
            foreach (var p in programs)
                for (int i = 0; i < p.Length; i += p[i].IsLoadImm64 ? 2 : 1) KernelDisassembler.Format(p, i);
        });
        Measure("conformance text", seconds, slots, () => { foreach (var p in programs) ConformanceDisassembler.Disassemble(p); });
        Measure("assemble conformance text", seconds, slots, () => { foreach (var a in asm) Assembler.Assemble(a); });
        return 0;
    }

    private static void Measure(string name, double seconds, long slots, Action pass)
    {
        pass(); // warm-up (JIT tiering)
        var sw = Stopwatch.StartNew();
        int passes = 0;
        do
        {
            pass();
            passes++;
        } while (sw.Elapsed.TotalSeconds < seconds);
        double perSecond = slots * passes / sw.Elapsed.TotalSeconds;
        Console.WriteLine($"{name,-28} {perSecond,14:N0} {1e9 / perSecond,9:F1}");
    }
}
