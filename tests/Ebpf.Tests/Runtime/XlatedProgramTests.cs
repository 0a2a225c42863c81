using Ebpf.Abi;
using Ebpf.Isa;
using Ebpf.Linux;
using Ebpf.Runtime;
using Ebpf.Runtime.Objects;
using Ebpf.Runtime.ProgramTypes;
using Ebpf.Tests.Linux;
using static Ebpf.Isa.Instruction;

namespace Ebpf.Tests.Runtime;

/// <summary>
/// The verifier's translated program is what runs (issue 12). Each program runs in the checked interpreter, the
/// unchecked interpreter and the JIT, and on the live kernel's BPF_PROG_TEST_RUN when bpf(2) is usable: all four
/// must return the same value. The programs are the user's reproducers of the old flow-insensitive ctx rewriter.
/// </summary>
public class XlatedProgramTests(ITestOutputHelper output)
{
    private static readonly ProgramTypeInfo Xdp = ProgramTypeInfo.Get(ProgramType.Xdp);

    /// <summary>
    /// ctx is spilled through r10, then the same slot is overwritten through a copy of r10 with a stack pointer
    /// and refilled. The old rewriter only saw stores through r10 itself, kept "ctx" for the slot and turned the
    /// stack load at insn 9 into <c>ldxdw r0,[r3+24]</c> (past the BPF stack). The verifier knows r3 is the stack.
    /// </summary>
    internal static Instruction[] SpillThroughR10Copy() =>
    [
        Mov64Reg(6, 10),                               // 0: r6 = r10
        StoreMem(AccessSize.DoubleWord, 10, 1, -8),    // 1: *(u64 *)(r10 - 8) = r1 (ctx)
        StoreImm(AccessSize.Word, 10, -16, 0x1234),    // 2: *(u32 *)(r10 - 16) = 0x1234
        StoreImm(AccessSize.Word, 10, -12, 0),         // 3: *(u32 *)(r10 - 12) = 0
        Mov64Reg(2, 10),                               // 4: r2 = r10
        Alu64(AluOperation.Add, 2, -16),               // 5: r2 += -16
        StoreMem(AccessSize.DoubleWord, 6, 2, -8),     // 6: *(u64 *)(r6 - 8) = r2 (the slot now holds fp-16)
        LoadMem(AccessSize.DoubleWord, 3, 10, -8),     // 7: r3 = *(u64 *)(r10 - 8)
        LoadMem(AccessSize.Word, 4, 1, 0),             // 8: r4 = ctx->data
        LoadMem(AccessSize.Word, 0, 3, 0),             // 9: r0 = *(u32 *)(r3 + 0): a stack load
        LoadMem(AccessSize.Word, 5, 1, 4),             // 10: r5 = ctx->data_end
        Alu64(AluOperation.Add, 4, 1),                 // 11: r4 += 1
        JumpReg(JumpOperation.Jgt, 4, 5, 1),           // 12: if r4 > r5 goto +1 (empty packet)
        Alu64(AluOperation.Add, 0, 1),                 // 13: r0 += 1
        Exit(),                                        // 14
    ];

    /// <summary>
    /// The ctx load behind a branch that constants decide: on the only path that runs, r6 is ctx. The dead side
    /// makes r6 a stack pointer, so the old must-analysis gave up and left <c>*(u32 *)(r6 + 0)</c> as written:
    /// it read 0 from the user struct and the packet load dereferenced 0.
    /// </summary>
    internal static Instruction[] CtxLoadBehindConstantBranch() =>
    [
        Mov64Reg(6, 1),                                // 0: r6 = r1
        Mov64(2, 0),                                   // 1: r2 = 0
        Jump(JumpOperation.Jeq, 2, 0, 2),              // 2: if r2 == 0 goto +2 (always)
        Mov64Reg(6, 10),                               // 3: dead
        Alu64(AluOperation.Add, 6, -8),                // 4: dead
        LoadMem(AccessSize.Word, 2, 6, 0),             // 5: r2 = ctx->data
        LoadMem(AccessSize.Word, 3, 6, 4),             // 6: r3 = ctx->data_end
        Mov64(0, 0),                                   // 7: r0 = 0
        Mov64Reg(4, 2),                                // 8: r4 = r2
        Alu64(AluOperation.Add, 4, 1),                 // 9: r4 += 1
        JumpReg(JumpOperation.Jgt, 4, 3, 1),           // 10: if r4 > r3 goto +1
        LoadMem(AccessSize.Byte, 0, 2, 0),             // 11: r0 = *(u8 *)(r2 + 0)
        Exit(),                                        // 12
    ];

    /// <summary>
    /// The variant that aborted the process: ctx is spilled through a copy of r10 and filled through r10, which the
    /// old rewriter did not follow, so <c>ctx->data</c> through the filled register stayed a 4-byte load of the user
    /// struct (0), passed the bounds check against the real data_end, and the JIT dereferenced 0.
    /// </summary>
    internal static Instruction[] SpillThroughCopyFillThroughR10() =>
    [
        Mov64Reg(6, 10),                               // 0: r6 = r10
        StoreMem(AccessSize.DoubleWord, 6, 1, -8),     // 1: *(u64 *)(r6 - 8) = r1
        LoadMem(AccessSize.DoubleWord, 3, 10, -8),     // 2: r3 = *(u64 *)(r10 - 8): ctx
        LoadMem(AccessSize.Word, 2, 3, 0),             // 3: r2 = ctx->data through the filled copy
        LoadMem(AccessSize.Word, 4, 1, 4),             // 4: r4 = ctx->data_end
        Mov64(0, 0),                                   // 5
        Mov64Reg(5, 2),                                // 6
        Alu64(AluOperation.Add, 5, 1),                 // 7
        JumpReg(JumpOperation.Jgt, 5, 4, 1),           // 8
        LoadMem(AccessSize.Byte, 0, 2, 0),             // 9: r0 = first packet byte
        Exit(),                                        // 10
    ];

    private static readonly byte[] Packet = [0x9c, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13];

    [Fact]
    public void Spill_through_a_copy_of_r10_runs_the_stack_load_in_every_engine_and_matches_the_kernel()
    {
        var results = RunEverywhere(SpillThroughR10Copy(), Packet, out var xlated);
        Assert.All(results, r => Assert.Equal($"{r.Engine}: {0x1235}", r.ToString()));
        Assert.Equal(LoadMem(AccessSize.Word, 0, 3, 0), xlated[9]); // a stack load stays a stack load
        Assert.Equal(LoadMem(AccessSize.DoubleWord, 4, 1, ProgramTypeInfo.XdpDataSlot), xlated[8]);
        Assert.Equal(LoadMem(AccessSize.DoubleWord, 5, 1, ProgramTypeInfo.XdpDataEndSlot), xlated[10]);
    }

    [Fact]
    public void Ctx_filled_through_r10_after_a_spill_through_a_copy_reads_the_packet_in_every_engine()
    {
        var results = RunEverywhere(SpillThroughCopyFillThroughR10(), Packet, out var xlated);
        Assert.All(results, r => Assert.Equal($"{r.Engine}: {0x9c}", r.ToString()));
        Assert.Equal(LoadMem(AccessSize.DoubleWord, 2, 3, ProgramTypeInfo.XdpDataSlot), xlated[3]);
    }

    [Fact]
    public void Ctx_load_behind_a_constant_branch_is_converted_and_the_dead_side_removed()
    {
        var results = RunEverywhere(CtxLoadBehindConstantBranch(), Packet, out var xlated);
        Assert.All(results, r => Assert.Equal($"{r.Engine}: {0x9c}", r.ToString()));
        // The hard-wired jump (ja +2) lands on its successor once insns 3-4 are gone, and is removed too.
        Assert.Equal(10, xlated.Length);
        Assert.Equal(LoadMem(AccessSize.DoubleWord, 2, 6, ProgramTypeInfo.XdpDataSlot), xlated[2]);
        Assert.Equal(JumpReg(JumpOperation.Jgt, 4, 3, 1), xlated[7]);
    }

    [Fact]
    public void Dead_code_removal_keeps_the_kernel_xlated_length_for_the_constant_branch_program()
    {
        KernelRequirement.Require();
        using var kernel = KernelProgram.Load(new ProgramLoadAttributes { Type = ProgramType.Xdp, Instructions = CtxLoadBehindConstantBranch(), Name = "dead_const" });
        var kernelXlated = kernel.GetTranslatedInstructions();
        using var ours = new BpfRuntime().LoadProgram(new ProgramDefinition(ProgramType.Xdp, CtxLoadBehindConstantBranch(), "dead_const"));
        Assert.Equal(kernelXlated.Length, ours.Program.Instructions.Length);
        // Same shape, instruction by instruction, except where the kernel's xdp_buff layout differs from ours.
        for (int i = 0; i < kernelXlated.Length; i++)
            if (kernelXlated[i].Class != InstructionClass.Ldx || kernelXlated[i].Src != 6)
                Assert.Equal(kernelXlated[i], ours.Program.Instructions[i]);
    }

    /// <summary>A static function called only from dead code is removed with its call (adjust_subprog_starts_after_remove).</summary>
    internal static Instruction[] DeadCallToStaticFunction() =>
    [
        Mov64(0, 7),                                   // 0
        Jump(JumpOperation.Jne, 0, 0, 1),              // 1: always taken
        CallLocal(1),                                  // 2: dead call of 4
        Exit(),                                        // 3
        Mov64(0, 3),                                   // 4: the function, never called
        Exit(),                                        // 5
    ];

    [Fact]
    public void A_function_only_dead_code_calls_is_removed_like_the_kernel_removes_it()
    {
        var results = RunEverywhere(DeadCallToStaticFunction(), Packet, out var xlated);
        Assert.All(results, r => Assert.Equal($"{r.Engine}: 7", r.ToString()));
        Assert.Equal([Mov64(0, 7), Exit()], xlated);
        using var ours = new BpfRuntime().LoadProgram(new ProgramDefinition(ProgramType.Xdp, DeadCallToStaticFunction(), "deadcall"));
        var verified = ours.Program.Verification!.Program!;
        Assert.Single(verified.Functions);
        Assert.Empty(verified.Calls);
        if (!LinuxKernel.IsAvailable) Requirement.Missing(Requirement.Kernel, $"the kernel half: bpf(2) is not usable here: {LinuxKernel.UnavailableReason}");
        using var kernel = KernelProgram.Load(new ProgramLoadAttributes { Type = ProgramType.Xdp, Instructions = DeadCallToStaticFunction(), Name = "deadcall" });
        Assert.Equal(kernel.GetTranslatedInstructions(), xlated);
    }

    /// <summary>The engines' results for one program and packet, plus the kernel's when bpf(2) is usable.</summary>
    private List<EngineResult> RunEverywhere(Instruction[] program, byte[] packet, out Instruction[] xlated)
    {
        var results = new List<EngineResult>();
        var checkedRuntime = new BpfRuntime();
        using (var p = checkedRuntime.LoadProgram(new ProgramDefinition(ProgramType.Xdp, program, "repro"), options: new ProgramLoadOptions { AlwaysChecked = true }))
        {
            Assert.Equal(Ebpf.Execution.ExecutionMode.Checked, p.Program.ExecutionMode);
            results.Add(Run("checked", checkedRuntime, p, packet));
        }
        var interpreter = new BpfRuntime { JitEnabled = false };
        using (var p = interpreter.LoadProgram(new ProgramDefinition(ProgramType.Xdp, program, "repro")))
        {
            Assert.Equal(Ebpf.Execution.ExecutionMode.Unchecked, p.Program.ExecutionMode);
            Assert.False(p.Program.IsJitCompiled);
            results.Add(Run("unchecked", interpreter, p, packet));
        }
        var jit = new BpfRuntime();
        using (var p = jit.LoadProgram(new ProgramDefinition(ProgramType.Xdp, program, "repro")))
        {
            Assert.True(p.Program.IsJitCompiled, p.Program.JitFailure);
            results.Add(Run("jit", jit, p, packet));
            xlated = p.Program.Instructions;
        }
        if (LinuxKernel.IsAvailable)
        {
            using var k = KernelProgram.Load(new ProgramLoadAttributes { Type = ProgramType.Xdp, Instructions = program, Name = "repro" });
            results.Add(new("kernel", k.TestRun(new TestRunOptions { DataIn = packet, DataSizeOut = 0 }).ReturnValue.ToString()));
        }
        else
        {
            Requirement.Missing(Requirement.Kernel, $"the kernel's result: bpf(2) unavailable: {LinuxKernel.UnavailableReason}");
        }
        foreach (var r in results)
            output.WriteLine(r.ToString());
        return results;
    }

    private static EngineResult Run(string engine, BpfRuntime runtime, BpfProgram program, byte[] packet)
    {
        try
        {
            return new(engine, runtime.TestRun(program, new TestRunOptions { DataIn = packet }).ReturnValue.ToString());
        }
        catch (BpfException e)
        {
            return new(engine, $"{e.Errno}: {e.Message}");
        }
    }

    private sealed record EngineResult(string Engine, string Value)
    {
        public override string ToString() => $"{Engine}: {Value}";
    }
}
