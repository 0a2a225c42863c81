using Ebpf.Abi;
using Ebpf.Isa;
using static Ebpf.Tests.Verification.Asm;

namespace Ebpf.Tests.Verification;

/// <summary>
/// A helper that writes through a memory argument that is neither uninit nor read-only (bpf_fib_lookup fills in its
/// params) leaves unknown bytes on the stack: a constant spilled there before the call is gone afterwards.
/// </summary>
public class HelperStackWriteTests
{
    private const int FibLookup = 69;

    /// <summary>Spills 0 to fp-8, optionally calls bpf_fib_lookup(ctx, fp-64, 64, 0), then uses the reloaded fp-8
    /// as a stack offset: safe only while it is still the known 0.</summary>
    public static List<Instruction> ReloadAfterFibLookup(bool call) => Prog(
        MovReg(6, 1),
        Mov(1, 0),
        Stx(AccessSize.DoubleWord, 10, 1, -8),
        call
            ? new[] { MovReg(1, 6), MovReg(2, 10), Add(2, -64), Mov(3, 64), Mov(4, 0), CallId(FibLookup) }
            : [Mov(0, 0)],
        Ldx(AccessSize.DoubleWord, 3, 10, -8),
        MovReg(2, 10),
        Add(2, -16),
        AddReg(2, 3),
        St(AccessSize.Byte, 2, 0, 0),
        Mov(0, 0),
        Exit());

    /// <summary>Where and why the kernel (6.18) rejects the reload after bpf_fib_lookup; ours must stop there too.</summary>
    private static readonly Rejection AfterFibLookup = new(12, "math between fp pointer and register with unbounded min value is not allowed");

    [Fact]
    public void Constant_overwritten_by_the_helper_is_unknown()
    {
        var result = Verify(ReloadAfterFibLookup(call: true), ProgramType.SchedCls, logLevel: 2);
        Rejection.AssertOurs(result, AfterFibLookup, "fp-8 must not be taken as 0 after bpf_fib_lookup wrote it");
    }

    [Fact]
    public void Constant_survives_without_the_helper()
    {
        var result = Verify(ReloadAfterFibLookup(call: false), ProgramType.SchedCls, logLevel: 2);
        Assert.True(result.Accepted, result.Log);
    }

    [Fact]
    public void Kernel_agrees()
    {
        if (KernelBpf.Unavailable() is { } why) Requirement.Missing(Requirement.Kernel, why);
        KernelBpf.AssertRejected(ReloadAfterFibLookup(call: true), AfterFibLookup, "after bpf_fib_lookup", ProgramType.SchedCls);
        var safe = KernelBpf.Load(ReloadAfterFibLookup(call: false), (uint)ProgramType.SchedCls);
        Assert.True(safe.Accepted, safe.Log);
    }
}
