using Ebpf.Linux;
using Ebpf.Cli.Commands.Runtime;
using Ebpf.Isa;
using Ebpf.Loading;
using Ebpf.Runtime;
using Ebpf.Tests.Linux;

namespace Ebpf.Tests.Runtime;

/// <summary>
/// tests/fixtures/runtime/dead_branch.bpf.c: `if (debug)` on a frozen .rodata constant. The verifier never takes
/// that side, so the privileged load removes it and the jump around it; `prog dump xlated` prints the shorter
/// program, as long as the kernel's, and the program still runs (checked against the kernel's test_run).
/// </summary>
public class DeadCodeFixtureTests(ITestOutputHelper output)
{
    private const string Fixture = "runtime/dead_branch.bpf.o";

    private static string Dump(ReadOnlySpan<Instruction> insns)
    {
        var text = new StringWriter();
        XlatedDump.Write(text, "dead_branch", insns, json: false);
        return text.ToString();
    }

    private static int DumpLines(string dump) => dump.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length - 1; // minus the header

    [Fact]
    public void Prog_dump_xlated_omits_the_dead_branch()
    {
        var spec = ObjectSpec.Load(SharedData.Fixture(Fixture));
        int objectInsns = spec.Programs.Single(p => p.Name == "dead_branch").Instructions.Length;
        using var loaded = new BpfRuntime().Load(spec);
        var program = loaded.Programs["dead_branch"].Program;
        string dump = Dump(program.Instructions);
        output.WriteLine(dump);
        // Object: 22 insns (one lddw). The `if (debug)` body is 7 insns; its conditional jump is hard-wired and
        // removed with it: 14 slots, 13 lines (the lddw prints once).
        Assert.Equal(22, objectInsns);
        Assert.Equal(14, program.Instructions.Length);
        Assert.Equal(13, DumpLines(dump));
        Assert.DoesNotContain("r1 +16", dump); // the dead ctx->rx_queue_index load
        Assert.Contains("r3 = *(u64 *)(r1 +32)", dump); // data_end, converted to the runtime's slot
    }

    [Fact]
    public void Cli_prog_dump_xlated_prints_the_translated_program()
    {
        string file = Path.GetTempFileName();
        try
        {
            File.WriteAllText(file, $"prog load {SharedData.Fixture(Fixture)} /sys/fs/bpf/dead\nprog dump xlated pinned /sys/fs/bpf/dead\n");
            var r = CliRunner.Run("batch", "file", file);
            Assert.True(r.ExitCode == 0, r.Stderr);
            output.WriteLine(r.Stdout);
            Assert.Contains("   9: (71) r1 = *(u8 *)(r2 +0)\n", r.Stdout); // the live side follows the .rodata load
            Assert.Contains("  13: (95) exit\n", r.Stdout);
            Assert.Matches(@"   6: \(18\) r3 = map\[id:\d+\]\[0\]\+0\n", r.Stdout); // .rodata by id, as bpftool, not a host address
            Assert.DoesNotContain("  14: ", r.Stdout);
        }
        finally { File.Delete(file); }
    }

    [Fact]
    public void Xlated_length_and_test_run_match_the_kernel()
    {
        KernelRequirement.Require();
        string path = SharedData.Fixture(Fixture);
        using var kernel = LinuxKernel.LoadFile(path);
        var kernelProgram = kernel.Programs["dead_branch"];
        var kernelXlated = kernelProgram.GetTranslatedInstructions();
        var runtime = new BpfRuntime();
        using var ours = runtime.Load(ObjectSpec.Load(path));
        var ourProgram = ours.Programs["dead_branch"];
        output.WriteLine("kernel:\n" + Dump(kernelXlated) + "ours:\n" + Dump(XlatedProgramDump.PrepareDump(ourProgram.Program)));
        // Both dumps name the .rodata map by id, as bpftool prints it.
        Assert.Matches(@"   6: \(18\) r3 = map\[id:\d+\]\[0\]\+0\n", Dump(kernelXlated));
        Assert.Matches($@"   6: \(18\) r3 = map\[id:{ours.Maps.Values.Single(m => m.Map.Name.Contains("rodata")).Map.Id}\]\[0\]\+0\n", Dump(XlatedProgramDump.PrepareDump(ourProgram.Program)));
        Assert.Equal(kernelXlated.Length, ourProgram.Program.Instructions.Length);
        Assert.Equal(DumpLines(Dump(kernelXlated)), DumpLines(Dump(ourProgram.Program.Instructions)));
        // Instruction for instruction the same, except the map value address (lddw) and the ctx pointer slots,
        // which are each side's own layout.
        var mine = ourProgram.Program.Instructions;
        for (int i = 0; i < mine.Length; i++)
        {
            if (mine[i].IsLoadImm64) { i++; continue; }
            if (mine[i].Class == InstructionClass.Ldx && mine[i].Src == 1)
                Assert.Equal((kernelXlated[i].Opcode, kernelXlated[i].Dst), (mine[i].Opcode, mine[i].Dst));
            else
                Assert.Equal(kernelXlated[i], mine[i]);
        }
        foreach (var first in new byte[] { 0xff, 0x12 })
        {
            var frame = new byte[14];
            frame[0] = first;
            var k = kernelProgram.TestRun(new TestRunOptions { DataIn = frame, DataSizeOut = 0 });
            var o = runtime.TestRun(ourProgram, new TestRunOptions { DataIn = frame });
            Assert.Equal(k.ReturnValue, o.ReturnValue);
        }
    }
}
