using Ebpf.Abi;
using Ebpf.Isa;
using Ebpf.Runtime;
using Ebpf.Runtime.Objects;

namespace Ebpf.Tests.Runtime;

/// <summary>Small objects for lifecycle tests.</summary>
internal static class RuntimeTestPrograms
{
    /// <summary>r0 = value; exit.</summary>
    public static Instruction[] ReturnConstant(int value) =>
        [Instruction.FromRaw(0xb7UL | ((ulong)(uint)value << 32)), Instruction.FromRaw(0x95)];

    public static BpfProgram Load(BpfRuntime rt, ProgramType type = ProgramType.Xdp, string name = "p", IEnumerable<BpfMap>? maps = null) =>
        rt.LoadProgram(new ProgramDefinition(type, ReturnConstant(2), name), maps);

    public static BpfMap Hash(BpfRuntime rt, string name = "m") =>
        rt.CreateMap(new MapDefinition(MapType.Hash, 4, 8, 16, Name: name));

    public static BpfMap ProgArray(BpfRuntime rt, uint entries = 4) =>
        rt.CreateMap(new MapDefinition(MapType.ProgArray, 4, 4, entries, Name: "jmp"));
}
