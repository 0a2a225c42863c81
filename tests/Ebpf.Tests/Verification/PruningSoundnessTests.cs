using Ebpf.Abi;
using Ebpf.Isa;
using static Ebpf.Tests.Verification.Asm;

namespace Ebpf.Tests.Verification;

/// <summary>
/// Unsound pruning would accept these programs: each has two paths that meet at a pruning point and differ only in
/// a scalar (or a spilled scalar, or a scalar's link to another) whose value matters after the join. The safe path
/// runs first and leaves a checkpoint at the join; the unsafe path must not be pruned by it. Each program is padded
/// so the join is far enough from the previous checkpoint (2 jumps, 8 instructions) for a checkpoint to be taken.
/// The kernel's verdict (rejected) is checked too where bpf(2) is available.
/// </summary>
public class PruningSoundnessTests
{
    private const int SkbLoadBytes = 26;


    /// <summary>r3 = 0 on the first path, 8 on the second; after the join r3 is added to fp-8 and 8 bytes are stored there.</summary>
    public static List<Instruction> PointerOffsetProgram(int badOffset) => Prog(
        Padding(),
        Call(HelperIdAlias.GetPrandomU32),
        Jmp(JumpOperation.Jne, 0, 0, 2),
        Mov(3, 0),
        Ja(1),
        Mov(3, badOffset),
        // join: r3 becomes part of a stack pointer
        MovReg(2, 10),
        Add(2, -8),
        AddReg(2, 3),
        St(AccessSize.DoubleWord, 2, 0, 0),
        Mov(0, 0),
        Exit());

    /// <summary>The size of skb_load_bytes goes through a stack spill before the join and a fill after it.</summary>
    public static List<Instruction> SpilledSizeProgram(int badSize) => Prog(
        MovReg(6, 1),
        Padding(),
        Call(HelperIdAlias.GetPrandomU32),
        Jmp(JumpOperation.Jne, 0, 0, 3),
        Mov(3, 8),
        Stx(AccessSize.DoubleWord, 10, 3, -16),
        Ja(2),
        Mov(3, badSize),
        Stx(AccessSize.DoubleWord, 10, 3, -16),
        // join: only the spilled copy survives
        MovReg(1, 6),
        Mov(2, 0),
        MovReg(3, 10),
        Add(3, -8),
        Ldx(AccessSize.DoubleWord, 4, 10, -16),
        CallId(SkbLoadBytes),
        Mov(0, 0),
        Exit());

    /// <summary>r6 = 1 or 2; after the join "if r6 == 1" is decided by its value and the r6 == 2 side dereferences a scalar.</summary>
    public static List<Instruction> DecidedBranchProgram() => Prog(
        Padding(),
        Call(HelperIdAlias.GetPrandomU32),
        Jmp(JumpOperation.Jne, 0, 0, 2),
        Mov(6, 1),
        Ja(1),
        Mov(6, 2),
        // join
        Jmp(JumpOperation.Jeq, 6, 1, 2),
        Mov(1, 0),
        Ldx(AccessSize.Byte, 0, 1, 0),
        Mov(0, 0),
        Exit());

    /// <summary>On the first path r8 is a copy of r6 (linked), on the second an unrelated value. After the join
    /// "if r8 > 4" bounds r6 only on the first path, and r6 is then added to a stack pointer.</summary>
    public static List<Instruction> LinkedScalarProgram() => Prog(
        Padding(),
        Call(HelperIdAlias.GetPrandomU32),
        MovReg(6, 0),
        Call(HelperIdAlias.GetPrandomU32),
        MovReg(7, 0),
        Jmp(JumpOperation.Jne, 7, 0, 10),
        MovReg(8, 6),
        Padding(),
        Ja(1),
        MovReg(8, 7),
        // join
        Jmp(JumpOperation.Jgt, 8, 4, 5),
        MovReg(2, 10),
        Add(2, -16),
        AddReg(2, 6),
        St(AccessSize.Byte, 2, 0, 0),
        Mov(0, 0),
        Mov(0, 0),
        Exit());

    public static TheoryData<string> Unsafe => ["pointer offset", "spilled size", "decided branch", "linked scalar"];

    /// <summary>Where and why the kernel (6.18) rejects each unsafe program; ours must stop at the same place.</summary>
    private static readonly Dictionary<string, Rejection> Rejections = new(StringComparer.Ordinal)
    {
        ["pointer offset"] = new(16, "invalid write to stack R2 off=0 size=8"),
        ["spilled size"] = new(21, "invalid write to stack R3 off=-8 size=64"),
        ["decided branch"] = new(15, "R1 invalid mem access 'scalar'"),
        ["linked scalar"] = new(27, "math between fp pointer and register with unbounded min value is not allowed"),
    };

    private static List<Instruction> Build(string name) => name switch
    {
        "pointer offset" => PointerOffsetProgram(8),
        "spilled size" => SpilledSizeProgram(64),
        "decided branch" => DecidedBranchProgram(),
        "linked scalar" => LinkedScalarProgram(),
        _ => throw new ArgumentException(name),
    };

    [Theory]
    [MemberData(nameof(Unsafe))]
    public void Unsafe_path_is_not_pruned_by_the_safe_one(string name)
    {
        var result = Verify(Build(name), logLevel: 2);
        Rejection.AssertOurs(result, Rejections[name], $"{name} (the second path is unsafe)");
    }

    [Fact]
    public void Safe_variants_are_accepted_and_pruned_at_the_join()
    {
        // Same shapes with both paths safe: accepted, and the second path is cut at the join.
        foreach (var prog in new[] { PointerOffsetProgram(0), SpilledSizeProgram(8) })
        {
            var result = Verify(prog, logLevel: 2);
            Assert.True(result.Accepted, result.Log);
            Assert.Contains(": safe", result.Log);
        }
    }

    [Theory]
    [MemberData(nameof(Unsafe))]
    public void Kernel_rejects_them_too(string name)
    {
        KernelBpf.AssertRejected(Build(name), Rejections[name], name);
    }
}
