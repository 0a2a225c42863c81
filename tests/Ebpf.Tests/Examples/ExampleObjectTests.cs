using System.Buffers.Binary;
using Ebpf.Execution;
using Ebpf.Loading;
using Ebpf.Runtime;
using Ebpf.Verification;

namespace Ebpf.Tests.Examples;

/// <summary>The objects under examples/ behave as the README and the demo say.</summary>
public class ExampleObjectTests
{
    private static string Example(string name) => Path.Combine(SharedData.RepoRoot, "examples", name);

    [Fact]
    public unsafe void Fnv1a_example_hashes_like_the_reference()
    {
        var program = ObjectSpec.Load(Example("fnv1a.bpf.o")).Programs.Single();
        var interpreter = Interpreter.Load(program.Instructions, new InterpreterOptions { Mode = ExecutionMode.Checked });
        byte[] input = "hello, world"u8.ToArray();
        fixed (byte* data = input)
        {
            var request = new ExecutionRequest { R1 = (ulong)data, R2 = (ulong)input.Length }
                .AddRegion(new MemoryRegion((nuint)data, (nuint)input.Length, MemoryAccess.Read, "input"));
            Assert.Equal(0x17a1a4f267be633dUL, interpreter.Run(request));
        }
    }

    [Fact]
    public void Packet_stats_drops_the_blocked_port_from_rodata_and_counts_protocols()
    {
        var spec = ObjectSpec.Load(Example("packet_stats.bpf.o"));
        var rodata = spec.Maps.Single(m => m.IsGlobalData && m.SectionName == ".rodata");
        Assert.Equal(23, BinaryPrimitives.ReadUInt16LittleEndian(rodata.InitialValue));
        BinaryPrimitives.WriteUInt16LittleEndian(rodata.InitialValue!, 2323);
        Assert.True(Verifier.Verify(ProgramSpecInput.Create(spec, spec.FindProgram("packet_stats")!)).Accepted);

        var runtime = new BpfRuntime();
        using var collection = runtime.Load(spec);
        var program = collection.Programs["packet_stats"];
        uint Run(byte[] frame) => runtime.TestRun(program, new TestRunOptions { DataIn = frame }).ReturnValue;
        Assert.Equal(2u, Run(Frame(6, 23)));     // XDP_PASS: 23 is no longer blocked
        Assert.Equal(1u, Run(Frame(6, 2323)));   // XDP_DROP
        Assert.Equal(2u, Run(Frame(17, 2323)));  // UDP is never dropped
        Assert.Equal(2u, Run(new byte[20]));     // not IPv4

        var counts = collection.Maps["proto_counts"].Map.Maps!;
        var value = new byte[8];
        counts.Lookup(BitConverter.GetBytes(6u), value);
        Assert.Equal(2ul, BitConverter.ToUInt64(value));
        counts.Lookup(BitConverter.GetBytes(17u), value);
        Assert.Equal(1ul, BitConverter.ToUInt64(value));
        Assert.Equal(2, counts.Keys().Count);
    }

    private static byte[] Frame(byte protocol, ushort port)
    {
        var frame = new byte[54];
        BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(12), 0x0800);
        frame[14] = 0x45;
        frame[23] = protocol;
        BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(36), port);
        return frame;
    }
}
