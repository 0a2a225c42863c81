using Ebpf.Abi;
using Ebpf.Isa;

namespace Ebpf.Fuzz;

/// <summary>
/// Biased random programs: short snippets that exercise what the verifier tracks — scalar ALU (div/mod, shifts,
/// sign extension, byte swaps), stack spills and fills (also at variable offsets), ctx loads at valid and invalid
/// offsets, packet pointer arithmetic with bounds checks, map lookups with and without NULL checks, helper calls,
/// atomics, forward branches and bounded loops — plus the occasional raw random instruction. Most programs are
/// nearly valid, so both verifiers get deep into them; the random choices make some of them subtly wrong.
/// </summary>
public sealed class ProgramGenerator(Random random, ProgramType type)
{
    private readonly List<Instruction> _code = [];
    private bool _nondeterministic;

    // r6 keeps ctx through the program (helper calls clobber r1-r5); r10 is the frame pointer.
    private const byte Ctx = 6;

    public FuzzProgram Next()
    {
        _code.Clear();
        _nondeterministic = false;
        Emit(Mov64Reg(Ctx, 1));
        // Mostly-initialised registers and stack, so most programs get past the first read and test something deeper.
        InitialiseRegisters(0, 2, 3, 4, 5, 7, 8, 9);
        for (int slot = 1; slot <= 4; slot++)
            if (random.Next(4) != 0)
                Emit(Instruction.StoreImm(AccessSize.DoubleWord, 10, (short)(-8 * slot), random.Next(3) == 0 ? Imm() : random.Next(16)));
        int snippets = 1 + random.Next(random.Next(2) == 0 ? 6 : 14);
        for (int i = 0; i < snippets; i++)
            Snippet(depth: 0);
        if (random.Next(10) != 0)
            Emit(Mov64Imm(0, random.Next(10) == 0 ? Imm() : random.Next(4)));
        Emit(Instruction.Exit());
        return new FuzzProgram(type, [.. _code], "random", _nondeterministic);
    }

    private void Emit(Instruction insn) => _code.Add(insn);

    private void InitialiseRegisters(params byte[] registers)
    {
        foreach (byte r in registers)
            if (random.Next(6) != 0)
                Emit(Mov64Imm(r, random.Next(3) == 0 ? Imm() : random.Next(64)));
    }

    private void Snippet(int depth)
    {
        switch (random.Next(depth > 1 ? 16 : 19))
        {
            case 0: case 1: Emit(Mov64Imm(Reg(), Imm())); break;
            case 2: case 3: AluImm(); break;
            case 4: AluReg(); break;
            case 5: SpecialAlu(); break;
            case 6: StackStore(); break;
            case 7: StackLoad(); break;
            case 8: CtxAccess(); break;
            case 9: Packet(); break;
            case 10: MapLookup(depth); break;
            case 11: HelperCall(); break;
            case 12: Atomic(); break;
            case 13: VariableStack(); break;
            case 14: PointerArithmetic(); break;
            case 15: if (random.Next(3) == 0) Emit(RawRandom()); else AluImm(); break;
            case 16: case 17: Branch(depth); break;
            default: Loop(depth); break;
        }
    }

    // ---- operands ----

    private byte Reg() => (byte)(random.Next(8) switch { 0 => random.Next(10), _ => random.Next(6) is var r && r == 1 ? 7 : r });
    private byte AnyReg() => (byte)random.Next(11);

    private int Imm() => random.Next(12) switch
    {
        0 => 0,
        1 => 1,
        2 => -1,
        3 => int.MaxValue,
        4 => int.MinValue,
        5 => random.Next(-64, 64),
        6 => 1 << random.Next(31),
        7 => random.Next(256),
        8 => -random.Next(1, 512),
        _ => random.Next(int.MinValue, int.MaxValue),
    };

    private AccessSize Size() => (AccessSize)(random.Next(4) << 3);
    private static int Width(AccessSize s) => s switch { AccessSize.Byte => 1, AccessSize.Half => 2, AccessSize.Word => 4, _ => 8 };

    private short StackOffset(AccessSize size)
    {
        int w = Width(size);
        return random.Next(6) switch
        {
            0 => (short)-random.Next(1, 520),                         // anywhere, sometimes out of the frame
            1 => (short)(-8 * random.Next(1, 9) + random.Next(8)),    // misaligned inside a slot
            _ => (short)(-w * random.Next(1, 64 / w + 1)),            // aligned
        };
    }

    // ---- instructions ----

    private static Instruction Mov64Imm(byte dst, int imm) => Instruction.Mov64(dst, imm);
    private static Instruction Mov64Reg(byte dst, byte src) => Instruction.Mov64Reg(dst, src);
    private static Instruction Alu(bool is64, AluOperation op, bool reg, byte dst, byte src, int imm, short off = 0) =>
        new((byte)((byte)(is64 ? InstructionClass.Alu64 : InstructionClass.Alu) | (byte)op | (reg ? 8 : 0)), dst, reg ? src : (byte)0, off, reg ? 0 : imm);
    private static Instruction Ldx(AccessSize size, byte dst, byte src, short off) => Instruction.LoadMem(size, dst, src, off);
    private static Instruction Stx(AccessSize size, byte dst, byte src, short off) => Instruction.StoreMem(size, dst, src, off);

    private static readonly AluOperation[] AluOps =
    [
        AluOperation.Add, AluOperation.Sub, AluOperation.Mul, AluOperation.Div, AluOperation.Or, AluOperation.And, AluOperation.Lsh,
        AluOperation.Rsh, AluOperation.Mod, AluOperation.Xor, AluOperation.Arsh, AluOperation.Mov,
    ];

    private void AluImm()
    {
        var op = AluOps[random.Next(AluOps.Length)];
        int imm = op switch
        {
            AluOperation.Lsh or AluOperation.Rsh or AluOperation.Arsh => random.Next(20) == 0 ? Imm() : random.Next(64),
            AluOperation.Div or AluOperation.Mod => random.Next(20) == 0 ? 0 : random.Next(3) == 0 ? Imm() : random.Next(1, 100),
            _ => Imm(),
        };
        Emit(Alu(random.Next(2) == 0, op, false, Reg(), 0, imm));
    }

    private void AluReg() => Emit(Alu(random.Next(2) == 0, AluOps[random.Next(AluOps.Length)], true, Reg(), Reg(), 0));

    private void SpecialAlu()
    {
        bool is64 = random.Next(2) == 0;
        switch (random.Next(5))
        {
            case 0: Emit(Alu(is64, AluOperation.Neg, false, Reg(), 0, 0)); break;
            case 1: Emit(Alu(is64, random.Next(2) == 0 ? AluOperation.Div : AluOperation.Mod, random.Next(2) == 0, Reg(), Reg(), random.Next(-9, 100), off: 1)); break; // sdiv/smod
            case 2: Emit(Alu(is64, AluOperation.Mov, true, Reg(), Reg(), 0, off: (short)(8 << random.Next(is64 ? 3 : 2)))); break; // movsx
            case 3: Emit(new Instruction((byte)((is64 ? 0x07 : 0x04) | 0xd0 | (random.Next(2) << 3)), Reg(), 0, 0, 16 << random.Next(3))); break; // bswap / be / le
            default:
                // A register made into a bounded unknown: the usual source of interesting ranges.
                byte r = Reg();
                Emit(Ldx(AccessSize.Word, r, Ctx, 0));
                Emit(Alu(true, AluOperation.And, false, r, 0, random.Next(1, 256)));
                break;
        }
    }

    private void StackStore()
    {
        var size = Size();
        short off = StackOffset(size);
        if (random.Next(3) == 0)
            Emit(Instruction.StoreImm(size, 10, off, Imm()));
        else
            Emit(Stx(size, 10, random.Next(6) == 0 ? Ctx : Reg(), off));
    }

    private void StackLoad()
    {
        var size = Size();
        Emit(Ldx(size, Reg(), 10, StackOffset(size)));
    }

    private static readonly int[] SkbFields = [0, 4, 8, 12, 16, 20, 24, 28, 32, 36, 40, 44, 48, 52, 56, 60, 64, 68, 72, 76, 80, 84, 88, 92, 140, 144, 152, 168, 176, 184];

    private void CtxAccess()
    {
        int off = type == ProgramType.Xdp
            ? random.Next(4) == 0 ? random.Next(-4, 40) : 4 * random.Next(6)
            : random.Next(4) == 0 ? random.Next(-4, 200) : SkbFields[random.Next(SkbFields.Length)];
        var size = random.Next(4) == 0 ? Size() : AccessSize.Word;
        if (random.Next(5) == 0)
            Emit(random.Next(2) == 0 ? Instruction.StoreImm(size, Ctx, (short)off, Imm()) : Stx(size, Ctx, Reg(), (short)off));
        else
            Emit(Ldx(size, Reg(), Ctx, (short)off));
    }

    /// <summary>data/data_end, a bounds check in one of its four spellings, then an access near the checked end.</summary>
    private void Packet()
    {
        if (type == ProgramType.SocketFilter && random.Next(2) == 0)
        {
            // Legacy packet loads: r6 must hold ctx; r0 receives the value, r1-r5 are clobbered.
            var size = (AccessSize)(random.Next(3) << 3);
            if (random.Next(2) == 0)
                Emit(new Instruction((byte)(0x20 | (byte)size), 0, 0, 0, random.Next(4) == 0 ? Imm() : random.Next(80)));
            else
                Emit(new Instruction((byte)(0x40 | (byte)size), 0, Reg(), 0, random.Next(40)));
            return;
        }
        (short data, short end) = type == ProgramType.Xdp ? ((short)0, (short)4) : ((short)76, (short)80);
        Emit(Ldx(AccessSize.Word, 2, Ctx, data));
        Emit(Ldx(AccessSize.Word, 3, Ctx, end));
        int k = random.Next(4) == 0 ? random.Next(-8, 70) : 8 * random.Next(1, 8);
        Emit(Mov64Reg(4, 2));
        Emit(Alu(true, AluOperation.Add, false, 4, 0, k));
        var access = new List<Instruction>();
        var size2 = Size();
        int at = random.Next(3) == 0 ? random.Next(-2, Math.Max(k, 0) + 3) : Math.Max(0, k - Width(size2));
        byte via = random.Next(4) == 0 ? (byte)4 : (byte)2;
        if (via == 4) at -= k;
        access.Add(random.Next(4) == 0 ? Stx(size2, via, Reg(), (short)at) : Ldx(size2, 5, via, (short)at));
        if (random.Next(3) == 0)
            access.Add(Mov64Reg(random.Next(2) == 0 ? (byte)7 : (byte)8, via));
        short skip = (short)access.Count;
        // Four spellings of "data + k <= data_end"; off by one variants come from random k/at.
        switch (random.Next(5))
        {
            case 0: Emit(Instruction.JumpReg(JumpOperation.Jgt, 4, 3, skip)); break;
            case 1: Emit(Instruction.JumpReg(JumpOperation.Jlt, 3, 4, skip)); break;
            case 2: Emit(Instruction.JumpReg(JumpOperation.Jge, 3, 4, 1)); Emit(Instruction.Ja(skip)); break;
            case 3: Emit(Instruction.JumpReg(JumpOperation.Jle, 4, 3, 1)); Emit(Instruction.Ja(skip)); break;
            default: Emit(Instruction.JumpReg(random.Next(2) == 0 ? JumpOperation.Jge : JumpOperation.Jlt, 4, 3, skip)); break;
        }
        foreach (var a in access) Emit(a);
    }

    private void MapLookup(int depth)
    {
        int map = random.Next(2);
        Emit(Instruction.StoreImm(AccessSize.Word, 10, -4, random.Next(6) == 0 ? Imm() : random.Next(5)));
        Emit(Mov64Reg(2, 10));
        Emit(Alu(true, AluOperation.Add, false, 2, 0, random.Next(8) == 0 ? -8 : -4));
        var (a, b) = Instruction.LoadImm64(1, map, LoadImm64Source.MapFd);
        Emit(a);
        Emit(b);
        Emit(Instruction.CallHelper(random.Next(6) == 0 ? 3 : 1)); // lookup, sometimes delete
        InitialiseRegisters(1, 2, 3, 4, 5);
        var body = new List<Instruction>();
        for (int i = 0, n = 1 + random.Next(3); i < n; i++)
        {
            var size = Size();
            short off = (short)(random.Next(4) == 0 ? random.Next(-4, 20) : Width(size) * random.Next((int)FuzzMaps.ValueSize / Width(size)));
            body.Add(random.Next(3) switch
            {
                0 => Stx(size, 0, Reg(), off),
                1 => Instruction.StoreImm(size, 0, off, Imm()),
                _ => Ldx(size, Reg() is var r && r == 0 ? (byte)7 : r, 0, off),
            });
        }
        if (random.Next(3) == 0)
            body.Add(Mov64Reg(7, 0)); // keep the value pointer around
        if (random.Next(8) != 0)
            Emit(Instruction.Jump(random.Next(6) == 0 ? JumpOperation.Jne : JumpOperation.Jeq, 0, 0, (short)body.Count));
        foreach (var insn in body) Emit(insn);
        if (depth == 0 && random.Next(4) == 0)
            Emit(Mov64Imm(0, 0));
    }

    private void HelperCall()
    {
        HelperCallOnly();
        InitialiseRegisters(1, 2, 3, 4, 5);
    }

    private void HelperCallOnly()
    {
        switch (random.Next(5))
        {
            case 0: Emit(Instruction.CallHelper(7)); _nondeterministic = true; break;   // get_prandom_u32
            case 1: Emit(Instruction.CallHelper(5)); _nondeterministic = true; break;   // ktime_get_ns
            case 2: Emit(Instruction.CallHelper(8)); _nondeterministic = true; break;   // get_smp_processor_id
            case 3:
                // map_update_elem(map, fp-4 key, fp-24 value, flags)
                Emit(Instruction.StoreImm(AccessSize.Word, 10, -4, random.Next(5)));
                if (random.Next(3) != 0) Emit(Instruction.StoreImm(AccessSize.DoubleWord, 10, -24, Imm()));
                if (random.Next(3) != 0) Emit(Instruction.StoreImm(AccessSize.DoubleWord, 10, -16, Imm()));
                var (a, b) = Instruction.LoadImm64(1, random.Next(2), LoadImm64Source.MapFd);
                Emit(a); Emit(b);
                Emit(Mov64Reg(2, 10)); Emit(Alu(true, AluOperation.Add, false, 2, 0, -4));
                Emit(Mov64Reg(3, 10)); Emit(Alu(true, AluOperation.Add, false, 3, 0, -24));
                Emit(Mov64Imm(4, random.Next(5) == 0 ? 3 : 0));
                Emit(Instruction.CallHelper(2));
                break;
            default:
                Emit(Instruction.CallHelper(random.Next(4) == 0 ? random.Next(220) : 1)); // anything: arguments are what they are
                break;
        }
    }

    private void Atomic()
    {
        int[] ops = [0x00, 0x40, 0x50, 0xa0, 0x01, 0x41, 0x51, 0xa1, 0xe1, 0xf1];
        var size = random.Next(2) == 0 ? AccessSize.DoubleWord : AccessSize.Word;
        short off = random.Next(4) == 0 ? StackOffset(size) : (short)-8;
        if (random.Next(2) == 0)
            Emit(Instruction.StoreImm(AccessSize.DoubleWord, 10, -8, Imm()));
        byte src = random.Next(5) == 0 ? Ctx : Reg();
        if (random.Next(3) == 0)
            Emit(Mov64Imm(0, Imm())); // cmpxchg compares with r0
        Emit(new Instruction((byte)(0x03 | 0xc0 | (byte)size), 10, src, off, ops[random.Next(ops.Length)]));
    }

    /// <summary>Stack accesses through a variable offset (misalignment and bounds are the interesting part).</summary>
    private void VariableStack()
    {
        Emit(Ldx(AccessSize.Word, 7, Ctx, 0));
        Emit(Alu(true, AluOperation.And, false, 7, 0, random.Next(3) == 0 ? random.Next(1, 64) : 7 << random.Next(3)));
        if (random.Next(3) != 0) Emit(Alu(true, AluOperation.Neg, false, 7, 0, 0));
        Emit(Mov64Reg(8, 10));
        Emit(Alu(true, AluOperation.Add, true, 8, 7, 0));
        var size = Size();
        short off = (short)-random.Next(1, 80);
        if (random.Next(3) == 0)
            Emit(Stx(size, 8, Reg(), off));
        else
            Emit(Ldx(size, 9, 8, off));
    }

    private void PointerArithmetic()
    {
        byte r = random.Next(2) == 0 ? (byte)7 : (byte)8;
        Emit(Mov64Reg(r, random.Next(2) == 0 ? Ctx : (byte)10));
        var ops = new[] { AluOperation.Add, AluOperation.Sub, AluOperation.Neg, AluOperation.And, AluOperation.Or, AluOperation.Lsh };
        var op = ops[random.Next(ops.Length)];
        Emit(Alu(random.Next(5) != 0, op, random.Next(4) == 0, r, Reg(), op == AluOperation.Neg ? 0 : random.Next(-64, 64)));
        if (random.Next(2) == 0)
            Emit(Ldx(Size(), 9, r, (short)random.Next(-16, 16)));
    }

    /// <summary>A mostly-valid opcode with random fields, now and then a random byte: the decoder's part of the stream.</summary>
    private Instruction RawRandom()
    {
        byte[] opcodes = [0x07, 0x0f, 0x04, 0x0c, 0x37, 0x3f, 0x97, 0x9f, 0x87, 0x84, 0xd4, 0xdc, 0xd7, 0x61, 0x69, 0x71, 0x79, 0x62, 0x63, 0x7a, 0x7b,
            0x05, 0x06, 0x15, 0x1d, 0x16, 0x95, 0x85, 0xdb, 0xc3, 0x91, 0x89, 0x81, 0xbf, 0xbc, 0xb7, 0xb4, 0x8d, 0x20, 0x48];
        byte opcode = random.Next(6) == 0 ? (byte)random.Next(256) : opcodes[random.Next(opcodes.Length)];
        byte dst = random.Next(5) == 0 ? (byte)random.Next(16) : Reg();
        byte src = random.Next(3) == 0 ? (byte)random.Next(16) : (byte)0;
        short off = random.Next(3) == 0 ? (short)random.Next(-2, 3) : (short)0;
        int imm = random.Next(3) == 0 ? Imm() : 0;
        // Jumps stay inside the program more often than not.
        if ((opcode & 0x07) is 0x05 or 0x06 && (opcode & 0xf0) is not (0x80 or 0x90))
            off = (short)random.Next(0, 3);
        return new Instruction(opcode, dst, src, off, imm);
    }

    private static readonly JumpOperation[] Conditions =
    [
        JumpOperation.Jeq, JumpOperation.Jgt, JumpOperation.Jge, JumpOperation.Jset, JumpOperation.Jne, JumpOperation.Jsgt,
        JumpOperation.Jsge, JumpOperation.Jlt, JumpOperation.Jle, JumpOperation.Jslt, JumpOperation.Jsle,
    ];

    private void Branch(int depth)
    {
        int start = _code.Count;
        Emit(default); // placeholder
        for (int i = 0, n = 1 + random.Next(3); i < n; i++)
            Snippet(depth + 1);
        short skip = (short)(_code.Count - start - 1);
        var op = Conditions[random.Next(Conditions.Length)];
        bool is32 = random.Next(4) == 0;
        byte cls = is32 ? (byte)InstructionClass.Jmp32 : (byte)InstructionClass.Jmp;
        _code[start] = random.Next(3) == 0
            ? new Instruction((byte)(cls | (byte)op | 8), Reg(), Reg(), skip, 0)
            : new Instruction((byte)(cls | (byte)op), Reg(), 0, skip, random.Next(3) == 0 ? Imm() : random.Next(-2, 100));
    }

    private void Loop(int depth)
    {
        byte i = random.Next(2) == 0 ? (byte)8 : (byte)9;
        Emit(Mov64Imm(i, 0));
        int top = _code.Count;
        for (int k = 0, n = random.Next(3); k < n; k++)
            Snippet(depth + 2);
        Emit(Alu(true, AluOperation.Add, false, i, 0, 1));
        // Small bounds: a loop the verifier must unroll a million times costs both verifiers seconds and tests nothing new.
        int bound = random.Next(8) == 0 ? random.Next(-2, 64) : random.Next(1, 20);
        short back = (short)(top - (_code.Count + 1));
        Emit(Instruction.Jump(random.Next(2) == 0 ? JumpOperation.Jlt : JumpOperation.Jne, i, bound, back));
    }
}
