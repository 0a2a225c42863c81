using Ebpf.Abi;
using Ebpf.Isa;
using Ebpf.Linux;
using Ebpf.Linux.Probes;

namespace Ebpf.Tests.Linux;

/// <summary>Skips a test (fails it under EBPF_REQUIRE=kernel) unless bpf(2) is usable here (Linux, root or CAP_BPF); probed once per process.</summary>
internal static class KernelRequirement
{
    public static void Require()
    {
        var probe = KernelFeatures.Bpf;
        if (!probe.Supported)
            Requirement.Missing(Requirement.Kernel, $"bpf(2) is not usable here: {probe.Detail} ({probe.Errno})");
    }

    /// <summary>Small programs the tests load.</summary>
    public static Instruction[] ReturnImm(int value) => [Instruction.Mov64(0, value), Instruction.Exit()];

    public static KernelProgram LoadSocketFilter(Instruction[] insns, string name = "test_sf") =>
        KernelProgram.Load(new ProgramLoadAttributes { Type = ProgramType.SocketFilter, Instructions = insns, Name = name });

    public static byte[] Packet(int length, byte seed = 1)
    {
        var p = new byte[length];
        for (int i = 0; i < p.Length; i++)
            p[i] = (byte)(seed + i * 7);
        return p;
    }

    public static byte[] U32(uint v) => BitConverter.GetBytes(v);
    public static byte[] U64(ulong v) => BitConverter.GetBytes(v);
}
