using Ebpf.Abi;
using Ebpf.Isa;
using Ebpf.Linux;
using static Ebpf.Tests.Linux.KernelRequirement;

namespace Ebpf.Tests.Linux;

public class ProgramLoadTests
{
    // r0 = skb->len; exit: a socket filter keeps that many bytes, so retval is the L3 length.
    private static readonly Instruction[] ReturnSkbLen =
    [
        Instruction.LoadMem(AccessSize.Word, 0, 1, 0),
        Instruction.Exit(),
    ];

    // XDP: if data + 1 <= data_end then pkt[0] += 1; return XDP_PASS.
    private static readonly Instruction[] XdpIncrementFirstByte =
    [
        Instruction.LoadMem(AccessSize.Word, 2, 1, 0),   // r2 = ctx->data
        Instruction.LoadMem(AccessSize.Word, 3, 1, 4),   // r3 = ctx->data_end
        Instruction.Mov64Reg(4, 2),
        Instruction.Alu64(AluOperation.Add, 4, 1),
        Instruction.JumpReg(JumpOperation.Jgt, 4, 3, 3), // if r4 > r3 goto out
        Instruction.LoadMem(AccessSize.Byte, 5, 2, 0),
        Instruction.Alu64(AluOperation.Add, 5, 1),
        Instruction.StoreMem(AccessSize.Byte, 2, 5, 0),
        Instruction.Mov64(0, 2),                          // out: XDP_PASS
        Instruction.Exit(),
    ];

    [Fact]
    public void SocketFilterTestRunReturnsL3LengthAndZeroedL2Header()
    {
        Require();
        using var prog = LoadSocketFilter(ReturnSkbLen, "sf_len");
        var packet = Packet(64);
        var result = prog.TestRun(new TestRunOptions { DataIn = packet, DataSizeOut = 0 });
        // eth_type_trans pulls the 14-byte Ethernet header before a socket filter runs (§3.2 step 9).
        Assert.Equal(64u - 14, result.ReturnValue);
        // An L3 program's data_out starts with 14 zeroed bytes in place of the Ethernet header (§3.2 step 18).
        Assert.Equal(new byte[14].Concat(packet.Skip(14)).ToArray(), result.DataOut);
        Assert.Equal(ProgramType.SocketFilter, prog.Type);
        Assert.Equal("sf_len", prog.Name);
    }

    [Fact]
    public void XdpTestRunModifiesPacketOncePerRepeat()
    {
        Require();
        using var prog = KernelProgram.Load(new ProgramLoadAttributes { Type = ProgramType.Xdp, Instructions = XdpIncrementFirstByte, Name = "xdp_inc" });
        var packet = Packet(60, seed: 10);

        var once = prog.TestRun(new TestRunOptions { DataIn = packet, DataSizeOut = 0 });
        Assert.Equal(2u, once.ReturnValue);
        var expected = (byte[])packet.Clone();
        expected[0] = 11;
        Assert.Equal(expected, once.DataOut);

        // The kernel reuses the same packet across repeats (program-types.md §3.1): pkt[0] += repeat.
        var repeated = prog.TestRun(new TestRunOptions { DataIn = packet, Repeat = 1000, DataSizeOut = 0 });
        Assert.Equal(2u, repeated.ReturnValue);
        Assert.Equal(unchecked((byte)(10 + 1000)), repeated.DataOut![0]);
        Assert.Equal(packet.AsSpan(1).ToArray(), repeated.DataOut.AsSpan(1).ToArray());
        Assert.True(repeated.Duration > 0, "the kernel reports a per-run duration");
    }

    [Fact]
    public void TestRunReportsATooSmallOutputBufferAndFetchesTheWholeResultWithZero()
    {
        Require();
        using var prog = KernelProgram.Load(new ProgramLoadAttributes { Type = ProgramType.Xdp, Instructions = ReturnImm(2), Name = "xdp_pass" });
        var packet = Packet(100);
        // data_size_out 20: the kernel copies 20 bytes, reports the full size and ENOSPC (retval still filled in).
        var small = prog.TestRun(new TestRunOptions { DataIn = packet, DataSizeOut = 20 });
        Assert.Equal(Errno.ENOSPC, small.Error);
        Assert.Equal(2u, small.ReturnValue);
        Assert.Equal(100, small.DataSizeOut);
        Assert.Equal(packet.AsSpan(0, 20).ToArray(), small.DataOut);
        // 0: the whole result, however long.
        var whole = prog.TestRun(new TestRunOptions { DataIn = packet, DataSizeOut = 0 });
        Assert.Equal(Errno.None, whole.Error);
        Assert.Equal(packet, whole.DataOut);
    }

    [Fact]
    public void TestRunOfTypeWithoutTestRunIsEnotsupp()
    {
        Require();
        using var prog = KernelProgram.Load(new ProgramLoadAttributes { Type = ProgramType.Kprobe, Instructions = ReturnImm(0), Name = "kp" });
        var e = Assert.Throws<BpfException>(() => prog.TestRun(new TestRunOptions()));
        Assert.Equal(Errno.ENOTSUPP, e.Errno);
        Assert.StartsWith("BPF_PROG_TEST_RUN kp: ", e.Message);
    }

    [Fact]
    public void RejectedProgramCarriesVerifierLogAndEacces()
    {
        Require();
        // exit without setting r0: program-types.md §5.1 #1.
        var e = Assert.Throws<BpfException>(() => LoadSocketFilter([Instruction.Exit()], "no_r0"));
        Assert.Equal(Errno.EACCES, e.Errno);
        Assert.Equal("BPF_PROG_LOAD no_r0: Permission denied", e.Message);
        Assert.NotNull(e.Log);
        Assert.Contains("R0 !read_ok", e.Log);
        Assert.Contains("processed 1 insns (limit 1000000)", e.Log);
    }

    [Fact]
    public void RejectedProgramWithoutLogRetryHasNoLog()
    {
        Require();
        var e = Assert.Throws<BpfException>(() => KernelProgram.Load(new ProgramLoadAttributes
        {
            Type = ProgramType.SocketFilter, Instructions = new[] { Instruction.Exit() }, RetryWithLogOnFailure = false,
        }));
        Assert.Equal(Errno.EACCES, e.Errno);
        Assert.Null(e.Log);
        Assert.Equal("BPF_PROG_LOAD SocketFilter program: Permission denied", e.Message);
    }

    [Fact]
    public void LogBufferGrowsOnEnospc()
    {
        Require();
        // A level-2 log of a valid program is a few hundred bytes; a 32-byte buffer makes 6.4+ fail the
        // load with ENOSPC, and the loader must grow the buffer and succeed with the whole log.
        using var prog = KernelProgram.Load(new ProgramLoadAttributes
        {
            Type = ProgramType.Xdp, Instructions = XdpIncrementFirstByte, Name = "xdp_log",
            LogLevel = VerifierLogLevel.Level2, LogSize = 32,
        });
        Assert.NotNull(prog.VerifierLog);
        Assert.StartsWith("func#0 @0", prog.VerifierLog);
        Assert.Contains("processed ", prog.VerifierLog);
        Assert.True(prog.VerifierLog!.Length > 32);
    }

    [Fact]
    public void LogBufferCapGivesEnospc()
    {
        Require();
        var e = Assert.Throws<BpfException>(() => KernelProgram.Load(new ProgramLoadAttributes
        {
            Type = ProgramType.Xdp, Instructions = XdpIncrementFirstByte, Name = "xdp_cap",
            LogLevel = VerifierLogLevel.Level2, LogSize = 32, MaxLogSize = 64,
        }));
        Assert.Equal(Errno.ENOSPC, e.Errno);
        Assert.NotNull(e.Log);
        Assert.True(e.Log!.Length < 64);
    }

    [Fact]
    public void SuccessfulLoadAtLevel1KeepsOnlyStatsLine()
    {
        Require();
        using var prog = KernelProgram.Load(new ProgramLoadAttributes
        {
            Type = ProgramType.SocketFilter, Instructions = ReturnImm(0), Name = "lvl1", LogLevel = VerifierLogLevel.Level1,
        });
        Assert.Equal("processed 2 insns (limit 1000000) max_states_per_insn 0 total_states 0 peak_states 0 mark_read 0\n", prog.VerifierLog);
    }

    [Fact]
    public void NameIsSanitisedAndReportedByInfo()
    {
        Require();
        using var prog = LoadSocketFilter(ReturnImm(0), "my-prog/with spaces and a long tail");
        Assert.Equal("myprogwithspace", prog.Name);
        var info = prog.GetInfo();
        Assert.Equal("myprogwithspace", info.Name);
        Assert.Equal(ProgramType.SocketFilter, info.Type);
        Assert.Equal(16u, info.XlatedSize);
        Assert.True(info.GplCompatible);
        Assert.Equal(8, info.Tag.Length);
        Assert.Equal(2, prog.GetTranslatedInstructions().Length);
    }

    [Fact]
    public void UnknownProgramTypeIsEinvalWithoutLog()
    {
        Require();
        var e = Assert.Throws<BpfException>(() => KernelProgram.Load(new ProgramLoadAttributes
        {
            Type = (ProgramType)999, Instructions = ReturnImm(0), Name = "bogus",
        }));
        Assert.Equal(Errno.EINVAL, e.Errno);
        Assert.Null(e.Log);
    }

    [Fact]
    public void EmptyProgramIsRejectedBeforeTheSyscall()
    {
        var e = Assert.Throws<BpfException>(() => KernelProgram.Load(new ProgramLoadAttributes
        {
            Type = ProgramType.SocketFilter, Instructions = Array.Empty<Instruction>(), Name = "empty",
        }));
        Assert.Equal(Errno.EINVAL, e.Errno);
    }
}
