using Ebpf.Abi;
using Ebpf.Isa;
using static Ebpf.Tests.Verification.Asm;

namespace Ebpf.Tests.Verification;

/// <summary>
/// Which stack reads tie the loaded register to its slot for precision backtracking. As the kernel's
/// INSN_F_STACK_ACCESS, only a fill does (the value comes from the spilled register); a read of zero or data bytes
/// does not, so a decision on it must not make a spill that shares the slot precise (that kept cilium's nodeport NAT
/// tails from pruning, at up to 2.75x the kernel's processed instructions). The zero bytes themselves still have to
/// match exactly when states are compared: the unsafe program checks that.
/// </summary>
public class StackReadPrecisionTests
{
    private const int SkbLoadBytes = 26;


    /// <summary>fp-16 holds zero bytes at fp-12 and, on two paths, a 4-byte spill of 8 or of <paramref name="second"/>
    /// at fp-16. After the join (insn 17) a byte of the zeros decides a branch; the spill is never used.</summary>
    public static List<Instruction> ZeroBytesBesideSpill(int second) => Prog(
        MovReg(6, 1),
        Padding(),
        Call(HelperIdAlias.GetPrandomU32),
        St(AccessSize.Word, 10, -12, 0),
        Jmp(JumpOperation.Jne, 0, 0, 3),
        Mov(3, 8),
        Stx(AccessSize.Word, 10, 3, -16),
        Ja(2),
        Mov(3, second),
        Stx(AccessSize.Word, 10, 3, -16),
        // join
        Ldx(AccessSize.Byte, 4, 10, -12),
        Mov(0, 0),
        Jmp(JumpOperation.Jne, 4, 0, 1),
        Mov(0, 1),
        Exit());

    /// <summary>fp-12 gets zero bytes on one path and, with <paramref name="unknownOnSecond"/>, an unknown word on the
    /// other (else zeros from a register); a byte of it plus one is the size of skb_load_bytes into fp-8.</summary>
    public static List<Instruction> ZeroOrDataBytesAsSize(bool unknownOnSecond) => Prog(
        MovReg(6, 1),
        Padding(),
        Call(HelperIdAlias.GetPrandomU32),
        Jmp(JumpOperation.Jne, 0, 0, 2),
        St(AccessSize.Word, 10, -12, 0),
        Ja(2),
        unknownOnSecond ? MovReg(5, 0) : Mov(5, 0),
        Stx(AccessSize.Word, 10, 5, -12),
        // join
        Ldx(AccessSize.Byte, 4, 10, -12),
        Add(4, 1),
        MovReg(1, 6),
        Mov(2, 0),
        MovReg(3, 10),
        Add(3, -8),
        CallId(SkbLoadBytes),
        Mov(0, 0),
        Exit());

    public static TheoryData<string> Safe => ["spill beside read zeros", "zeros on both paths"];

    private static List<Instruction> BuildSafe(string name) => name switch
    {
        "spill beside read zeros" => ZeroBytesBesideSpill(16),
        "zeros on both paths" => ZeroOrDataBytesAsSize(unknownOnSecond: false),
        _ => throw new ArgumentException(name),
    };

    /// <summary>Where and why the kernel (6.18) rejects the unsafe program; ours must stop at the same place.</summary>
    private static readonly Rejection UnsafeRejection = new(21, "invalid write to stack R3 off=-8 size=256");

    private static List<Instruction> Unsafe() => ZeroOrDataBytesAsSize(unknownOnSecond: true);

    [Theory]
    [MemberData(nameof(Safe))]
    public void Safe_programs_are_accepted(string name)
    {
        var result = Verify(BuildSafe(name), logLevel: 2);
        Assert.True(result.Accepted, $"{name}\n{result.Log}");
    }

    [Fact]
    public void Reading_zero_bytes_leaves_the_spill_beside_them_imprecise()
    {
        var result = Verify(ZeroBytesBesideSpill(16), logLevel: 2);
        Assert.True(result.Accepted, result.Log);
        // The second path (spilling 16) reaches the join by falling through and matches the first (spilling 8).
        Assert.Matches(@"(^|\n)17: safe", result.Log);
        Assert.DoesNotContain("stack=-16", result.Log);
    }

    [Fact]
    public void Data_bytes_are_not_covered_by_zero_bytes()
    {
        var result = Verify(Unsafe(), logLevel: 2);
        Rejection.AssertOurs(result, UnsafeRejection, "the second path's size can reach 256");
    }

    [Fact]
    public void Kernel_rejects_the_unsafe_one()
    {
        KernelBpf.AssertRejected(Unsafe(), UnsafeRejection, "program");
    }

    [Theory]
    [MemberData(nameof(Safe))]
    public void Kernel_accepts_the_safe_ones(string name)
    {
        KernelBpf.AssertVerdict(BuildSafe(name), accepted: true, name);
    }
}
