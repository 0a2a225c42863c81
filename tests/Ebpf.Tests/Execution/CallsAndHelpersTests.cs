using System.Buffers.Binary;
using Ebpf.Execution;
using Ebpf.Isa;
using static Ebpf.Tests.Execution.InterpreterTestKit;

namespace Ebpf.Tests.Execution;

public unsafe class CallsAndHelpersTests
{
    private static ulong Sum5(ulong a, ulong b, ulong c, ulong d, ulong e) => a + 10 * b + 100 * c + 1000 * d + 10000 * e;

    [Fact]
    public void Helper_by_function_pointer_gets_r1_to_r5()
    {
        var helpers = new HelperTable().Register(1, &Sum5, "sum5");
        Assert.Equal("sum5", helpers.NameOf(1));
        Assert.Equal(54321UL, RunBoth("mov %r1, 1\nmov %r2, 2\nmov %r3, 3\nmov %r4, 4\nmov %r5, 5\ncall 1\nexit", helpers: helpers));
    }

    [Fact]
    public void Helper_sees_its_invocation_context_and_state()
    {
        object? seenState = null;
        Interpreter? seenProgram = null;
        var helpers = new HelperTable().Register(7, (_, _, _, _, _) =>
        {
            seenState = InvocationContext.Current!.State;
            seenProgram = InvocationContext.Current.Program;
            return 42;
        });
        var program = Load(Asm("call 7\nexit"), helpers: helpers);
        var state = new object();
        Assert.Equal(42UL, program.Run(new ExecutionRequest { State = state }));
        Assert.Same(state, seenState);
        Assert.Same(program, seenProgram);
        Assert.Null(InvocationContext.Current);
    }

    [Fact]
    public void Callee_saved_registers_and_separate_stack_frames()
    {
        // The caller keeps r6-r9 and a value on its stack; the callee clobbers r6-r9 and its own r10-8.
        string asm = """
            mov %r6, 6
            mov %r7, 7
            mov %r8, 8
            mov %r9, 9
            stdw [%r10-8], 100
            call local f
            ldxdw %r1, [%r10-8]
            add %r0, %r1
            add %r0, %r6
            add %r0, %r7
            add %r0, %r8
            add %r0, %r9
            exit
            f:
            stdw [%r10-8], 1000
            mov %r6, 0
            mov %r7, 0
            mov %r8, 0
            mov %r9, 0
            ldxdw %r0, [%r10-8]
            exit
            """;
        Assert.Equal(1000UL + 100 + 6 + 7 + 8 + 9, RunBoth(asm));
    }

    [Fact]
    public void Callee_may_use_a_pointer_to_the_callers_stack()
    {
        string asm = "stdw [%r10-8], 5\nmov %r1, %r10\nadd %r1, -8\ncall local f\nldxdw %r0, [%r10-8]\nexit\nf:\nldxdw %r2, [%r1+0]\nadd %r2, 1\nstxdw [%r1+0], %r2\nexit";
        Assert.Equal(6UL, RunBoth(asm));
    }

    private static Instruction[] ProgramWithFunctionReference(Instruction call) =>
    [
        // r2 = &f (f is at index 7: pc 0 + 1 + 6), r1 = 20; callx/callback; r0 += 1
        .. Pair(Instruction.LoadImm64(2, 6, LoadImm64Source.Function)),
        Instruction.Mov64(1, 20),
        call,
        Instruction.Alu64(AluOperation.Add, 0, 1),
        Instruction.Exit(),
        Instruction.Exit(), // padding, never reached
        // f: r0 = r1 * 2
        Instruction.Mov64Reg(0, 1),
        Instruction.Alu64(AluOperation.Mul, 0, 2),
        Instruction.Exit(),
    ];

    private static Instruction[] Pair((Instruction First, Instruction Second) p) => [p.First, p.Second];

    [Fact]
    public void Callx_through_a_function_reference()
    {
        var program = ProgramWithFunctionReference(new Instruction(Opcodes.Callx, 2, 0, 0, 0));
        Assert.Equal(41UL, RunBoth(program));
    }

    [Fact]
    public void Helper_calls_back_into_the_program()
    {
        // Helper 9 behaves like bpf_loop: calls the callback in r2 three times with r1 = i, sums r0.
        var helpers = new HelperTable().Register(9, (r1, r2, _, _, _) =>
        {
            var context = InvocationContext.Current!;
            ulong sum = 0;
            for (ulong k = 0; k < 3; k++)
                sum += context.CallFunction(r2, r1 + k);
            return sum;
        });
        var program = ProgramWithFunctionReference(Instruction.CallHelper(9));
        Assert.Equal(2 * (20UL + 21 + 22) + 1, RunBoth(program, helpers: helpers));
    }

    [Fact]
    public void Tail_call_replaces_the_program_and_stops_after_33()
    {
        // Fake prog array: helper 12 (bpf_tail_call) looks up index r3 in a list.
        var array = new List<Interpreter>();
        var helpers = new HelperTable().Register(12, (_, _, r3, _, _) =>
        {
            if (r3 < (ulong)array.Count && InvocationContext.Current!.TryTailCall(array[(int)r3]))
                return 0;
            return unchecked((ulong)-2); // the kernel: the call fails, the program continues
        }, "tail_call");
        // Each run increments the u64 at ctx+0 and tail-calls itself; when that fails it returns the count.
        var program = Load(Asm("""
            ldxdw %r2, [%r1+0]
            add %r2, 1
            stxdw [%r1+0], %r2
            mov %r3, 0
            call 12
            ldxdw %r0, [%r1+0]
            exit
            """), helpers: helpers);
        array.Add(program);
        using var ctx = new NativeBuffer(8);
        ulong r0 = program.Run(new ExecutionRequest { R1 = ctx.Address }.AddRegion(ctx.Region(MemoryAccess.ReadWrite, "ctx")));
        Assert.Equal(34UL, r0); // the entry run plus 33 tail calls
    }

    [Fact]
    public void Tail_call_target_gets_ctx_in_r1_and_its_own_helpers()
    {
        var targetHelpers = new HelperTable().Register(3, (r1, _, _, _, _) => r1 + 1);
        var target = Load(Asm("call 3\nexit"), helpers: targetHelpers);
        var helpers = new HelperTable().Register(12, (_, _, _, _, _) => InvocationContext.Current!.TryTailCall(target) ? 0UL : 1UL);
        var entry = Load(Asm("mov %r1, 500\ncall 12\nmov %r0, 7\nexit"), helpers: helpers);
        Assert.Equal(501UL, entry.Run());
    }

    private sealed class FakeSkb(byte[] packet) : ILegacyPacketAccess
    {
        public bool TryLoad(ulong skb, long offset, int size, out uint value)
        {
            value = 0;
            if (offset < 0 || offset + size > packet.Length)
                return false;
            for (int k = 0; k < size; k++)
                value = (value << 8) | packet[offset + k];
            return true;
        }
    }

    [Fact]
    public void Ld_abs_and_ld_ind_through_the_skb_hook()
    {
        var skb = new FakeSkb([0x12, 0x34, 0x56, 0x78, 0x9a]);
        var program = Load(Asm("ldabsh 1\nmov %r6, %r0\nmov %r7, 1\nldindw %r7, 0\nadd %r0, %r6\nexit"));
        Assert.Equal(0x3456UL + 0x3456789aUL, program.Run(new ExecutionRequest { PacketAccess = skb }));
        var outOfPacket = Load(Asm("mov %r0, 9\nldabsw 3\nmov %r0, 1\nexit"));
        Assert.Equal(0UL, outOfPacket.Run(new ExecutionRequest { PacketAccess = skb }));
    }

    [Fact]
    public void Helper_registered_region_becomes_accessible()
    {
        using var value = new NativeBuffer(8);
        BinaryPrimitives.WriteUInt64LittleEndian(value.Span, 99);
        var helpers = new HelperTable().Register(1, (_, _, _, _, _) =>
        {
            InvocationContext.Current!.AddRegion(value.Region(MemoryAccess.ReadWrite, "map value"));
            return value.Address;
        });
        var program = Load(Asm("call 1\nldxdw %r0, [%r0+0]\nexit"), helpers: helpers);
        Assert.Equal(99UL, program.Run());
        Assert.Equal(99UL, program.Run()); // regions do not leak between invocations: re-registered by the helper
        var noRegion = Load(Asm("lddw %r0, 0\ncall 2\nldxdw %r0, [%r0+0]\nexit"), helpers: new HelperTable().Register(2, (_, _, _, _, _) => value.Address));
        Assert.Throws<BpfException>(() => noRegion.Run());
    }
}
