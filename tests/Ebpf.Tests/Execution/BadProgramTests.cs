using Ebpf.Execution;
using Ebpf.Isa;
using static Ebpf.Tests.Execution.InterpreterTestKit;

namespace Ebpf.Tests.Execution;

/// <summary>Malformed and misbehaving programs end with a BpfException naming the instruction, never a host crash or hang.</summary>
public class BadProgramTests
{
    /// <summary>
    /// The program must be refused both by the structural validator (the default) and by the interpreter's
    /// own decoder (validation off): the decoder is what keeps the unchecked hot loop safe on its own.
    /// Returns the decoder's error; the validator's must name the same errno family and an instruction.
    /// </summary>
    private static BpfException LoadFails(Instruction[] program, ExecutionMode mode = ExecutionMode.Checked)
    {
        var validated = Assert.Throws<BpfException>(() => Load(program, mode));
        Assert.Contains("test: ", validated.Message);
        return Assert.Throws<BpfException>(() => Load(program, mode, validate: false));
    }

    [Fact]
    public void Truncated_stream_is_rejected_with_the_offset() =>
        Assert.Contains("not a multiple of 8", Assert.Throws<BpfException>(() => InstructionStream.Read(new byte[13])).Message);

    [Fact]
    public void Empty_program_is_rejected() => Assert.Equal(Errno.EINVAL, LoadFails([]).Errno);

    [Fact]
    public void Validator_error_keeps_the_kernel_log_line()
    {
        var e = Assert.Throws<BpfException>(() => Load([Instruction.Jump(JumpOperation.Jeq, 1, 0, 5), Instruction.Exit()]));
        Assert.Contains("jump out of range from insn 0 to 6", e.Message);
        Assert.False(string.IsNullOrEmpty(e.Log));
    }

    [Fact]
    public void Lddw_without_second_half()
    {
        var (first, _) = Instruction.LoadImm64(0, 1);
        var e = LoadFails([Instruction.Mov64(0, 0), first]);
        Assert.Equal(Errno.EINVAL, e.Errno);
        Assert.Contains("insn 1", e.Message);
        Assert.Contains("second half", e.Message);
    }

    [Fact]
    public void Lddw_second_half_with_an_opcode()
    {
        var (first, _) = Instruction.LoadImm64(0, 1);
        var e = LoadFails([first, Instruction.Exit(), Instruction.Exit()]);
        Assert.Contains("insn 0", e.Message);
    }

    [Theory]
    [InlineData(0xff)]
    [InlineData(0xe7)] // ALU64 op 0xe0
    [InlineData(0xdf)] // ALU64 END with the register bit
    [InlineData(0x8f)] // ALU64 NEG with register source (reserved)
    [InlineData(0x38)] // LD with DW size and ABS mode: not a legal LD form... (0x38 = ld abs dw)
    [InlineData(0xed)] // JMP op 0xe0 with the register bit (0xe5 is may_goto)
    [InlineData(0x96)] // exit in JMP32
    [InlineData(0x86)] // call in JMP32
    [InlineData(0x0d)] // ja with register source
    public void Unknown_opcode_names_the_instruction(byte opcode)
    {
        var e = LoadFails([Instruction.Mov64(0, 0), new Instruction(opcode, 0, 0, 0, 0), Instruction.Exit()]);
        Assert.Equal(Errno.EINVAL, e.Errno);
        Assert.Contains("insn 1", e.Message);
    }

    [Theory]
    [InlineData(5)]
    [InlineData(-3)]
    public void Jump_out_of_range(short offset)
    {
        var e = LoadFails([Instruction.Jump(JumpOperation.Jeq, 1, 0, offset), Instruction.Exit()]);
        Assert.Contains("jump out of range from insn 0", e.Message);
    }

    [Fact]
    public void Jump_into_the_middle_of_lddw()
    {
        var (first, second) = Instruction.LoadImm64(0, 1);
        var e = LoadFails([Instruction.Ja(1), first, second, Instruction.Exit()]);
        Assert.Contains("middle of ldimm64", e.Message);
    }

    [Fact]
    public void Call_target_out_of_range() => Assert.Contains("outside the program", LoadFails([Instruction.CallLocal(100), Instruction.Exit()]).Message);

    [Fact]
    public void Invalid_register_and_frame_pointer_write()
    {
        // The kernel refuses a register above r10 only when do_check reaches it: the load succeeds, running it traps.
        var program = Load([new Instruction(0xb7, 11, 0, 0, 0), Instruction.Exit()], ExecutionMode.Checked);
        Assert.Contains("invalid instruction", Assert.Throws<BpfException>(() => program.Run()).Message);
        Assert.Contains("frame pointer is read only", LoadFails([Instruction.Mov64(10, 0), Instruction.Exit()]).Message);
    }

    [Fact]
    public void Unresolved_map_reference_is_rejected()
    {
        var (first, second) = Instruction.LoadImm64(1, 3, LoadImm64Source.MapFd);
        Assert.Contains("resolved by the loader", LoadFails([first, second, Instruction.Exit()]).Message);
    }

    [Theory]
    [InlineData(ExecutionMode.Checked)]
    [InlineData(ExecutionMode.Unchecked)]
    public void Falling_off_the_end(ExecutionMode mode)
    {
        Instruction[] slots = [Instruction.Mov64(0, 1), Instruction.Jump(JumpOperation.Jeq, 0, 2, -2)];
        // The validator refuses it at load, like the kernel; without validation it faults when it gets there.
        Assert.Contains("last insn is not an exit or jmp", Assert.Throws<BpfException>(() => Load(slots, mode)).Message);
        var program = Load(slots, mode, validate: false);
        var e = Assert.Throws<BpfException>(() => program.Run());
        Assert.Contains("insn 2: fell off the end", e.Message);
    }

    [Theory]
    [InlineData(ExecutionMode.Checked)]
    [InlineData(ExecutionMode.Unchecked)]
    public void Unbounded_recursion_stops_at_eight_frames(ExecutionMode mode)
    {
        // f: r6 += 1 (counts frames in a callee-saved register... that is restored), so count in r0 via r1 path instead.
        var program = Load(Asm("mov %r0, 0\ncall local f\nexit\nf:\nadd %r0, 1\ncall local f\nexit"), mode);
        var e = Assert.Throws<BpfException>(() => program.Run());
        Assert.Equal(Errno.E2BIG, e.Errno);
        Assert.Contains("insn 4", e.Message);
        Assert.Contains("too deep", e.Message);
    }

    [Fact]
    public void Seven_nested_calls_are_allowed()
    {
        // main -> f1 -> ... -> f7: 8 frames in all.
        string asm = "mov %r0, 0\ncall local f1\nexit\n";
        for (int k = 1; k <= 7; k++)
            asm += $"f{k}:\nadd %r0, 1\n" + (k < 7 ? $"call local f{k + 1}\n" : "") + "exit\n";
        Assert.Equal(7UL, RunBoth(asm));
    }

    [Fact]
    public void Out_of_bounds_read_in_checked_mode_names_instruction_size_and_address()
    {
        var e = Assert.Throws<BpfException>(() => RunChecked(Asm("mov %r0, 0\nldxw %r0, [%r1+6]\nexit"), new byte[8]));
        Assert.Equal(Errno.EFAULT, e.Errno);
        Assert.Matches(@"invalid memory access at insn 1: read access of size 4 at 0x[0-9a-f]+ outside any region", e.Message);
    }

    [Fact]
    public void Wild_pointer_write_is_stopped_before_touching_memory()
    {
        var e = Assert.Throws<BpfException>(() => RunChecked(Asm("lddw %r1, 0x10\nstdw [%r1+0], 1\nexit")));
        Assert.Contains("write access of size 8 at 0x10 outside any region", e.Message);
        Assert.Contains("insn 2", e.Message);
    }

    [Fact]
    public void Stack_access_below_the_frame_is_rejected()
    {
        var e = Assert.Throws<BpfException>(() => RunChecked(Asm("stdw [%r10-520], 1\nmov %r0, 0\nexit")));
        Assert.Contains("outside any region", e.Message);
        var above = Assert.Throws<BpfException>(() => RunChecked(Asm("ldxdw %r0, [%r10+0]\nexit")));
        Assert.Contains("read access of size 8", above.Message);
    }

    [Fact]
    public void Write_to_read_only_region_is_rejected()
    {
        using var buffer = new NativeBuffer(16);
        var program = Load(Asm("stw [%r1+0], 1\nmov %r0, 0\nexit"));
        var request = new ExecutionRequest { R1 = buffer.Address }.AddRegion(buffer.Region(MemoryAccess.Read, "ctx"));
        var e = Assert.Throws<BpfException>(() => program.Run(request));
        Assert.Contains("write access of size 4", e.Message);
        Assert.Contains("ctx, which is read-only", e.Message);
        Assert.Equal(0, buffer.Span[0]);
    }

    [Fact]
    public void Misaligned_atomic_is_rejected_in_checked_mode()
    {
        var e = Assert.Throws<BpfException>(() => RunChecked(Asm("mov %r2, 1\nlock add [%r1+1], %r2\nmov %r0, 0\nexit"), new byte[16]));
        Assert.Contains("misaligned atomic", e.Message);
    }

    [Fact]
    public void Infinite_loop_ends_with_the_budget()
    {
        var program = Load(Asm("mov %r0, 0\nloop:\nadd %r0, 1\nja loop\nexit"), budget: 10_000);
        var e = Assert.Throws<BpfException>(() => program.Run());
        Assert.Equal(Errno.ETIME, e.Errno);
        Assert.Contains("budget of 10000", e.Message);
    }

    [Fact]
    public void Budget_can_be_overridden_per_request()
    {
        var program = Load(Asm("mov %r0, 0\nloop:\nadd %r0, 1\njlt %r0, 100, loop\nexit"));
        Assert.Equal(100UL, program.Run(new ExecutionRequest()));
        Assert.Throws<BpfException>(() => program.Run(new ExecutionRequest { InstructionBudget = 50 }));
    }

    [Fact]
    public void Unknown_helper_is_an_error_at_the_call()
    {
        var e = Assert.Throws<BpfException>(() => RunChecked(Asm("mov %r0, 0\ncall 77\nexit")));
        Assert.Contains("insn 1: invalid func unknown#77", e.Message);
    }

    [Fact]
    public void Callx_to_garbage_is_an_error()
    {
        var e = Assert.Throws<BpfException>(() => RunChecked(Asm("lddw %r2, 0x123456789\ncallx %r2\nexit")));
        Assert.Contains("neither a function reference", e.Message);
    }

    [Fact]
    public void Ld_abs_without_an_skb_hook_is_an_error()
    {
        var e = Assert.Throws<BpfException>(() => RunChecked(Asm("ldabsb 0\nexit")));
        Assert.Equal(Errno.EOPNOTSUPP, e.Errno);
        Assert.Contains("insn 0", e.Message);
    }

    [Fact]
    public void Random_programs_never_crash_the_host_in_checked_mode()
    {
        // Fuzz: random slots with valid-looking opcodes; each either loads and runs (to r0, a fault or the
        // budget) or is rejected. Any other exception type, or a crash, fails the test.
        var random = new Random(12345);
        byte[] opcodes = [0x07, 0x0f, 0x17, 0xb7, 0xbf, 0x61, 0x69, 0x71, 0x79, 0x62, 0x63, 0x7a, 0x7b, 0x05, 0x15, 0x1d, 0x2d, 0x85, 0x95, 0xdb, 0xc3, 0x18, 0x3f, 0x9f, 0x8d];
        for (int round = 0; round < 3000; round++)
        {
            var program = new Instruction[random.Next(1, 12)];
            for (int k = 0; k < program.Length; k++)
                program[k] = new Instruction(opcodes[random.Next(opcodes.Length)], (byte)random.Next(11), (byte)random.Next(11),
                    (short)random.Next(-16, 16), random.Next(-64, 64));
            try
            {
                ConformanceRunner.Execute(program, new byte[64], new InterpreterOptions { Helpers = HelperTable.ForConformance(), InstructionBudget = 100_000 });
            }
            catch (BpfException)
            {
            }
        }
    }
}
