using System.CommandLine;
using Ebpf.Execution;
using Ebpf.Isa;

namespace Ebpf.Cli.Commands.Execution;

/// <summary>
/// <c>ebpf run FILE.data|FILE.bin [--mem HEX] [--unchecked] [--budget N]</c>: runs one program in the
/// interpreter (checked by default, with the conformance helpers) the way the bpf_conformance runner does
/// (r1 = the memory, r2 = its length) and prints r0 in hex and decimal.
/// </summary>
internal sealed class RunVerb : ICliVerb
{
    public IReadOnlyList<string> Path => ["run"];

    public Command Create()
    {
        var file = new Argument<string>("FILE") { Description = "Conformance .data file or raw .bin (little-endian 8-byte instructions)" };
        var mem = new Option<string?>("--mem") { Description = "Input memory as hex bytes (overrides the .data file's -- mem)" };
        var uncheckedMode = new Option<bool>("--unchecked") { Description = "Skip the per-access checks (only for programs known to be safe)" };
        var budget = new Option<long>("--budget") { Description = "Checked mode: stop after this many executed instructions", DefaultValueFactory = _ => InterpreterOptions.DefaultInstructionBudget };
        var command = new Command("run", "Run a BPF program in the interpreter and print r0") { file, mem, uncheckedMode, budget };
        CliConsole.SetBody(command, pr =>
        {
            string path = pr.GetValue(file)!;
            Instruction[] program;
            byte[] memory;
            if (path.EndsWith(".data", StringComparison.OrdinalIgnoreCase))
            {
                var test = ConformanceDataFile.Load(path);
                program = test.Instructions;
                memory = test.Memory;
            }
            else
            {
                byte[] bytes;
                try
                {
                    bytes = File.ReadAllBytes(path);
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                {
                    throw new BpfException(Errno.ENOENT, $"{path}: {e.Message}");
                }
                program = InstructionStream.Read(bytes, path);
                memory = [];
            }
            if (pr.GetValue(mem) is { } hex)
                memory = HexBytes.Parse(hex, "--mem");
            var options = new InterpreterOptions
            {
                Name = System.IO.Path.GetFileName(path),
                Mode = pr.GetValue(uncheckedMode) ? ExecutionMode.Unchecked : ExecutionMode.Checked,
                Helpers = HelperTable.ForConformance(),
                InstructionBudget = pr.GetValue(budget),
            };
            ulong r0 = ConformanceRunner.Execute(program, memory, options);
            if (CliConsole.IsJson(pr))
                CliConsole.WriteJson(new { r0 });
            else
                CliConsole.Out.WriteLine($"0x{r0:x} {r0}");
            return 0;
        });
        return command;
    }
}
