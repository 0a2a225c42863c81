using Ebpf.Execution;
using Ebpf.Loading;
using Ebpf.Runtime;

namespace Ebpf.Tests.Runtime;

/// <summary>
/// The runtime's JIT against its interpreter on clang-built objects: two runtimes load the same object, one
/// with the JIT on, one off; every program runs the same packets in the same order, and return values,
/// data_out and the final map contents must be identical.
/// </summary>
public class JitRuntimeTests(ITestOutputHelper output)
{
    private static byte[][] Packets => TestPackets.Frames;

    public static TheoryData<string> Objects() =>
        ["runtime/xdp_count.bpf.o", "runtime/socket_filter.bpf.o", "runtime/ringbuf.bpf.o", "runtime/map_in_map.bpf.o", "runtime/callbacks.bpf.o", "runtime/tail_call.bpf.o", "../../examples/packet_stats.bpf.o"];

    [Theory]
    [MemberData(nameof(Objects))]
    public void Jit_and_interpreter_agree_on_every_program(string fixture)
    {
        var spec = ObjectSpec.Load(SharedData.Fixture(fixture));
        var jitRuntime = new BpfRuntime();
        var interpRuntime = new BpfRuntime { JitEnabled = false };
        using var withJit = jitRuntime.Load(spec);
        using var withoutJit = interpRuntime.Load(ObjectSpec.Load(SharedData.Fixture(fixture)));
        foreach (var (name, program) in withJit.Programs)
        {
            var other = withoutJit.Programs[name];
            Assert.False(other.Program.IsJitCompiled);
            output.WriteLine($"{name}: {program.Program.ExecutionMode}, {(program.Program.IsJitCompiled ? "compiled" : "interpreted: " + (program.Program.JitFailure ?? program.Program.ExecutionModeReason))}");
            if (program.Program.ExecutionMode == ExecutionMode.Unchecked)
                Assert.True(program.Program.IsJitCompiled || program.Program.JitFailure is not null, $"{name}: neither compiled nor a reason");
            foreach (var packet in Packets)
            {
                var a = Run(jitRuntime, program, packet);
                var b = Run(interpRuntime, other, packet);
                Assert.Equal(b, a);
            }
        }
        foreach (var (name, map) in withJit.Maps)
        {
            var mine = map.Map.Maps;
            var theirs = withoutJit.Maps[name].Map.Maps;
            if (mine is null || theirs is null)
                continue;
            Assert.Equal(Dump(theirs), Dump(mine));
        }
    }

    [Fact]
    public void Verified_fixture_is_compiled_and_disabling_the_jit_interprets_it()
    {
        var spec = ObjectSpec.Load(SharedData.Fixture("runtime/xdp_count.bpf.o"));
        using var on = new BpfRuntime().Load(spec);
        var compiled = on.Programs.Values.Single().Program;
        Assert.Equal(ExecutionMode.Unchecked, compiled.ExecutionMode);
        Assert.True(compiled.IsJitCompiled, compiled.JitFailure);
        using var off = new BpfRuntime { JitEnabled = false }.Load(ObjectSpec.Load(SharedData.Fixture("runtime/xdp_count.bpf.o")));
        Assert.False(off.Programs.Values.Single().Program.IsJitCompiled);
    }

    private static string Run(BpfRuntime runtime, BpfProgram program, byte[] packet)
    {
        try
        {
            var r = runtime.TestRun(program, new TestRunOptions { DataIn = packet, DataSizeOut = 4096 });
            return $"ret {r.ReturnValue} out {Convert.ToHexString(r.DataOut ?? [])} err {r.Error}";
        }
        catch (BpfException e)
        {
            return $"{e.Errno}: {e.Message}";
        }
    }

    internal static string Dump(Ebpf.Runtime.Maps.BpfMapBase map)
    {
        var lines = new List<string>();
        try
        {
            foreach (var key in map.Keys())
            {
                var value = new byte[map.HostValueSize];
                lines.Add($"{Convert.ToHexString(key)}={(map.TryLookup(key, value) ? Convert.ToHexString(value) : "-")}");
            }
        }
        catch (BpfException e)
        {
            lines.Add($"({e.Errno})");
        }
        return string.Join(",", lines.Order(StringComparer.Ordinal));
    }
}
