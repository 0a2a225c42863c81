using System.Runtime.InteropServices;
using Ebpf.Execution;
using Ebpf.Isa;

namespace Ebpf.Tests.Execution;

/// <summary>Runs small programs in both modes and checks that they agree.</summary>
internal static unsafe class InterpreterTestKit
{
    public static Instruction[] Asm(string source) => Assembler.Assemble(source, "test");

    public static Interpreter Load(Instruction[] program, ExecutionMode mode = ExecutionMode.Checked, HelperTable? helpers = null,
        long budget = InterpreterOptions.DefaultInstructionBudget, bool validate = true) =>
        Interpreter.Load(program, new InterpreterOptions
        {
            Name = "test",
            Mode = mode,
            Helpers = helpers ?? HelperTable.ForConformance(),
            InstructionBudget = budget,
            Validation = validate ? ValidatorOptions.Conformance : null,
        });

    /// <summary>
    /// Runs in checked mode, unchecked mode and JIT-compiled (with a fresh copy of <paramref name="memory"/> each);
    /// all must give the same r0.
    /// </summary>
    public static ulong RunBoth(Instruction[] program, byte[]? memory = null, HelperTable? helpers = null)
    {
        ulong checkedResult = ConformanceRunner.Execute(program, memory ?? [], Options(ExecutionMode.Checked, helpers));
        ulong uncheckedResult = ConformanceRunner.Execute(program, memory ?? [], Options(ExecutionMode.Unchecked, helpers));
        Assert.Equal(checkedResult, uncheckedResult);
        ulong jitResult = ConformanceRunner.Execute(program, memory ?? [], Options(ExecutionMode.Unchecked, helpers, jit: true));
        Assert.Equal(checkedResult, jitResult);
        return checkedResult;
    }

    public static ulong RunBoth(string asm, byte[]? memory = null, HelperTable? helpers = null) => RunBoth(Asm(asm), memory, helpers);

    public static ulong RunChecked(Instruction[] program, byte[]? memory = null, HelperTable? helpers = null) =>
        ConformanceRunner.Execute(program, memory ?? [], Options(ExecutionMode.Checked, helpers));

    private static InterpreterOptions Options(ExecutionMode mode, HelperTable? helpers, bool jit = false) =>
        new() { Name = "test", Mode = mode, Helpers = helpers ?? HelperTable.ForConformance(), Jit = jit };

    /// <summary>Native memory freed on dispose.</summary>
    public sealed class NativeBuffer : IDisposable
    {
        public NativeBuffer(int length)
        {
            Length = length;
            Pointer = (byte*)NativeMemory.AllocZeroed((nuint)length);
        }

        public byte* Pointer { get; private set; }
        public int Length { get; }
        public ulong Address => (ulong)Pointer;
        public Span<byte> Span => new(Pointer, Length);
        public MemoryRegion Region(MemoryAccess access, string name = "buf") => new((nuint)Pointer, (nuint)Length, access, name);

        public void Dispose()
        {
            NativeMemory.Free(Pointer);
            Pointer = null;
        }
    }
}
