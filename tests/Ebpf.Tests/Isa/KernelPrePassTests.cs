using Ebpf.Abi;
using Ebpf.Isa;
using Ebpf.Runtime;
using Ebpf.Runtime.Objects;
using Ebpf.Tests.Verification;

namespace Ebpf.Tests.Isa;

/// <summary>
/// The kernel's pre-pass (<see cref="KernelPrePass"/>) is the one judge of structural validity for the verifier and the
/// runtime: every opcode byte gets the live kernel's verdict, the checks come in the kernel's order, and an instruction
/// the kernel only refuses when reached neither stops the verifier (in dead code) nor the runtime's load.
/// </summary>
public sealed class KernelPrePassTests
{
    private static Instruction I(byte op, byte dst, byte src, short off, int imm) => new(op, dst, src, off, imm);

    /// <summary>[op; r0 = 0; exit]: the pre-pass judges only the opcode here (LDX modes and lddw shape included).</summary>
    private static Instruction[] Probe(byte op) => [I(op, 0, 0, 0, 0), Instruction.Mov64(0, 0), Instruction.Exit()];

    [Fact]
    public void Every_opcode_byte_gets_the_live_kernels_pre_pass_verdict()
    {
        if (KernelBpf.Unavailable() is { } why) Requirement.Missing(Requirement.Kernel, why);
        var disagreements = new List<string>();
        for (int op = 0; op < 256; op++)
        {
            var program = Probe((byte)op);
            var kernel = KernelBpf.Load(program, (uint)ProgramType.SocketFilter);
            // The pre-pass messages the kernel prints before any instruction is traced.
            string? kernelPrePass = kernel.Log.Split('\n').FirstOrDefault(l =>
                l.StartsWith("unknown opcode", StringComparison.Ordinal) || l == "BPF_LDX uses reserved fields"
                || l.Contains("bpf_ld_imm64 insn", StringComparison.Ordinal) || l.StartsWith("last insn", StringComparison.Ordinal));
            string? ours = KernelPrePass.Check(program)?.Message;
            if (kernelPrePass != ours)
                disagreements.Add($"{op:x2}: kernel {kernelPrePass ?? "passes"}, ours {ours ?? "passes"}");
        }
        Assert.True(disagreements.Count == 0, string.Join("\n", disagreements));
    }

    [Theory]
    [InlineData("unknown opcode in dead code", "unknown opcode e4", 2)]
    [InlineData("jump range before the opcode table", "jump out of range from insn 2 to 8", 2)]
    [InlineData("LDX reserved before a later unknown opcode", "BPF_LDX uses reserved fields", 1)]
    [InlineData("call target outside", "call to invalid destination", 0)]
    public void Checks_come_in_the_kernels_order(string name, string message, int insn)
    {
        Instruction[] program = name switch
        {
            "unknown opcode in dead code" => [Instruction.Mov64(0, 0), I(0x15, 0, 0, 1, 0), I(0xe4, 0, 0, 0, 0), Instruction.Exit()],
            "jump range before the opcode table" => [Instruction.Mov64(0, 0), I(0xe4, 0, 0, 0, 0), Instruction.Ja(5), Instruction.Exit()],
            "LDX reserved before a later unknown opcode" => [Instruction.Mov64(0, 0), I(0x61, 0, 1, 0, 3), I(0xe4, 0, 0, 0, 0), Instruction.Exit()],
            _ => [Instruction.CallLocal(10), Instruction.Mov64(0, 0), Instruction.Exit()],
        };
        Assert.Equal(new PrePassError(insn, message), KernelPrePass.Check(program));
        var ours = Asm.Verify([.. program]);
        Assert.Equal(message, ours.Error);
        Assert.Equal(insn, ours.ErrorInstruction);
        Assert.Equal($"insn {insn}: {message}", Assert.Throws<BpfException>(() => ProgramValidator.Validate(program)).Message);
        if (KernelBpf.Unavailable() is { } why) Requirement.Missing(Requirement.Kernel, why);
        var kernel = KernelBpf.Load(program, (uint)ProgramType.SocketFilter);
        Assert.False(kernel.Accepted);
        Assert.Contains(message + "\n", kernel.Log);
    }

    /// <summary>
    /// r1 = -1 makes "if r1 s&lt;= -1" always true, so the goto with a non-zero imm (reserved) is dead: the kernel accepts,
    /// so must our verifier, and the runtime must then load and run the program rather than refuse it.
    /// </summary>
    [Fact]
    public void Reserved_fields_in_dead_code_pass_the_verifier_and_the_runtime()
    {
        Instruction[] program = [Instruction.Mov64(1, -1), I(0xd5, 1, 0, 1, -1), I(0x05, 0, 0, 1, 1), Instruction.Mov64(0, 1), Instruction.Exit()];
        Assert.True(Asm.Verify([.. program]).Accepted);
        var runtime = new BpfRuntime();
        using var loaded = runtime.LoadProgram(new ProgramDefinition(ProgramType.SocketFilter, program, "dead_reserved"));
        var packet = new byte[64];
        packet[12] = 0x08;
        Assert.Equal(1u, runtime.TestRun(loaded, new TestRunOptions { DataIn = packet }).ReturnValue);
        if (KernelBpf.Unavailable() is { } why) Requirement.Missing(Requirement.Kernel, why);
        Assert.True(KernelBpf.Load(program, (uint)ProgramType.SocketFilter).Accepted);
    }
}
