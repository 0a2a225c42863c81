using System.Text.RegularExpressions;
using Ebpf.Abi;
using Ebpf.Isa;
using Ebpf.Linux;

namespace Ebpf.Fuzz;

/// <summary>The kernel's verdict: accepted, or the errno with the error line and the instruction it names.</summary>
public sealed record Verdict(bool Accepted, Errno Errno, string Message, int Instruction, string Log)
{
    public static Verdict Accept { get; } = new(true, Errno.None, "", -1, "");
}

/// <summary>The live kernel through Ebpf.Linux: the fuzzer's oracle. Owns the two maps it binds programs to.</summary>
public sealed partial class KernelBackend : IDisposable
{
    private readonly KernelMap _array;
    private readonly KernelMap _hash;

    public KernelBackend()
    {
        _array = KernelMap.Create(new MapCreateAttributes { Type = MapType.Array, KeySize = FuzzMaps.KeySize, ValueSize = FuzzMaps.ValueSize, MaxEntries = FuzzMaps.MaxEntries, Name = "fuzz_array" });
        _hash = KernelMap.Create(new MapCreateAttributes { Type = MapType.Hash, KeySize = FuzzMaps.KeySize, ValueSize = FuzzMaps.ValueSize, MaxEntries = FuzzMaps.MaxEntries, Name = "fuzz_hash" });
    }

    /// <summary>Null when bpf(2) can load programs here; otherwise why not.</summary>
    public static string? Unavailable()
    {
        if (!OperatingSystem.IsLinux())
            return "the kernel oracle needs Linux";
        try
        {
            using var probe = KernelProgram.Load(new ProgramLoadAttributes { Type = ProgramType.SocketFilter, Instructions = new[] { Instruction.Mov64(0, 0), Instruction.Exit() } });
            return null;
        }
        catch (Exception e) when (e is BpfException or DllNotFoundException or EntryPointNotFoundException)
        {
            return $"bpf(BPF_PROG_LOAD) is not usable here: {e.Message}";
        }
    }

    public Instruction[] Bind(Instruction[] program) => MapBinding.Bind(program, _array.Fd.Value, _hash.Fd.Value);

    public Verdict Verify(FuzzProgram program) => Verify(program.Type, program.Instructions);

    public Verdict Verify(ProgramType type, Instruction[] instructions)
    {
        try
        {
            using var loaded = Load(type, instructions);
            return Verdict.Accept;
        }
        catch (BpfException e)
        {
            var (message, insn) = ErrorOf(e.Log ?? "");
            return new Verdict(false, e.Errno, message, insn, e.Log ?? "");
        }
    }

    public KernelProgram Load(ProgramType type, Instruction[] instructions) =>
        KernelProgram.Load(new ProgramLoadAttributes { Type = type, Instructions = Bind(instructions), Name = "fuzz" });

    /// <summary>Runs once on <paramref name="packet"/> from freshly reset maps: r0 and the packet as the program left it.</summary>
    public (uint ReturnValue, byte[] DataOut) Run(KernelProgram program, byte[] packet)
    {
        Reset();
        var result = program.TestRun(new TestRunOptions { DataIn = packet, Repeat = 1, DataSizeOut = 0 });
        return (result.ReturnValue, result.DataOut ?? []);
    }

    private void Reset()
    {
        for (uint k = 0; k < FuzzMaps.MaxEntries; k++)
            _array.Update(BitConverter.GetBytes(k), FuzzMaps.InitialValue(k));
        foreach (var key in _hash.Keys().ToList())
            _hash.Delete(key);
        foreach (uint k in FuzzMaps.HashKeys)
            _hash.Update(BitConverter.GetBytes(k), FuzzMaps.InitialValue(k));
    }

    /// <summary>
    /// The error line of a failed load's log: the last line before the stats line ("processed N insns"), or the last
    /// line when the pre-pass failed before any; and the index of the last instruction the log traced before it.
    /// </summary>
    public static (string Message, int Instruction) ErrorOf(string log)
    {
        var lines = log.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        int end = Array.FindLastIndex(lines, l => l.StartsWith("processed ", StringComparison.Ordinal));
        if (end < 0) end = lines.Length;
        string message = end > 0 ? lines[end - 1] : "";
        int insn = -1;
        for (int i = end - 2; i >= 0; i--)
        {
            if (InsnLine().Match(lines[i]) is { Success: true } m)
            {
                insn = int.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
                break;
            }
        }
        return (message, insn);
    }

    [GeneratedRegex(@"^(\d+): \(")]
    private static partial Regex InsnLine();

    public void Dispose()
    {
        _array.Dispose();
        _hash.Dispose();
    }
}
