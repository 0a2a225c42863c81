using System.Buffers.Binary;
using Ebpf.Execution;
using static Ebpf.Tests.Execution.InterpreterTestKit;

namespace Ebpf.Tests.Execution;

/// <summary>One loaded program, many threads: no shared mutable interpreter state, real atomics.</summary>
public class ConcurrencyTests
{
    [Theory]
    [InlineData(ExecutionMode.Checked)]
    [InlineData(ExecutionMode.Unchecked)]
    public void Same_program_on_many_threads_gives_each_its_own_result(ExecutionMode mode)
    {
        // Uses the stack, a bpf-to-bpf call and a helper; the result depends only on the thread's own input.
        var helpers = new HelperTable().Register(1, (r1, _, _, _, _) => r1 ^ (ulong)(InvocationContext.Current!.State is int k ? k : -1));
        var program = Load(Asm("""
            mov %r6, %r1
            stxdw [%r10-8], %r1
            call local f
            ldxdw %r1, [%r10-8]
            add %r0, %r1
            exit
            f:
            mov %r1, %r6
            mul %r1, 3
            stxdw [%r10-8], %r1
            call 1
            ldxdw %r2, [%r10-8]
            add %r0, %r2
            exit
            """), mode, helpers);
        var errors = new System.Collections.Concurrent.ConcurrentQueue<string>();
        var threads = Enumerable.Range(0, 4).Select(t => new Thread(() =>
        {
            for (int k = 0; k < 20_000; k++)
            {
                ulong input = (ulong)(t * 1_000_000 + k);
                ulong r0 = program.Run(new ExecutionRequest { R1 = input, State = k });
                ulong expected = ((input * 3) ^ (ulong)k) + input * 3 + input;
                if (r0 != expected)
                    errors.Enqueue($"thread {t} iteration {k}: {r0} != {expected}");
            }
        })).ToList();
        threads.ForEach(t => t.Start());
        threads.ForEach(t => t.Join());
        Assert.Empty(errors);
    }

    [Theory]
    [InlineData(ExecutionMode.Checked)]
    [InlineData(ExecutionMode.Unchecked)]
    public void Atomic_add_and_cmpxchg_are_atomic_across_threads(ExecutionMode mode)
    {
        using var counter = new NativeBuffer(16);
        // [0]: lock add 1; [8]: cmpxchg-based increment loop (retried while the value cmpxchg saw differs
        // from the one it expected; re-reading memory to decide would lose increments to other threads).
        var program = Load(Asm("""
            mov %r2, 1
            lock add [%r1+0], %r2
            retry:
            ldxdw %r0, [%r1+8]
            mov %r5, %r0
            mov %r3, %r0
            add %r3, 1
            lock cmpxchg [%r1+8], %r3
            jne %r0, %r5, retry
            mov %r0, 0
            exit
            """), mode);
        const int perThread = 20_000;
        var threads = Enumerable.Range(0, 4).Select(_ => new Thread(() =>
        {
            var request = new ExecutionRequest { R1 = counter.Address }.AddRegion(counter.Region(MemoryAccess.ReadWrite));
            for (int k = 0; k < perThread; k++)
                program.Run(request);
        })).ToList();
        threads.ForEach(t => t.Start());
        threads.ForEach(t => t.Join());
        Assert.Equal(4UL * perThread, BinaryPrimitives.ReadUInt64LittleEndian(counter.Span));
        Assert.Equal(4UL * perThread, BinaryPrimitives.ReadUInt64LittleEndian(counter.Span[8..]));
    }
}
