using System.Buffers.Binary;
using Ebpf.Abi;
using Ebpf.Btf;
using Ebpf.Collections;
using Ebpf.Isa;
using Ebpf.Linux;
using Ebpf.Runtime;

namespace Ebpf.Tests.CoRe;

/// <summary>
/// Kernel-side CO-RE (BPF_PROG_LOAD with core_relos, as light skeletons load): the Linux backend passes the records
/// through and this machine's kernel applies them; the managed runtime's verifier applies them the way the kernel does
/// (check_core_relo, bpf_core_apply). The kernel is the oracle: the same object, relocations sent to it versus applied
/// by our verifier, must give the same translated programs and the same CO-RE log lines; and the raw shapes of the
/// upstream core_reloc_raw test (kernel-semantics.md §5.2) must fail or pass alike, with the same messages.
/// </summary>
public class KernelSideCoreTests(ITestOutputHelper output)
{
    private static string Fixture => SharedData.Fixture("core/vmlinux_reads.bpf.o");

    private static void RequireKernel()
    {
        if (!LinuxKernel.IsAvailable)
            Requirement.Missing(Requirement.Kernel, $"bpf(2) is not usable here: {LinuxKernel.UnavailableReason}");
        if (!File.Exists("/sys/kernel/btf/vmlinux"))
            Requirement.Missing(Requirement.Vmlinux, "/sys/kernel/btf/vmlinux not present");
    }

    /// <summary>The CO-RE lines of a verifier log (what bpf_core_apply printed), in order.</summary>
    private static List<string> CoreLines(string? log) =>
        (log ?? "").Split('\n').Where(l => l.StartsWith("prog '': ", StringComparison.Ordinal) || l.StartsWith("CO-RE relocating", StringComparison.Ordinal)
            || l.StartsWith("relo #", StringComparison.Ordinal) || l.StartsWith("Invalid core_relo", StringComparison.Ordinal)
            || l.StartsWith("nonzero tailing", StringComparison.Ordinal)).ToList();

    [Fact]
    public void The_kernel_and_our_verifier_relocate_the_same_object_identically()
    {
        RequireKernel();
        using var bpffs = new TemporaryBpfFs();
        var kernelSide = new ObjectLoadOptions { PinRoot = bpffs.Path, KernelSideCoRe = true, LogLevel = 2 };
        using var inKernel = BpfCollection.LoadFile(LinuxKernel.Backend, Fixture, kernelSide);
        using var libbpfStyle = BpfCollection.LoadFile(LinuxKernel.Backend, Fixture, new ObjectLoadOptions { PinRoot = bpffs.Path });
        var runtime = new BpfRuntime();
        using var managed = BpfCollection.LoadFile(runtime.Backend, Fixture, kernelSide);
        Assert.NotEmpty(inKernel.Programs);
        foreach (var (name, kernelProgram) in inKernel.Programs)
        {
            var kernelXlated = kernelProgram.GetTranslatedInstructions();
            // The kernel relocating it equals us relocating it in user space (libbpf's way) ...
            Assert.Equal(libbpfStyle.Programs[name].GetTranslatedInstructions(), kernelXlated);
            // ... and equals our verifier relocating it as the kernel does.
            Assert.Equal(kernelXlated, managed.Programs[name].GetTranslatedInstructions());
            var kernelLines = CoreLines(kernelProgram.VerifierLog);
            var ourLines = CoreLines(managed.Programs[name].VerifierLog);
            output.WriteLine($"{name}:\n  {string.Join("\n  ", kernelLines)}");
            Assert.NotEmpty(kernelLines);
            Assert.Equal(kernelLines, ourLines);
        }
    }

    /// <summary>
    /// core_reloc_raw's program: r0 = 0; if r0 == 0 goto +1; &lt;the relocated insn at #2&gt;; exit, with one ENUMVAL_VALUE
    /// relocation on an enum no kernel has (it poisons), func_info for main, and the record as given.
    /// </summary>
    private static (ProgramDefinition Definition, byte[] Btf) RawCase(Instruction[] relocated, uint typeId = 0, uint insnOff = 16, int recordSize = 16, byte tail = 0)
    {
        var b = new BtfBuilder();
        uint intId = b.AddInt("int", 4, BtfIntEncoding.Signed);
        uint proto = b.AddFuncProto(intId, []);
        uint main = b.AddFunc("main", proto);
        uint missingEnum = b.AddEnum("core_relo_poison_missing", 4, [new BtfEnumValue("CORE_RELO_POISON_MISSING_ONE", 1)]);
        byte[] raw = BtfSanitizer.AppendStrings(b.ToBytes(), ["0"]);
        BtfSpec.Parse(raw).TryFindString("0", out uint access);
        Instruction[] insns = [Instruction.Mov64(0, 0), new Instruction(0x15, 0, 0, (short)relocated.Length, 0), .. relocated, Instruction.Exit()];
        var record = new byte[recordSize];
        BinaryPrimitives.WriteUInt32LittleEndian(record, insnOff);
        BinaryPrimitives.WriteUInt32LittleEndian(record.AsSpan(4), typeId == 0 ? missingEnum : typeId);
        BinaryPrimitives.WriteUInt32LittleEndian(record.AsSpan(8), access);
        BinaryPrimitives.WriteUInt32LittleEndian(record.AsSpan(12), (uint)BtfCoreReloKind.EnumValueValue);
        if (recordSize > 16)
            record[^1] = tail;
        var funcInfo = new byte[8];
        BinaryPrimitives.WriteUInt32LittleEndian(funcInfo.AsSpan(4), main);
        return (new ProgramDefinition(ProgramType.SocketFilter, insns, "core_raw")
        {
            FuncInfo = funcInfo, CoreRelocations = record, CoreRelocationRecordSize = (uint)recordSize,
        }, raw);
    }

    public static TheoryData<string> RawCases => new()
    {
        "alu_imm", "alu64_imm", "ldx", "st", "stx", "ldimm64", "exit", "ja", "call", "alu_reg", "alu64_reg", "ld_abs",
        "bad_local_id", "insn_off_out_of_range", "insn_off_unaligned", "nonzero_tail", "zero_tail",
    };

    private static (ProgramDefinition, byte[]) Case(string name) => name switch
    {
        "alu_imm" => RawCase([new Instruction(0xb4, 0, 0, 0, 1)]),                 // w0 = 1
        "alu64_imm" => RawCase([new Instruction(0xb7, 0, 0, 0, 1)]),               // r0 = 1
        "ldx" => RawCase([new Instruction(0x61, 0, 1, 0, 0)]),                     // r0 = *(u32 *)(r1 + 0)
        "st" => RawCase([new Instruction(0x62, 10, 0, -8, 0)]),                    // *(u32 *)(r10 - 8) = 0
        "stx" => RawCase([new Instruction(0x63, 10, 0, -8, 0)]),                   // *(u32 *)(r10 - 8) = w0
        "ldimm64" => RawCase([new Instruction(0x18, 0, 0, 0, 1), new Instruction(0, 0, 0, 0, 0)]),
        "exit" => RawCase([Instruction.Exit()]),
        "ja" => RawCase([new Instruction(0x05, 0, 0, 0, 0)]),
        "call" => RawCase([Instruction.CallHelper(7)]),
        "alu_reg" => RawCase([new Instruction(0xbc, 0, 1, 0, 0)]),                 // w0 = w1
        "alu64_reg" => RawCase([new Instruction(0xbf, 0, 1, 0, 0)]),               // r0 = r1
        "ld_abs" => RawCase([new Instruction(0x20, 0, 0, 0, 0)]),                  // r0 = *(u32 *)skb[0]
        "bad_local_id" => RawCase([new Instruction(0xb7, 0, 0, 0, 1)], typeId: 100500),
        "insn_off_out_of_range" => RawCase([new Instruction(0xb7, 0, 0, 0, 1)], insnOff: 800),
        "insn_off_unaligned" => RawCase([new Instruction(0xb7, 0, 0, 0, 1)], insnOff: 17),
        "nonzero_tail" => RawCase([new Instruction(0xb7, 0, 0, 0, 1)], recordSize: 20, tail: 1),
        "zero_tail" => RawCase([new Instruction(0xb7, 0, 0, 0, 1)], recordSize: 20),
        _ => throw new ArgumentOutOfRangeException(nameof(name)),
    };

    private (Errno Errno, List<string> Lines, Instruction[]? Xlated) Load(IBpfBackend backend, string name)
    {
        var (definition, raw) = Case(name);
        using var btf = backend.LoadBtf(raw);
        try
        {
            // Level 2: a successful load at level 1 keeps no CO-RE lines (the kernel resets that log when it succeeds).
            using var program = backend.LoadProgram(definition, null, btf, new ProgramLoadOptions { LogLevel = 2 });
            return (Errno.None, CoreLines(program.VerifierLog), program.GetTranslatedInstructions());
        }
        catch (BpfException e)
        {
            return (e.Errno, CoreLines(e.Log), null);
        }
    }

    [Theory, MemberData(nameof(RawCases))]
    public void Raw_core_relos_fail_or_pass_as_in_the_kernel_with_its_log_lines(string name)
    {
        RequireKernel();
        var kernel = Load(LinuxKernel.Backend, name);
        var ours = Load(new BpfRuntime().Backend, name);
        output.WriteLine($"kernel {kernel.Errno}:\n  {string.Join("\n  ", kernel.Lines)}\nours {ours.Errno}:\n  {string.Join("\n  ", ours.Lines)}");
        Assert.Equal(kernel.Errno, ours.Errno);
        Assert.Equal(kernel.Lines, ours.Lines);
        if (kernel.Xlated is not null)
            Assert.Equal(kernel.Xlated, ours.Xlated);
    }
}
