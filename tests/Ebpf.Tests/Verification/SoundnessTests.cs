using System.Runtime.InteropServices;
using Ebpf.Abi;
using Ebpf.Execution;
using Ebpf.Isa;
using Ebpf.Verification;

namespace Ebpf.Tests.Verification;

/// <summary>
/// Soundness: a program the verifier accepts must run in the checked interpreter without a fault. The conformance
/// suite's programs take r1 = a memory buffer, which is what a BPF_PROG_TYPE_SYSCALL program's context is (a
/// read-write blob the verifier lets the program access at constant offsets anywhere in [0, 65535)). Each is verified
/// as a syscall program and, when accepted, run with r1 = a 65535-byte buffer holding the test's memory (so every
/// access the verifier allowed is in bounds) and the checked interpreter's region checks on. Any fault is a verifier bug.
/// </summary>
public class SoundnessTests(ITestOutputHelper output)
{
    private const int SyscallCtxSize = 65535;

    [Fact]
    public unsafe void Accepted_conformance_programs_run_without_faults()
    {
        string dir = Path.Combine(SharedData.Require("conformance"), "tests");
        int accepted = 0, rejected = 0;
        var faults = new List<string>();
        byte* buffer = (byte*)NativeMemory.AllocZeroed(SyscallCtxSize);
        try
        {
            foreach (string path in Directory.EnumerateFiles(dir, "*.data").Order(StringComparer.Ordinal))
            {
                ConformanceDataFile test;
                try { test = ConformanceDataFile.Load(path); } catch (BpfException) { continue; }
                var result = Verifier.Verify(new VerifierInput
                {
                    Instructions = test.Instructions, ProgramType = ProgramType.Syscall, Sleepable = true, Name = test.Name,
                });
                if (!result.Accepted) { rejected++; continue; }
                accepted++;
                var span = new Span<byte>(buffer, SyscallCtxSize);
                span.Clear();
                test.Memory.AsSpan(0, Math.Min(test.Memory.Length, SyscallCtxSize)).CopyTo(span);
                try
                {
                    var interpreter = Interpreter.Load(test.Instructions, ConformanceRunner.DefaultOptions(test.Name));
                    var request = new ExecutionRequest { R1 = (ulong)buffer, R2 = (ulong)test.Memory.Length };
                    request.AddRegion(new MemoryRegion((nuint)buffer, SyscallCtxSize, MemoryAccess.ReadWrite, "ctx"));
                    interpreter.Run(request);
                }
                catch (BpfException e)
                {
                    faults.Add($"{test.Name}: {e.Message}");
                }
            }
        }
        finally
        {
            NativeMemory.Free(buffer);
        }
        output.WriteLine($"conformance programs: {accepted} accepted and run, {rejected} rejected, {faults.Count} faults");
        foreach (var f in faults) output.WriteLine("FAULT " + f);
        Assert.True(accepted > 50, $"only {accepted} conformance programs were accepted: the test would prove little");
        Assert.True(faults.Count == 0, "accepted programs faulted in the checked interpreter (verifier bugs):\n" + string.Join("\n", faults));
    }
}
