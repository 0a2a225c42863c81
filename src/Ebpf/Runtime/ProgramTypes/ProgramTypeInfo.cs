using Ebpf.Abi;

namespace Ebpf.Runtime.ProgramTypes;

/// <summary>Placeholder replaced below.</summary>
public sealed class ProgramTypeInfo
{
    public static ProgramTypeInfo Get(ProgramType type) => new();
}
