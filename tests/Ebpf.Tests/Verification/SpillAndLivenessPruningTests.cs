using Ebpf.Abi;
using Ebpf.Isa;
using static Ebpf.Tests.Verification.Asm;

namespace Ebpf.Tests.Verification;

/// <summary>
/// The state-equivalence rules that bring the processed-instruction count near the kernel's: narrow (1/2/4-byte)
/// spills keep the register like the kernel's save_register_state, spills link register and slot by id, and a helper
/// call reads only its declared argument registers (dead registers do not stop pruning). Each rule has a program it
/// must accept (or prune) and one it must still reject; the kernel's verdict is checked too where bpf(2) is usable.
/// </summary>
public class SpillAndLivenessPruningTests
{
    private const int SkbLoadBytes = 26;


    /// <summary>skb_load_bytes(ctx, 0, fp-8, r4): safe only when r4 is at most 8.</summary>
    private static IEnumerable<Instruction> LoadBytesIntoFp8() =>
    [
        MovReg(1, 6),
        Mov(2, 0),
        MovReg(3, 10),
        Add(3, -8),
        CallId(SkbLoadBytes),
    ];

    /// <summary>The size goes through a 4-byte spill at fp-16 on each of two paths (8, then <paramref name="second"/>)
    /// and a 4-byte fill after the join.</summary>
    public static List<Instruction> NarrowSpilledSize(int second) => Prog(
        MovReg(6, 1),
        Padding(),
        Call(HelperIdAlias.GetPrandomU32),
        Jmp(JumpOperation.Jne, 0, 0, 3),
        Mov(3, 8),
        Stx(AccessSize.Word, 10, 3, -16),
        Ja(2),
        Mov(3, second),
        Stx(AccessSize.Word, 10, 3, -16),
        // join: only the narrow spill carries the size
        Ldx(AccessSize.Word, 4, 10, -16),
        LoadBytesIntoFp8(),
        Mov(0, 0),
        Exit());

    /// <summary>A 4-byte spill of 8 at fp-16; with <paramref name="clobber"/> an unknown byte is then stored into it
    /// (fp-14), which must turn the slot into plain data so the 4-byte fill is unknown.</summary>
    public static List<Instruction> ClobberedNarrowSpill(bool clobber) => Prog(
        MovReg(6, 1),
        Mov(3, 8),
        Stx(AccessSize.Word, 10, 3, -16),
        Call(HelperIdAlias.GetPrandomU32),
        clobber ? Stx(AccessSize.Byte, 10, 0, -14) : Mov(0, 0),
        Ldx(AccessSize.Word, 4, 10, -16),
        LoadBytesIntoFp8(),
        Mov(0, 0),
        Exit());

    /// <summary>r7 = random &amp; <paramref name="mask"/> is spilled as one byte and filled into r4; "if r4 &gt; 7" then
    /// bounds r7 only when the value fits the byte (the spill links them); r7 + 1 is the size.</summary>
    public static List<Instruction> NarrowSpillLink(int mask) => Prog(
        MovReg(6, 1),
        Call(HelperIdAlias.GetPrandomU32),
        MovReg(7, 0),
        And(7, mask),
        Stx(AccessSize.Byte, 10, 7, -16),
        Ldx(AccessSize.Byte, 4, 10, -16),
        Jmp(JumpOperation.Jgt, 4, 7, 7),
        MovReg(1, 6),
        Mov(2, 0),
        MovReg(3, 10),
        Add(3, -8),
        MovReg(4, 7),
        Add(4, 1),
        CallId(SkbLoadBytes),
        Mov(0, 0),
        Exit());

    /// <summary>r7 (unknown) is spilled in full to fp-16, then "if r7 &gt; 7" is tested and the size is filled back
    /// from fp-16 (plus one). With <paramref name="breakLink"/> r7 goes through an ALU op between the spill and the test ("&amp;= -1"
    /// keeps the value but, as in the kernel, drops the id; an added constant would keep a delta link there).</summary>
    public static List<Instruction> FullSpillLink(bool breakLink) => Prog(
        MovReg(6, 1),
        Call(HelperIdAlias.GetPrandomU32),
        MovReg(7, 0),
        // Drop the id the copy from r0 gave r7: the link below must come from the spill itself.
        And(7, -1),
        Stx(AccessSize.DoubleWord, 10, 7, -16),
        breakLink ? And(7, -1) : Mov(0, 0),
        Jmp(JumpOperation.Jgt, 7, 7, 7),
        MovReg(1, 6),
        Mov(2, 0),
        MovReg(3, 10),
        Add(3, -8),
        Ldx(AccessSize.DoubleWord, 4, 10, -16),
        Add(4, 1),
        CallId(SkbLoadBytes),
        Mov(0, 0),
        Exit());

    /// <summary>Two paths set <paramref name="reg"/> differently (to 8 and to 64 for r4, the size of the
    /// skb_load_bytes after the join; to a stack pointer and to a scalar for r5, which that 4-argument call does not
    /// read: the types differ, so only liveness lets the second path be pruned at the join).</summary>
    public static List<Instruction> HelperArgLiveness(byte reg) => Prog(
        MovReg(6, 1),
        Padding(),
        Call(HelperIdAlias.GetPrandomU32),
        Mov(4, 8),
        Jmp(JumpOperation.Jne, 0, 0, 2),
        reg == 5 ? MovReg(5, 10) : Mov(reg, 8),
        Ja(1),
        Mov(reg, 64),
        // join
        LoadBytesIntoFp8(),
        Mov(0, 0),
        Exit());

    public static TheoryData<string> Unsafe =>
        ["narrow spilled size", "clobbered narrow spill", "narrowing spill drops the link", "changed register drops the link", "helper argument is live"];

    /// <summary>Where and why the kernel (6.18) rejects each unsafe program; ours must stop at the same place.</summary>
    private static readonly Dictionary<string, Rejection> Rejections = new(StringComparer.Ordinal)
    {
        ["narrow spilled size"] = new(21, "invalid write to stack R3 off=-8 size=64"),
        ["clobbered narrow spill"] = new(10, "R4 invalid zero-sized read: u64=[0,4294967295]"),
        ["narrowing spill drops the link"] = new(13, "invalid write to stack R3 off=-8 size=512"),
        ["changed register drops the link"] = new(13, "R4 min value is negative, either use unsigned or 'var &= const'"),
        ["helper argument is live"] = new(19, "invalid write to stack R3 off=-8 size=64"),
    };

    public static TheoryData<string> Safe =>
        ["narrow spilled size", "narrow spill restores", "fitting narrow spill links", "full spill links", "dead register past the helper's arguments"];

    private static List<Instruction> BuildUnsafe(string name) => name switch
    {
        "narrow spilled size" => NarrowSpilledSize(64),
        "clobbered narrow spill" => ClobberedNarrowSpill(clobber: true),
        "narrowing spill drops the link" => NarrowSpillLink(0x1ff),
        "changed register drops the link" => FullSpillLink(breakLink: true),
        "helper argument is live" => HelperArgLiveness(4),
        _ => throw new ArgumentException(name),
    };

    private static List<Instruction> BuildSafe(string name) => name switch
    {
        "narrow spilled size" => NarrowSpilledSize(8),
        "narrow spill restores" => ClobberedNarrowSpill(clobber: false),
        "fitting narrow spill links" => NarrowSpillLink(0xff),
        "full spill links" => FullSpillLink(breakLink: false),
        "dead register past the helper's arguments" => HelperArgLiveness(5),
        _ => throw new ArgumentException(name),
    };

    [Theory]
    [MemberData(nameof(Unsafe))]
    public void Unsafe_programs_are_rejected(string name)
    {
        var result = Verify(BuildUnsafe(name), logLevel: 2);
        Rejection.AssertOurs(result, Rejections[name], $"{name} (a path is unsafe)");
    }

    [Theory]
    [MemberData(nameof(Safe))]
    public void Safe_programs_are_accepted(string name)
    {
        var result = Verify(BuildSafe(name), logLevel: 2);
        Assert.True(result.Accepted, $"{name}\n{result.Log}");
    }

    [Theory]
    [InlineData("narrow spilled size", 16)]
    [InlineData("dead register past the helper's arguments", 15)]
    public void Second_path_is_pruned_at_the_join(string name, int join)
    {
        // At the join itself: after the call the paths would meet again anyway (r1-r5 clobbered).
        var result = Verify(BuildSafe(name), logLevel: 2);
        Assert.True(result.Accepted, result.Log);
        // "from X to J: safe" right after a path switch, or "J: safe" when the path reached J by falling through.
        Assert.Matches($@"(^|\n|from \d+ to ){join}: safe", result.Log);
    }

    [Theory]
    [MemberData(nameof(Unsafe))]
    public void Kernel_rejects_the_unsafe_ones(string name)
    {
        KernelBpf.AssertRejected(BuildUnsafe(name), Rejections[name], name);
    }

    [Theory]
    [MemberData(nameof(Safe))]
    public void Kernel_accepts_the_safe_ones(string name)
    {
        KernelBpf.AssertVerdict(BuildSafe(name), accepted: true, name);
    }
}
