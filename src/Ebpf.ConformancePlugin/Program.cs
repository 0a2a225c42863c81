using Ebpf;
using Ebpf.Execution;
using Ebpf.Isa;

// A plugin for the bpf_conformance runner (bpf_conformance_runner --plugin_path …):
// the program arrives as hex bytes on stdin, the input memory as hex in the first command-line argument
// (absent or empty = no memory); r0 goes to stdout in hex, errors to stderr with exit code 1.
// Options the runner may pass before the memory (--…) are accepted and ignored.
// Runs in the checked interpreter with helper #5 (identity), cpu v4 + callx.
try
{
    string memoryHex = args.FirstOrDefault(a => !a.StartsWith("--", StringComparison.Ordinal)) ?? "";
    byte[] memory = HexBytes.Parse(memoryHex, "memory argument");
    byte[] code = HexBytes.Parse(Console.In.ReadToEnd(), "program on stdin");
    var program = InstructionStream.Read(code, "program on stdin");
    ulong r0 = ConformanceRunner.Execute(program, memory, ConformanceRunner.DefaultOptions("program"));
    Console.Out.WriteLine(r0.ToString("x", System.Globalization.CultureInfo.InvariantCulture));
    return 0;
}
catch (BpfException e)
{
    Console.Error.WriteLine($"{e.Message} ({e.Errno})");
    return 1;
}
