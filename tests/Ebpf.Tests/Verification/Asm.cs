using Ebpf.Abi;
using Ebpf.Isa;
using Ebpf.Verification;

namespace Ebpf.Tests.Verification;

/// <summary>Small helpers to write test programs as instruction lists.</summary>
internal static class Asm
{
    public static List<Instruction> Prog(params object[] items)
    {
        var list = new List<Instruction>();
        foreach (var item in items)
        {
            switch (item)
            {
                case Instruction i: list.Add(i); break;
                case ValueTuple<Instruction, Instruction> pair: list.Add(pair.Item1); list.Add(pair.Item2); break;
                case IEnumerable<Instruction> many: list.AddRange(many); break;
                default: throw new ArgumentException($"not an instruction: {item}");
            }
        }
        return list;
    }

    /// <summary>Eight no-op moves: enough instructions since the last checkpoint for the verifier to add one at the next jump.</summary>
    public static IEnumerable<Instruction> Padding() => Enumerable.Range(0, 8).Select(_ => Mov(9, 0));

    public static Instruction Mov(byte dst, int imm) => Instruction.Mov64(dst, imm);
    public static Instruction MovReg(byte dst, byte src) => Instruction.Mov64Reg(dst, src);
    public static Instruction Add(byte dst, int imm) => Instruction.Alu64(AluOperation.Add, dst, imm);
    public static Instruction AddReg(byte dst, byte src) => Instruction.Alu64Reg(AluOperation.Add, dst, src);
    public static Instruction And(byte dst, int imm) => Instruction.Alu64(AluOperation.And, dst, imm);
    public static Instruction Exit() => Instruction.Exit();
    public static Instruction Call(HelperIdAlias id) => Instruction.CallHelper((int)id);
    public static Instruction CallId(int id) => Instruction.CallHelper(id);
    public static Instruction Jmp(JumpOperation op, byte dst, int imm, short off) => Instruction.Jump(op, dst, imm, off);
    public static Instruction JmpReg(JumpOperation op, byte dst, byte src, short off) => Instruction.JumpReg(op, dst, src, off);
    public static Instruction Ja(short off) => Instruction.Ja(off);
    public static Instruction Ldx(AccessSize size, byte dst, byte src, short off) => Instruction.LoadMem(size, dst, src, off);
    public static Instruction Stx(AccessSize size, byte dst, byte src, short off) => Instruction.StoreMem(size, dst, src, off);
    public static Instruction St(AccessSize size, byte dst, short off, int imm) => Instruction.StoreImm(size, dst, off, imm);
    public static (Instruction, Instruction) LdMap(byte dst, int fd) => Instruction.LoadImm64(dst, fd, LoadImm64Source.MapFd);
    public static (Instruction, Instruction) LdImm64(byte dst, long v) => Instruction.LoadImm64(dst, v);

    /// <summary>r2 = fp-4 with *(u32*)(fp-4) = 0: the usual key setup for a 4-byte key.</summary>
    public static IEnumerable<Instruction> StackKey4() =>
    [
        St(AccessSize.Word, 10, -4, 0),
        MovReg(2, 10),
        Add(2, -4),
    ];

    public static VerificationResult Verify(List<Instruction> insns, ProgramType type = ProgramType.SocketFilter,
        Dictionary<int, IVerifierMapInfo>? maps = null, int logLevel = 1, Abi.Helpers.HelperPrivilege privilege = Abi.Helpers.HelperPrivilege.Full,
        AttachType attach = default, int limit = 1_000_000, IReadOnlyList<VerifierFunction>? functions = null) =>
        Verifier.Verify(new VerifierInput
        {
            Instructions = insns,
            ProgramType = type,
            MapsByFd = maps,
            LogLevel = logLevel,
            Privilege = privilege,
            ExpectedAttachType = attach,
            InstructionLimit = limit,
            Functions = functions,
        });
}

/// <summary>Helper ids used by the tests, by their kernel numbers.</summary>
internal enum HelperIdAlias
{
    MapLookupElem = 1,
    MapUpdateElem = 2,
    KtimeGetNs = 5,
    TracePrintk = 6,
    GetPrandomU32 = 7,
    TailCall = 12,
    XdpAdjustHead = 44,
    ProbeReadKernel = 113,
    RingbufOutput = 130,
    RingbufReserve = 131,
    RingbufSubmit = 132,
    RingbufDiscard = 133,
    Loop = 181,
}
