using Ebpf.Abi;
using Ebpf.Collections;
using Ebpf.Execution;
using Ebpf.Isa;
using Ebpf.Runtime;
using Ebpf.Verification;

namespace Ebpf.Tests.Verification;

/// <summary>
/// may_goto and load-acquire/store-release executed: the checked and unchecked interpreter and the JIT agree, each
/// call frame has its own may_goto budget (the kernel's BPF_MAX_LOOPS, 8M, set in every function's prologue), the
/// acquire/release widths store and load exactly their bytes, and the fixture programs return what the kernel's
/// BPF_PROG_TEST_RUN returns.
/// </summary>
public class MayGotoAndAcquireReleaseRunTests
{
    private const ulong Budget = 8 * 1024 * 1024;

    private static Instruction MayGoto(short off) => new(OpcodeExtras.MayGoto, 0, 0, off, 0);

    private static Instruction Atomic(AccessSize size, byte dst, byte src, short off, int imm) =>
        new(Opcodes.Memory(InstructionClass.Stx, AccessMode.Atomic, size), dst, src, off, imm);

    /// <summary>Runs checked (with room for the loops), unchecked and JIT-compiled; all three must agree.</summary>
    private static ulong RunAll(Instruction[] program, byte[]? memory = null)
    {
        InterpreterOptions Options(ExecutionMode mode, bool jit) => new()
        {
            Name = "t", Mode = mode, Helpers = HelperTable.ForConformance(), Jit = jit, InstructionBudget = 200_000_000,
        };
        ulong unchecked_ = ConformanceRunner.Execute(program, memory ?? [], Options(ExecutionMode.Unchecked, false));
        var jit = Interpreter.Load(program, Options(ExecutionMode.Unchecked, true));
        Assert.True(jit.IsCompiled, jit.CompileFailure);
        Assert.Equal(unchecked_, ConformanceRunner.Execute(program, memory ?? [], Options(ExecutionMode.Unchecked, true)));
        Assert.Equal(unchecked_, ConformanceRunner.Execute(program, memory ?? [], Options(ExecutionMode.Checked, false)));
        return unchecked_;
    }

    [Fact]
    public void A_loop_ends_when_the_frames_budget_is_spent()
    {
        // r0 = 0; l: may_goto out; r0 += 1; goto l; out: exit
        Instruction[] program = [Instruction.Mov64(0, 0), MayGoto(2), Instruction.Alu64(AluOperation.Add, 0, 1), Instruction.Ja(-3), Instruction.Exit()];
        Assert.Equal(Budget, RunAll(program));
    }

    [Fact]
    public void Each_call_frame_has_its_own_budget()
    {
        // main: r6 = 0; l: may_goto out; call spin; r6 += 1; if r6 < 3 goto l; out: r0 = r6; exit
        // spin: r0 = 0; l: may_goto out; r0 += 1; goto l; out: exit
        // With one counter shared by the frames, the first spin would leave main's budget at zero (r0 = 1).
        Instruction[] program =
        [
            Instruction.Mov64(6, 0),
            MayGoto(3),
            new Instruction(Opcodes.Call, 0, (byte)CallSource.Local, 0, 4),
            Instruction.Alu64(AluOperation.Add, 6, 1),
            Instruction.Jump(JumpOperation.Jlt, 6, 3, -4),
            Instruction.Mov64Reg(0, 6),
            Instruction.Exit(),
            Instruction.Mov64(0, 0),
            MayGoto(2),
            Instruction.Alu64(AluOperation.Add, 0, 1),
            Instruction.Ja(-3),
            Instruction.Exit(),
        ];
        Assert.Equal(3ul, RunAll(program));
    }

    [Fact]
    public void Two_calls_each_run_a_full_budget()
    {
        // main: call spin; r6 = r0; call spin; r0 += r6; exit
        Instruction[] program =
        [
            new Instruction(Opcodes.Call, 0, (byte)CallSource.Local, 0, 4),
            Instruction.Mov64Reg(6, 0),
            new Instruction(Opcodes.Call, 0, (byte)CallSource.Local, 0, 2),
            Instruction.Alu64Reg(AluOperation.Add, 0, 6),
            Instruction.Exit(),
            Instruction.Mov64(0, 0),
            MayGoto(2),
            Instruction.Alu64(AluOperation.Add, 0, 1),
            Instruction.Ja(-3),
            Instruction.Exit(),
        ];
        Assert.Equal(2 * Budget, RunAll(program));
    }

    [Fact]
    public void Acquire_and_release_move_exactly_their_width()
    {
        // r2 = 0x1122334455667788; release it at byte 0 (u8), 2 (u16), 4 (u32), 8 (u64) of an 0xff-filled buffer,
        // then acquire each back and combine: r0 = b + h + w + dw.
        var (lo, hi) = Instruction.LoadImm64(2, 0x1122334455667788);
        Instruction[] program =
        [
            lo, hi,
            Atomic(AccessSize.Byte, 1, 2, 0, OpcodeExtras.StoreRelease),
            Atomic(AccessSize.Half, 1, 2, 2, OpcodeExtras.StoreRelease),
            Atomic(AccessSize.Word, 1, 2, 4, OpcodeExtras.StoreRelease),
            Atomic(AccessSize.DoubleWord, 1, 2, 8, OpcodeExtras.StoreRelease),
            Atomic(AccessSize.Byte, 3, 1, 0, OpcodeExtras.LoadAcquire),
            Atomic(AccessSize.Half, 4, 1, 2, OpcodeExtras.LoadAcquire),
            Atomic(AccessSize.Word, 5, 1, 4, OpcodeExtras.LoadAcquire),
            Atomic(AccessSize.DoubleWord, 0, 1, 8, OpcodeExtras.LoadAcquire),
            Instruction.Alu64Reg(AluOperation.Add, 0, 3),
            Instruction.Alu64Reg(AluOperation.Add, 0, 4),
            Instruction.Alu64Reg(AluOperation.Add, 0, 5),
            // The byte after the u8 store is untouched (still 0xff).
            Instruction.LoadMem(AccessSize.Byte, 6, 1, 1),
            Instruction.Alu64Reg(AluOperation.Add, 0, 6),
            Instruction.Exit(),
        ];
        var memory = Enumerable.Repeat((byte)0xff, 16).ToArray();
        Assert.Equal(0x1122334455667788UL + 0x88 + 0x7788 + 0x55667788 + 0xff, RunAll(program, memory));
    }

    [Fact]
    public void Checked_mode_refuses_a_misaligned_acquire()
    {
        Instruction[] program = [Atomic(AccessSize.Word, 0, 1, 2, OpcodeExtras.LoadAcquire), Instruction.Exit()];
        var e = Assert.Throws<BpfException>(() => ConformanceRunner.Execute(program, new byte[16],
            new InterpreterOptions { Name = "t", Mode = ExecutionMode.Checked, Helpers = HelperTable.ForConformance() }));
        Assert.Contains("misaligned load-acquire of size 4", e.Message);
    }

    /// <summary>Message passing across threads: the writer fills a payload then store-releases a flag; a reader that
    /// load-acquires the flag set must see the whole payload (interpreter and JIT, many rounds).</summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public unsafe void Release_publishes_what_was_written_before_it(bool jit)
    {
        // writer (r1 = buffer, r2 = round): *(u64 *)(r1 + 8) = r2; *(u64 *)(r1 + 16) = r2; store_release((u64 *)(r1 + 0), r2)
        Instruction[] writer =
        [
            Instruction.StoreMem(AccessSize.DoubleWord, 1, 2, 8),
            Instruction.StoreMem(AccessSize.DoubleWord, 1, 2, 16),
            Atomic(AccessSize.DoubleWord, 1, 2, 0, OpcodeExtras.StoreRelease),
            Instruction.Mov64(0, 0),
            Instruction.Exit(),
        ];
        // reader: r3 = load_acquire((u64 *)(r1 + 0)); r4 = payload[0]; r5 = payload[1];
        // r0 = (r4 < r3 || r5 < r3) ? 1 (stale payload) : 0
        Instruction[] reader =
        [
            Atomic(AccessSize.DoubleWord, 3, 1, 0, OpcodeExtras.LoadAcquire),
            Instruction.LoadMem(AccessSize.DoubleWord, 4, 1, 8),
            Instruction.LoadMem(AccessSize.DoubleWord, 5, 1, 16),
            Instruction.Mov64(0, 1),
            Instruction.JumpReg(JumpOperation.Jlt, 4, 3, 2),
            Instruction.JumpReg(JumpOperation.Jlt, 5, 3, 1),
            Instruction.Mov64(0, 0),
            Instruction.Exit(),
        ];
        var options = new InterpreterOptions { Name = "mp", Mode = ExecutionMode.Unchecked, Helpers = HelperTable.ForConformance(), Jit = jit };
        var w = Interpreter.Load(writer, options);
        var r = Interpreter.Load(reader, options);
        var buffer = (ulong*)System.Runtime.InteropServices.NativeMemory.AllocZeroed(64);
        try
        {
            const int rounds = 200_000;
            int stale = 0;
            var readerThread = new Thread(() =>
            {
                ulong last = 0;
                while (last < rounds)
                {
                    stale += (int)r.Run(new ExecutionRequest { R1 = (ulong)buffer });
                    last = Volatile.Read(ref buffer[0]);
                }
            });
            readerThread.Start();
            for (ulong round = 1; round <= rounds; round++)
                w.Run(new ExecutionRequest { R1 = (ulong)buffer, R2 = round });
            Assert.True(readerThread.Join(TimeSpan.FromMinutes(1)));
            Assert.Equal(0, stale);
            Assert.Equal((ulong)rounds, buffer[1]);
        }
        finally
        {
            System.Runtime.InteropServices.NativeMemory.Free(buffer);
        }
    }

    [Fact]
    public void A_profile_without_the_instructions_refuses_them_as_the_older_kernels_do()
    {
        var old = new Abi.Profiles.KernelProfile { Name = "pre-6.9" };
        var mayGoto = Verifier.Verify(new VerifierInput
        {
            Instructions = [Instruction.Mov64(0, 0), MayGoto(0), Instruction.Exit()], ProgramType = ProgramType.SocketFilter, Profile = old,
        });
        Assert.Equal("unknown opcode e5", mayGoto.Error);
        Assert.Equal(1, mayGoto.ErrorInstruction);
        // A u64 load-acquire passes the opcode table of a 6.14 kernel and is refused by check_atomic.
        var acquire = Verifier.Verify(new VerifierInput
        {
            Instructions = [Instruction.StoreImm(AccessSize.DoubleWord, 10, -8, 0), Atomic(AccessSize.DoubleWord, 0, 10, -8, OpcodeExtras.LoadAcquire), Instruction.Exit()],
            ProgramType = ProgramType.SocketFilter, Profile = old,
        });
        Assert.Equal("BPF_ATOMIC uses invalid atomic opcode 100", acquire.Error);
        // A byte one is not in that table at all.
        var acquireByte = Verifier.Verify(new VerifierInput
        {
            Instructions = [Instruction.StoreImm(AccessSize.DoubleWord, 10, -8, 0), Atomic(AccessSize.Byte, 0, 10, -8, OpcodeExtras.LoadAcquire), Instruction.Exit()],
            ProgramType = ProgramType.SocketFilter, Profile = old,
        });
        Assert.Equal("unknown opcode d3", acquireByte.Error);
        // The reference profile (6.18) has both.
        Assert.True(Verifier.Verify(new VerifierInput { Instructions = [Instruction.Mov64(0, 0), MayGoto(0), Instruction.Exit()], ProgramType = ProgramType.SocketFilter }).Accepted);
    }

    /// <summary>(program, whether its result is deterministic: may_goto budgets are time-based in the x86 kernel).</summary>
    public static TheoryData<string, string> RunPrograms => new()
    {
        { "may_goto", "counted_sum" },
        { "acquire_release", "stack_dw" },
        { "acquire_release", "stack_byte" },
        { "acquire_release", "map_value_half_word" },
    };

    [Theory]
    [MemberData(nameof(RunPrograms))]
    public void Fixture_programs_return_what_the_kernel_returns(string file, string program)
    {
        if (!Ebpf.Linux.LinuxKernel.IsAvailable) Requirement.Missing(Requirement.Kernel, $"bpf(2) is not usable here: {Ebpf.Linux.LinuxKernel.UnavailableReason}");
        var packet = Ebpf.Tests.Linux.KernelRequirement.Packet(64);
        uint Run(string backend, bool jit)
        {
            using var b = TestBackend.Create(backend);
            if (b.Runtime is { } rt) rt.JitEnabled = jit;
            using var c = b.LoadFixture($"verifier/ver17a/{file}.bpf.o", new Ebpf.Collections.ObjectLoadOptions { ProgramFilter = p => p.Name == program });
            return c.Programs[program].TestRun(new TestRunOptions { DataIn = packet, DataSizeOut = 0 }).ReturnValue;
        }
        uint kernel = Run(Backends.Linux, false);
        Assert.Equal(kernel, Run(Backends.Managed, false));
        Assert.Equal(kernel, Run(Backends.Managed, true));
    }
}
