using Ebpf.Abi;
using Ebpf.Isa;

namespace Ebpf.Tests.Verification;

/// <summary>
/// Two refusals the fuzzer found worded differently from the kernel, checked on both backends (the kernel row is the
/// oracle): a map-index lddw in a load that passes no fd_array, and a call of helper id 0 (BPF_FUNC_unspec).
/// </summary>
public sealed class HelperAndMapIndexRefusalTests
{
    private static BpfException Refusal(string backend, Instruction[] insns)
    {
        using var b = TestBackend.Create(backend);
        return Assert.Throws<BpfException>(() => b.Backend.LoadProgram(
            new ProgramDefinition(ProgramType.SocketFilter, insns, "refused", "GPL"), options: new ProgramLoadOptions { LogLevel = 1 }).Dispose());
    }

    [Theory, ClassData(typeof(Backends))]
    public void A_map_index_without_fd_array_is_a_protocol_error(string backend)
    {
        var (first, second) = Instruction.LoadImm64(1, 0, LoadImm64Source.MapIndex);
        var e = Refusal(backend, [first, second, Instruction.Mov64(0, 0), Instruction.Exit()]);
        Assert.Equal(Errno.EPROTO, e.Errno);
        Assert.Contains("fd_idx without fd_array is invalid", e.Log);
    }

    [Theory, ClassData(typeof(Backends))]
    public void Helper_id_zero_is_a_helper_no_program_type_can_use(string backend)
    {
        var e = Refusal(backend, [Instruction.CallHelper(0), Instruction.Mov64(0, 0), Instruction.Exit()]);
        Assert.Equal(Errno.EINVAL, e.Errno);
        Assert.Contains("program of this type cannot use helper bpf_unspec#0", e.Log);
    }
}
