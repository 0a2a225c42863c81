using System.Runtime.InteropServices;
using Ebpf.Isa;

namespace Ebpf.Execution;

/// <summary>The outcome of one bpf_conformance test.</summary>
/// <param name="File">The test file's path.</param>
/// <param name="Passed">Whether the run matched the expectation.</param>
/// <param name="Expected">"0x…" for a result test, the expected error text for a negative test.</param>
/// <param name="Actual">r0 as "0x…", or null when the run failed.</param>
/// <param name="Error">The error the run ended with (load or execution), if any.</param>
public sealed record ConformanceOutcome(string File, bool Passed, string? Expected, string? Actual, string? Error);

/// <summary>
/// Runs bpf_conformance <c>.data</c> tests in the checked interpreter (cpu v4, helper #5 = identity):
/// the program gets r1 = the test's <c>-- mem</c> bytes (copied to native memory, readable and
/// writable) and r2 = their length.
/// <para>
/// Comparing errors: the suite's <c>-- error</c> texts are the wording of one particular
/// implementation, so they cannot be matched verbatim. A negative test passes when the program is
/// rejected at load or ends with a <see cref="BpfException"/>, i.e. when this engine also refuses it; the
/// expected and actual texts are reported side by side. A result test passes only when r0 matches exactly.
/// </para>
/// </summary>
public static unsafe class ConformanceRunner
{
    /// <summary>Runs one test file (parse errors count as failures, with the error recorded).</summary>
    public static ConformanceOutcome RunFile(string path, InterpreterOptions? options = null)
    {
        ConformanceDataFile test;
        try
        {
            test = ConformanceDataFile.Load(path);
        }
        catch (BpfException e)
        {
            return new ConformanceOutcome(Path.GetFileName(path), false, null, null, e.Message);
        }
        return Run(test, options);
    }

    /// <summary>Runs one parsed bpf_conformance test and compares r0 (or the error) with its expectation.</summary>
    public static ConformanceOutcome Run(ConformanceDataFile test, InterpreterOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(test);
        string file = Path.GetFileName(test.Path);
        string? expected = test.ExpectedError ?? (test.ExpectedResult is { } value ? $"0x{value:x}" : null);
        ulong r0;
        try
        {
            r0 = Execute(test.Instructions, test.Memory, options ?? DefaultOptions(test.Name));
        }
        catch (BpfException e)
        {
            return new ConformanceOutcome(file, test.ExpectedError is not null, expected, null, e.Message);
        }
        string actual = $"0x{r0:x}";
        bool passed = test.ExpectedError is null && test.ExpectedResult == r0;
        return new ConformanceOutcome(file, passed, expected, actual, null);
    }

    /// <summary>Runs every <c>*.data</c> file of a folder, in name order.</summary>
    public static IReadOnlyList<ConformanceOutcome> RunDirectory(string directory, InterpreterOptions? options = null)
    {
        if (!Directory.Exists(directory))
            throw new BpfException(Errno.ENOENT, $"{directory}: no such directory");
        return Directory.EnumerateFiles(directory, "*.data")
            .Order(StringComparer.Ordinal)
            .Select(path => RunFile(path, options))
            .ToList();
    }

    /// <summary>Checked mode, the conformance helpers, the default budget.</summary>
    public static InterpreterOptions DefaultOptions(string name) =>
        new() { Name = name, Mode = ExecutionMode.Checked, Helpers = HelperTable.ForConformance() };

    /// <summary>
    /// Loads and runs a program the way the bpf_conformance runner does: r1 = a native copy of
    /// <paramref name="memory"/> (a registered read/write region named "mem"), r2 = its length.
    /// </summary>
    public static ulong Execute(ReadOnlySpan<Instruction> program, ReadOnlySpan<byte> memory, InterpreterOptions options)
    {
        var interpreter = Interpreter.Load(program, options);
        byte* buffer = memory.Length > 0 ? (byte*)NativeMemory.Alloc((nuint)memory.Length) : null;
        try
        {
            memory.CopyTo(new Span<byte>(buffer, memory.Length));
            var request = new ExecutionRequest { R1 = (ulong)buffer, R2 = (ulong)memory.Length };
            if (buffer != null)
                request.AddRegion(new MemoryRegion((nuint)buffer, (nuint)memory.Length, MemoryAccess.ReadWrite, "mem"));
            return interpreter.Run(request);
        }
        finally
        {
            NativeMemory.Free(buffer);
        }
    }
}

/// <summary>Hex text as the bpf_conformance runner and the CLI exchange it ("0a1b…", spaces/newlines and a 0x prefix allowed).</summary>
public static class HexBytes
{
    /// <summary>
    /// Parses whitespace-separated hex bytes ("00 1f ab"); <paramref name="what"/> names the input in errors.
    /// </summary>
    public static byte[] Parse(string text, string what = "hex")
    {
        ArgumentNullException.ThrowIfNull(text);
        var digits = new System.Text.StringBuilder(text.Length);
        foreach (string token in text.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries))
            digits.Append(token.StartsWith("0x", StringComparison.OrdinalIgnoreCase) ? token[2..] : token);
        if (digits.Length % 2 != 0)
            throw new BpfException(Errno.EINVAL, $"{what}: odd number of hex digits ({digits.Length})");
        try
        {
            return Convert.FromHexString(digits.ToString());
        }
        catch (FormatException)
        {
            throw new BpfException(Errno.EINVAL, $"{what}: not hexadecimal: '{(digits.Length > 40 ? digits.ToString(0, 40) + "…" : digits.ToString())}'");
        }
    }
}
