using Ebpf.Abi;
using Ebpf.Isa;
using Ebpf.Runtime;
using Ebpf.Runtime.Objects;
using static Ebpf.Isa.Instruction;

namespace Ebpf.Tests.Runtime;

/// <summary>Deterministic runs: a host-controlled clock behind the time helpers and a seeded bpf_get_prandom_u32.</summary>
public class DeterministicRuntimeTests
{
    private sealed class ManualClock(long nanoseconds) : TimeProvider
    {
        public long Nanoseconds { get; set; } = nanoseconds;
        public override long GetTimestamp() => Nanoseconds;
        public override long TimestampFrequency => 1_000_000_000;
    }

    private static uint RunHelper(BpfRuntime runtime, int helperId)
    {
        Instruction[] insns = [CallHelper(helperId), Exit()];
        using var prog = runtime.LoadProgram(new ProgramDefinition(ProgramType.SocketFilter, insns, "h" + helperId));
        return runtime.TestRun(prog, new TestRunOptions { DataIn = new byte[64] }).ReturnValue;
    }

    [Fact]
    public void Time_helpers_read_the_runtime_clock()
    {
        var clock = new ManualClock(4_000_000_123);
        var runtime = new BpfRuntime { Clock = clock };
        Assert.Equal(unchecked((uint)4_000_000_123L), RunHelper(runtime, 5));   // ktime_get_ns
        Assert.Equal(unchecked((uint)4_000_000_123L), RunHelper(runtime, 125)); // ktime_get_boot_ns: nothing suspended
        Assert.Equal(unchecked((uint)4_000_000_000L), RunHelper(runtime, 160)); // ktime_get_coarse_ns: whole jiffies (4 ms at HZ=250)
        Assert.Equal(1000u, RunHelper(runtime, 118));                           // jiffies64: 4 s at HZ=250
        clock.Nanoseconds += 8_000_000;
        Assert.Equal(1002u, RunHelper(runtime, 118));
    }

    [Fact]
    public void Seeded_prandom_repeats_across_runtimes_and_differs_between_seeds()
    {
        uint[] Sequence(int seed)
        {
            var runtime = new BpfRuntime { RandomSeed = seed };
            return [.. Enumerable.Range(0, 6).Select(_ => RunHelper(runtime, 7))];
        }
        Assert.Equal(Sequence(42), Sequence(42));
        Assert.NotEqual(Sequence(42), Sequence(43));
        Assert.True(Sequence(42).Distinct().Count() > 1);
    }
}
