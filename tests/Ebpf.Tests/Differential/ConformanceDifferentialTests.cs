using Ebpf.Abi;
using Ebpf.Execution;
using Ebpf.Isa;
using Ebpf.Linux;
using Ebpf.Tests.Linux;

namespace Ebpf.Tests.Differential;

/// <summary>
/// The bpf_conformance suite in the kernel and in our interpreter, same bytecode, same input.
/// <para>
/// The suite's calling convention (r1 = pointer to <c>-- mem</c>, r2 = its length) is offered by no kernel
/// program type, so each test is wrapped in an XDP prologue: it checks that data + LEN ≤ data_end (which
/// also gives the kernel verifier the packet range), sets r1 = ctx->data, r2 = LEN and r3 = r4 = 0
/// (as our conformance runner leaves them), then falls into the test's program unchanged. `-- mem`
/// (zero-padded to the 14 bytes test_run requires for XDP) is test_run's data_in. Our interpreter runs the
/// same prologued program (checked mode) on a fake xdp_md whose packet is the one registered region.
/// XDP's retval is a u32, so the kernel's retval is compared with the low 32 bits of our r0.
/// </para>
/// Programs calling helpers are not comparable (helper #5 is an identity function in the suite and
/// bpf_ktime_get_ns in the kernel) and are listed apart. Everything the kernel verifier rejects is listed
/// with the last line of its log.
/// </summary>
public class ConformanceDifferentialTests(ITestOutputHelper output)
{
    private const int XdpMinimumData = 14; // ETH_HLEN: bpf_prog_test_run_xdp refuses shorter data_in

    /// <summary>Floor of kernel-accepted tests (299 of 313 when written); guards against a broken prologue.</summary>
    private const int AcceptedFloor = 290;

    internal static Instruction[] WithXdpPrologue(Instruction[] body, int memLength)
    {
        var prologue = new[]
        {
            Instruction.LoadMem(AccessSize.Word, 2, 1, 0),            // r2 = ctx->data
            Instruction.LoadMem(AccessSize.Word, 3, 1, 4),            // r3 = ctx->data_end
            Instruction.Mov64Reg(4, 2),
            Instruction.Alu64(AluOperation.Add, 4, memLength),        // r4 = data + LEN
            Instruction.JumpReg(JumpOperation.Jle, 4, 3, 2),          // in bounds: skip the bail-out
            Instruction.Mov64(0, 0),
            Instruction.Exit(),
            Instruction.Mov64Reg(1, 2),                               // r1 = data
            Instruction.Mov64(2, memLength),                          // r2 = LEN
            Instruction.Mov64(3, 0),
            Instruction.Mov64(4, 0),
        };
        return [.. prologue, .. body];
    }

    [Fact]
    public unsafe void Kernel_accepted_conformance_programs_return_the_same_value()
    {
        KernelRequirement.Require();
        if (!LowPacket.IsSupported)
            Requirement.Missing(Requirement.Kernel, "our side needs the packet below 4 GiB (mmap MAP_32BIT: Linux x86-64)");
        string dir = SharedData.Require("conformance/tests");

        var accepted = new List<string>();
        var rejected = new List<string>();
        var helperUsers = new List<string>();
        var mismatches = new List<string>();
        foreach (string path in Directory.EnumerateFiles(dir, "*.data").Order(StringComparer.Ordinal))
        {
            var test = ConformanceDataFile.Load(path);
            if (test.Instructions.Any(i => i.IsHelperCall))
            {
                helperUsers.Add(test.Name);
                continue;
            }
            var program = WithXdpPrologue(test.Instructions, test.Memory.Length);
            byte[] data = new byte[Math.Max(XdpMinimumData, test.Memory.Length)];
            test.Memory.CopyTo(data, 0);

            uint kernelRetval;
            try
            {
                using var kernel = KernelProgram.Load(new ProgramLoadAttributes { Type = ProgramType.Xdp, Instructions = program, Name = "conf" });
                kernelRetval = kernel.TestRun(new TestRunOptions { DataIn = data, DataSizeOut = 0 }).ReturnValue;
            }
            catch (BpfException e)
            {
                rejected.Add($"{test.Name}: {Reason(e)}");
                continue;
            }
            accepted.Add(test.Name);

            string ours;
            using (var packet = new LowPacket(data))
            {
                var request = new ExecutionRequest { R1 = (ulong)packet.Context };
                request.AddRegion(new MemoryRegion((nuint)packet.Context, 8, MemoryAccess.Read, "xdp_md"));
                request.AddRegion(new MemoryRegion((nuint)packet.Data, (nuint)data.Length, MemoryAccess.ReadWrite, "packet"));
                try
                {
                    var interpreter = Interpreter.Load(program, ConformanceRunner.DefaultOptions(test.Name));
                    ulong r0 = interpreter.Run(request);
                    ours = $"0x{(uint)r0:x}";
                    if ((uint)r0 == kernelRetval)
                        continue;
                }
                catch (BpfException e)
                {
                    ours = "error " + e.Message.Split('\n')[0];
                }
            }
            mismatches.Add($"{test.Name}: kernel 0x{kernelRetval:x}, ours {ours} (suite expects {(test.ExpectedResult is { } x ? $"0x{x:x}" : test.ExpectedError)})");
        }

        output.WriteLine($"kernel accepted {accepted.Count}, rejected {rejected.Count}, not comparable (helper calls) {helperUsers.Count}; mismatches {mismatches.Count}");
        foreach (var m in mismatches) output.WriteLine("MISMATCH " + m);
        foreach (var r in rejected) output.WriteLine("REJECTED " + r);
        output.WriteLine("HELPERS " + string.Join(", ", helperUsers));
        output.WriteLine("ACCEPTED " + string.Join(", ", accepted));
        Assert.Empty(mismatches);
        // Every program of the suite has a verdict here (the kernel's acceptance is the machine's; none is dropped).
        Assert.Equal(313, accepted.Count + rejected.Count + helperUsers.Count);
        Assert.True(accepted.Count >= AcceptedFloor, $"only {accepted.Count} programs accepted by the kernel (floor {AcceptedFloor})");
    }

    [Fact]
    public void Prologue_bails_out_when_the_packet_is_shorter_than_the_test_memory()
    {
        KernelRequirement.Require();
        // A program returning 7 that needs 32 bytes of mem; the kernel sees only 14: the prologue returns 0.
        var program = WithXdpPrologue([Instruction.LoadMem(AccessSize.DoubleWord, 0, 1, 24), Instruction.Mov64(0, 7), Instruction.Exit()], 32);
        using var kernel = KernelProgram.Load(new ProgramLoadAttributes { Type = ProgramType.Xdp, Instructions = program, Name = "conf" });
        Assert.Equal(0u, kernel.TestRun(new TestRunOptions { DataIn = new byte[14], DataSizeOut = 0 }).ReturnValue);
        Assert.Equal(7u, kernel.TestRun(new TestRunOptions { DataIn = new byte[32], DataSizeOut = 0 }).ReturnValue);
    }

    /// <summary>The informative line of a verifier rejection: the last log line before the statistics, else the message.</summary>
    internal static string Reason(BpfException e)
    {
        var lines = (e.Log ?? e.Message).Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var informative = lines.LastOrDefault(l => !l.StartsWith("processed ", StringComparison.Ordinal) && !l.StartsWith("verification time", StringComparison.Ordinal) && !l.StartsWith("stack depth", StringComparison.Ordinal));
        return $"{e.Errno}: {(informative ?? lines.FirstOrDefault() ?? e.Message).Trim()}";
    }
}
