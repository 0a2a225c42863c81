using Ebpf.Execution;
using Ebpf.Loading;
using Ebpf.Runtime;

namespace Ebpf.Tests.Runtime;

/// <summary>
/// The verifier-driven translation against an address-driven oracle: every clang-built fixture is loaded twice,
/// once as the runtime runs it (the verifier's xlated program) and once untranslated in the checked interpreter,
/// which resolves ctx pointer fields by the address a load reads rather than by a proof. Both must give the same
/// return values, packets and map contents on the same packets: a ctx access the translation missed or invented
/// would read a different value (or fault) in one of them.
/// </summary>
public class TranslationOracleTests(ITestOutputHelper output)
{
    private static byte[][] Packets => TestPackets.Frames;

    public static TheoryData<string> Objects() =>
        ["runtime/xdp_count.bpf.o", "runtime/socket_filter.bpf.o", "runtime/callbacks.bpf.o", "runtime/tail_call.bpf.o",
         "runtime/csum.bpf.o", "runtime/dead_branch.bpf.o", "../../examples/packet_stats.bpf.o"];

    [Theory]
    [MemberData(nameof(Objects))]
    public void Translated_and_untranslated_runs_agree(string fixture)
    {
        var xlatedRuntime = new BpfRuntime();
        var oracleRuntime = new BpfRuntime();
        using var xlated = xlatedRuntime.Load(ObjectSpec.Load(SharedData.Fixture(fixture)));
        using var oracle = oracleRuntime.Load(ObjectSpec.Load(SharedData.Fixture(fixture)), new ObjectLoadOptions { Untranslated = true });
        int runs = 0;
        foreach (var (name, program) in xlated.Programs)
        {
            var other = oracle.Programs[name];
            Assert.Equal(ExecutionMode.Checked, other.Program.ExecutionMode);
            if (program.Program.TypeInfo.PointerFields.Count > 0) // every such fixture reads data/data_end: other code runs
                Assert.NotEqual(program.Program.Instructions, other.Program.Instructions);
            foreach (var packet in Packets)
            {
                Assert.Equal(Run(xlatedRuntime, program, packet), Run(oracleRuntime, other, packet));
                runs++;
            }
        }
        foreach (var (name, map) in xlated.Maps)
        {
            if (map.Map.Maps is not { } mine || oracle.Maps[name].Map.Maps is not { } theirs || map.Map.Name.Contains("rodata"))
                continue;
            Assert.Equal(JitRuntimeTests.Dump(theirs), JitRuntimeTests.Dump(mine));
        }
        output.WriteLine($"{fixture}: {runs} runs agree");
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
            return $"{e.Errno}";
        }
    }
}
