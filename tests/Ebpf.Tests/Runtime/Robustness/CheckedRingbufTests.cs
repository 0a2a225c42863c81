using Ebpf.Abi.Helpers;
using Ebpf.Abi;
using Ebpf.Execution;
using Ebpf.Isa;
using Ebpf.Runtime;
using Ebpf.Runtime.Helpers;
using Ebpf.Runtime.Maps;
using Ebpf.Runtime.Objects;
using static Ebpf.Isa.Instruction;

namespace Ebpf.Tests.Runtime.Robustness;

/// <summary>
/// bpf_ringbuf_submit/discard write the record's header word just before the pointer they are given. In a
/// checked (unverified) run that pointer must be a record the run reserved and still holds; anything else
/// used to make the ring write its header wherever the program pointed inside (or just before) its data area.
/// </summary>
public class CheckedRingbufTests
{
    /// <summary>reserve(16); if null exit 1; r1 = record + <paramref name="skew"/>; submit (or discard) it <paramref name="times"/> times.</summary>
    private static Instruction[] ReserveThenCommit(int skew, int times, bool discard = false)
    {
        var (m1, m2) = LoadImm64(1, 0, LoadImm64Source.MapIndex);
        var commits = new List<Instruction>();
        for (int i = 0; i < times; i++)
            commits.AddRange([Mov64Reg(1, 6), Mov64(2, 0), CallHelper(discard ? (int)HelperId.RingbufDiscard : (int)HelperId.RingbufSubmit)]);
        return
        [
            m1, m2,
            Mov64(2, 16), Mov64(3, 0),
            CallHelper((int)HelperId.RingbufReserve),
            Jump(JumpOperation.Jne, 0, 0, 2),
            Mov64(0, 1),
            Exit(),
            Mov64Reg(6, 0),
            Alu64(AluOperation.Add, 6, skew),
            .. commits,
            Mov64(0, 2),
            Exit(),
        ];
    }

    private static (BpfRuntime Runtime, BpfMap Ring) NewRing()
    {
        var rt = new BpfRuntime();
        return (rt, rt.CreateMap(new MapDefinition(MapType.Ringbuf, 0, 0, 4096, Name: "ring")));
    }

    private static uint RunChecked(BpfRuntime rt, BpfMap ring, Instruction[] code)
    {
        using var prog = rt.LoadProgram(new ProgramDefinition(ProgramType.Xdp, code, "rb"), [ring],
            options: new ProgramLoadOptions { AllowUnverified = true, AlwaysChecked = true });
        Assert.Equal(ExecutionMode.Checked, prog.Program.ExecutionMode);
        return rt.TestRun(prog, new TestRunOptions { DataIn = new byte[64] }).ReturnValue;
    }

    private static int Drain(BpfMap ring)
    {
        using var reader = new RingBufferReader((RingBufMap)ring.Map.Maps!);
        int records = 0;
        reader.Consume(_ => { records++; return 0; });
        return records;
    }

    [Theory]
    [InlineData(8)]
    [InlineData(-8)]
    [InlineData(4)]
    public void Committing_a_pointer_that_is_not_the_record_faults(int skew)
    {
        var (rt, ring) = NewRing();
        using (ring)
        {
            var e = Assert.Throws<BpfException>(() => RunChecked(rt, ring, ReserveThenCommit(skew, 1)));
            Assert.Equal(Errno.EINVAL, e.Errno);
            Assert.Contains("not a ring buffer record this run reserved", e.Message);
            // The reservation was discarded when the run ended: the ring is not stalled and holds nothing.
            Assert.Equal(0, Drain(ring));
            Assert.Equal(2u, RunChecked(rt, ring, ReserveThenCommit(0, 1)));
            Assert.Equal(1, Drain(ring));
        }
    }

    [Fact]
    public void Committing_the_same_record_twice_faults()
    {
        var (rt, ring) = NewRing();
        using (ring)
        {
            var e = Assert.Throws<BpfException>(() => RunChecked(rt, ring, ReserveThenCommit(0, 2)));
            Assert.Equal(Errno.EINVAL, e.Errno);
            Assert.Equal(1, Drain(ring));
        }
    }

    [Fact]
    public void A_record_left_reserved_is_discarded_at_the_end_of_the_run()
    {
        var (rt, ring) = NewRing();
        using (ring)
        {
            Assert.Equal(2u, RunChecked(rt, ring, ReserveThenCommit(0, 0)));
            Assert.Equal(0, Drain(ring));
            Assert.Equal(2u, RunChecked(rt, ring, ReserveThenCommit(0, 1, discard: false)));
            Assert.Equal(1, Drain(ring));
        }
    }
}
