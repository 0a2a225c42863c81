using Ebpf.Abi;
using Ebpf.Isa;
using Ebpf.Linux;
using Ebpf.Loading;
using Ebpf.Runtime;
using Ebpf.Runtime.Objects;
using Ebpf.Tests.Linux;
using static Ebpf.Isa.Instruction;

namespace Ebpf.Tests.Runtime;

/// <summary>test_run corners checked against the live kernel: skb CHECKSUM_COMPLETE and the max_ctx_offset rule.</summary>
public class TestRunDetailsTests
{
    private static byte[] U32(uint v) => BitConverter.GetBytes(v);

    private static byte[] Ipv4Frame(int size = 96)
    {
        var f = new byte[size];
        f.AsSpan(0, 6).Fill(0xaa);
        f[12] = 0x08;
        f[14] = 0x45; f[17] = (byte)(size - 14); f[22] = 64; f[23] = 17;
        for (int i = 34; i < size; i++) f[i] = (byte)(i * 13);
        return f;
    }

    private static Errno Try(Action a)
    {
        try { a(); return Errno.None; }
        catch (BpfException e) { return e.Errno; }
    }

    [Theory]
    [InlineData(0u)] [InlineData(1u)] [InlineData(2u)] [InlineData(3u)] [InlineData(4u)] [InlineData(5u)]
    public void Checksum_complete_matches_the_kernel(uint mode)
    {
        KernelRequirement.Require();
        string path = SharedData.Fixture("runtime/csum.bpf.o");
        using var kernel = LinuxKernel.LoadFile(path);
        kernel.Maps.Single(m => m.Key.EndsWith(".bss", StringComparison.Ordinal)).Value.Update(U32(0), U32(mode));
        var rt = new BpfRuntime();
        using var ours = rt.Load(ObjectSpec.Load(path));
        ours.Maps.Values.Single(m => m.Map.Name.EndsWith(".bss", StringComparison.Ordinal)).Map.Maps!.Update(U32(0), U32(mode));
        foreach (bool complete in new[] { false, true })
        {
            byte[]? kOut = null, oOut = null;
            var ke = Try(() => kOut = kernel.Programs["csum"].TestRun(new TestRunOptions {
                DataIn = Ipv4Frame(), DataSizeOut = 256, Flags = complete ? TestRunFlags.SkbChecksumComplete : TestRunFlags.None,
            }).DataOut);
            var oe = Try(() => oOut = rt.TestRun(ours.Programs["csum"], new TestRunOptions {
                DataIn = Ipv4Frame(), DataSizeOut = 256, Flags = complete ? TestRunFlags.SkbChecksumComplete : 0,
            }).DataOut);
            Assert.True(ke == oe, $"mode {mode}, CHECKSUM_COMPLETE {complete}: kernel {ke}, ours {oe}");
            if (ke == Errno.None)
                Assert.Equal(Convert.ToHexString(kOut!), Convert.ToHexString(oOut!));
        }
    }

    [Fact]
    public void Checksum_complete_fails_only_when_bytes_change_without_a_csum_update()
    {
        var rt = new BpfRuntime();
        using var ours = rt.Load(ObjectSpec.Load(SharedData.Fixture("runtime/csum.bpf.o")));
        var bss = ours.Maps.Values.Single(m => m.Map.Name.EndsWith(".bss", StringComparison.Ordinal)).Map.Maps!;
        var expected = new Dictionary<uint, Errno> { [0] = Errno.None, [1] = Errno.EBADMSG, [2] = Errno.None, [3] = Errno.EBADMSG, [4] = Errno.None, [5] = Errno.None };
        foreach (var (mode, errno) in expected)
        {
            bss.Update(U32(0), U32(mode));
            Assert.Equal(errno, Try(() => rt.TestRun(ours.Programs["csum"], new TestRunOptions {
                DataIn = Ipv4Frame(), Flags = TestRunFlags.SkbChecksumComplete,
            })));
        }
    }

    /// <summary>r0 = *(u64 *)(r1 + <paramref name="offset"/>); exit — a program whose max_ctx_offset is offset + 8.</summary>
    private static Instruction[] ReadsCtx(short offset) => [LoadMem(AccessSize.DoubleWord, 0, 1, offset), Exit()];

    [Fact]
    public void Raw_tracepoint_ctx_must_cover_what_the_program_reads_like_the_kernel()
    {
        KernelRequirement.Require();
        int[] sizes = [0, 8, 15, 16, 24, 96, 104];
        using var kprog = KernelProgram.Load(new ProgramLoadAttributes { Type = ProgramType.RawTracepoint, Instructions = ReadsCtx(8), Name = "rawtp" });
        var rt = new BpfRuntime();
        using var oprog = rt.LoadProgram(new ProgramDefinition(ProgramType.RawTracepoint, ReadsCtx(8), "rawtp"));
        Assert.Equal(16, BpfRuntime.MaxContextOffset(oprog.Program));
        foreach (int size in sizes)
        {
            var ctx = new byte[size];
            if (size >= 16) ctx[8] = 42;
            uint kr = 0, or = 0;
            var ke = Try(() => kr = kprog.TestRun(new TestRunOptions { ContextIn = ctx }).ReturnValue);
            var oe = Try(() => or = rt.TestRun(oprog, new TestRunOptions { ContextIn = size == 0 ? null : ctx }).ReturnValue);
            Assert.True(ke == oe, $"ctx_size_in {size}: kernel {ke}, ours {oe}");
            Assert.Equal(kr, or);
        }
        // A program that never reads its ctx runs without one.
        using var none = rt.LoadProgram(new ProgramDefinition(ProgramType.RawTracepoint, [Mov64(0, 3), Exit()], "noctx"));
        Assert.Equal(3u, rt.TestRun(none, new TestRunOptions()).ReturnValue);
    }
}
