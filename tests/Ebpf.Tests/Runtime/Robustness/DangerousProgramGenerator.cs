using Ebpf.Abi.Helpers;
using Ebpf.Isa;
using Ebpf.Runtime.Helpers;
using static Ebpf.Isa.Instruction;

namespace Ebpf.Tests.Runtime.Robustness;

/// <summary>
/// Short random programs biased toward what could hurt the host if a check were missing: 64-bit constants
/// (including live map handles and real addresses) in the argument registers right before helper calls,
/// pseudo-map lddws, random helper ids, ctx and pointer loads/stores at random offsets, random jumps, local
/// calls, callbacks, atomics and raw garbage slots. Deterministic for a given seed.
/// </summary>
internal sealed class DangerousProgramGenerator(int seed, int mapCount, IReadOnlyList<int> helperIds, IReadOnlyList<ulong> interestingValues)
{
    private readonly Random _random = new(seed);

    private static readonly int[] MapHelpers = [1, 2, 3, 12, 25, 51, 87, 88, 89, 130, 131, 132, 133, 134, 164, 181];

    public Random Random => _random;

    public Instruction[] Next()
    {
        var code = new List<Instruction>();
        bool verifiable = _random.Next(4) == 0;
        _allowRaw = _random.Next(4) == 0;
        int pieces = _random.Next(1, 9);
        code.Add(Mov64Reg(6, 1)); // keep ctx, as compiled programs do
        for (int i = 0; i < pieces; i++)
        {
            if (verifiable)
                AddVerifiablePiece(code);
            else
                AddPiece(code);
        }
        if (verifiable || _random.Next(8) != 0)
        {
            // Mostly a well-formed ending (r0 set, exit), so more programs get past the structural checks.
            code.Add(Mov64(0, _random.Next(4)));
            code.Add(Exit());
        }
        if (!verifiable && _random.Next(10) != 0)
            Retarget(code);
        return code.ToArray();
    }

    private bool _allowRaw;

    /// <summary>
    /// Pieces the verifier accepts (so the unchecked runtime and the JIT see them): raw constants in argument
    /// registers before helpers that take scalars (issue 12's first reproducer), well-formed map lookups that
    /// test for null, tail calls, and an occasional piece that is only sometimes valid.
    /// </summary>
    private void AddVerifiablePiece(List<Instruction> code)
    {
        switch (_random.Next(7))
        {
            case 5:
                // bpf_trace_printk("%s\n", 4, constant): the verifier checks nothing about the string pointer.
                code.Add(StoreImm(AccessSize.Word, 10, -24, 0x000a7325));
                code.Add(Mov64Reg(1, 10));
                code.Add(Alu64(AluOperation.Add, 1, -24));
                code.Add(Mov64(2, 4));
                AddLddw(code, 3, (long)Value());
                code.Add(CallHelper((int)HelperId.TracePrintk));
                break;
            case 0:
            case 1:
                for (int r = 1; r <= 5; r++)
                    if (_random.Next(2) == 0)
                        AddLddw(code, (byte)r, (long)Value());
                code.Add(CallHelper(Pick((int)HelperId.KtimeGetNs, (int)HelperId.GetPrandomU32, (int)HelperId.GetSmpProcessorId, 190 /* ktime_get_boot_ns */)));
                break;
            case 2:
            case 3:
            {
                code.Add(StoreImm(AccessSize.DoubleWord, 10, -8, _random.Next(0, 6)));
                var (first, second) = LoadImm64(1, _random.Next(0, 3), LoadImm64Source.MapIndex); // inner, array, hash
                code.Add(first);
                code.Add(second);
                code.Add(Mov64Reg(2, 10));
                code.Add(Alu64(AluOperation.Add, 2, -8));
                code.Add(CallHelper((int)HelperId.MapLookupElem));
                code.Add(Jump(JumpOperation.Jeq, 0, 0, 1));
                code.Add(StoreImm(AccessSize.Word, 0, (short)(_random.Next(0, 2) * 4), _random.Next()));
                break;
            }
            case 4:
            {
                code.Add(Mov64Reg(1, 6));
                var (first, second) = LoadImm64(2, 6, LoadImm64Source.MapIndex); // progs
                code.Add(first);
                code.Add(second);
                code.Add(Mov64(3, _random.Next(0, 3)));
                code.Add(CallHelper((int)HelperId.TailCall));
                break;
            }
            default:
                AddPiece(code);
                break;
        }
    }

    /// <summary>Points most out-of-range jumps, calls and function references back inside the program (not into an lddw's second half).</summary>
    private void Retarget(List<Instruction> code)
    {
        var starts = new List<int>();
        for (int pc = 0; pc < code.Count; pc++)
        {
            starts.Add(pc);
            if (code[pc].IsLoadImm64)
                pc++;
        }
        foreach (int pc in starts)
        {
            var insn = code[pc];
            bool function = insn.IsLoadImm64 && insn.Src == (byte)LoadImm64Source.Function;
            bool call = insn.Opcode == Opcodes.Call && insn.Src == (byte)CallSource.Local;
            bool jump = insn.Class is InstructionClass.Jmp or InstructionClass.Jmp32 && insn.Opcode != Opcodes.Call && insn.Opcode != Opcodes.Exit;
            if (!function && !call && !jump)
                continue;
            int target = starts[_random.Next(starts.Count)];
            int relative = target - pc - 1;
            code[pc] = function || call
                ? new Instruction(insn.Opcode, insn.Dst, insn.Src, insn.Offset, relative)
                : new Instruction(insn.Opcode, insn.Dst, insn.Src, (short)relative, insn.Imm);
        }
    }

    private void AddPiece(List<Instruction> code)
    {
        switch (_random.Next(16))
        {
            case 0:
            case 1:
            case 2:
                ConstantArgumentsThenCall(code);
                break;
            case 3:
            case 4:
                MapCall(code);
                break;
            case 5:
                CtxAccess(code);
                break;
            case 6:
                PointerAccess(code);
                break;
            case 7:
                code.Add(Jump(Pick(JumpOperation.Jeq, JumpOperation.Jne, JumpOperation.Jgt, JumpOperation.Jsle),
                    Reg(), _random.Next(-2, 3), (short)_random.Next(-6, 7)));
                break;
            case 8:
                code.Add(Ja((short)_random.Next(-4, 5)));
                break;
            case 9:
                code.Add(CallLocal(_random.Next(-6, 8)));
                break;
            case 10:
                Callback(code);
                break;
            case 11:
                Atomic(code);
                break;
            case 12:
                code.Add(Alu64Reg(Pick(AluOperation.Add, AluOperation.Sub, AluOperation.Mov, AluOperation.Xor), Reg(), Reg()));
                break;
            case 13:
                code.Add(Exit());
                break;
            case 14 when _allowRaw:
                // A raw slot: any opcode, registers, offset and immediate.
                code.Add(new Instruction((byte)_random.Next(256), (byte)_random.Next(12), (byte)_random.Next(12),
                    (short)_random.Next(-16, 17), _random.Next(-8, 300)));
                break;
            default:
                code.Add(Mov64Reg((byte)_random.Next(1, 6), 10));
                code.Add(Alu64(AluOperation.Add, (byte)_random.Next(1, 6), -_random.Next(0, 520)));
                break;
        }
    }

    private void ConstantArgumentsThenCall(List<Instruction> code)
    {
        int count = _random.Next(1, 6);
        for (int i = 0; i < count; i++)
            AddLddw(code, (byte)_random.Next(1, 6), (long)Value());
        code.Add(CallHelper(_random.Next(3) == 0 ? Pick(MapHelpers) : Helper()));
    }

    private void MapCall(List<Instruction> code)
    {
        // A pseudo-map lddw (sometimes an index out of range, sometimes a value reference) and a map helper,
        // with key/value pointers on the stack, in the wrong registers, or raw constants.
        code.Add(StoreImm(AccessSize.DoubleWord, 10, -8, _random.Next(0, 6)));
        code.Add(StoreImm(AccessSize.DoubleWord, 10, -16, _random.Next()));
        var source = _random.Next(6) == 0 ? LoadImm64Source.MapIndexValue : LoadImm64Source.MapIndex;
        var (first, second) = LoadImm64((byte)(_random.Next(4) == 0 ? _random.Next(0, 6) : 1), _random.Next(0, mapCount + 1), source);
        code.Add(first);
        code.Add(second);
        code.Add(Mov64Reg(2, 10));
        code.Add(Alu64(AluOperation.Add, 2, _random.Next(4) == 0 ? -_random.Next(0, 600) : -8));
        if (_random.Next(3) == 0)
            AddLddw(code, (byte)_random.Next(2, 6), (long)Value());
        else
        {
            code.Add(Mov64Reg(3, 10));
            code.Add(Alu64(AluOperation.Add, 3, -16));
            code.Add(Mov64(4, _random.Next(-1, 5)));
        }
        code.Add(CallHelper(Pick(MapHelpers)));
        if (_random.Next(2) == 0)
        {
            // Use what came back: a value pointer, or a null the program forgot to test.
            code.Add(Jump(JumpOperation.Jeq, 0, 0, (short)(_random.Next(3) == 0 ? 0 : 1)));
            code.Add(_random.Next(2) == 0
                ? LoadMem(AccessSize.DoubleWord, 1, 0, (short)_random.Next(-8, 24))
                : StoreImm(AccessSize.Word, 0, (short)_random.Next(-8, 24), 7));
        }
    }

    private void CtxAccess(List<Instruction> code)
    {
        var size = Pick(AccessSize.Byte, AccessSize.Half, AccessSize.Word, AccessSize.DoubleWord);
        short offset = (short)(_random.Next(3) == 0 ? _random.Next(-64, 256) : _random.Next(0, 24) * 4);
        code.Add(_random.Next(3) == 0 ? StoreImm(size, 1, offset, _random.Next()) : LoadMem(size, Reg(), 1, offset));
    }

    private void PointerAccess(List<Instruction> code)
    {
        var size = Pick(AccessSize.Byte, AccessSize.Word, AccessSize.DoubleWord);
        byte pointer = (byte)_random.Next(0, 11);
        short offset = (short)_random.Next(-520, 64);
        code.Add(_random.Next(2) == 0 ? StoreMem(size, pointer, Reg(), offset) : LoadMem(size, Reg(), pointer, offset));
    }

    private void Callback(List<Instruction> code)
    {
        // bpf_loop / for_each_map_elem / timer / find_vma callbacks: a function reference (src 4) that may
        // point anywhere, or a raw constant in its place.
        byte register = (byte)_random.Next(1, 4);
        if (_random.Next(3) == 0)
            AddLddw(code, register, (long)Value());
        else
        {
            code.Add(new Instruction(Opcodes.LoadImm64, register, (byte)LoadImm64Source.Function, 0, _random.Next(-4, 8)));
            code.Add(new Instruction(0, 0, 0, 0, 0));
        }
        code.Add(Mov64(1, _random.Next(0, 4)));
        code.Add(CallHelper(Pick(181, 164, 170, 180, 14)));
    }

    private void Atomic(List<Instruction> code)
    {
        int op = Pick(0x00, 0x01, 0x40, 0x41, 0xa0, 0xe1, 0xf1);
        byte opcode = (byte)(_random.Next(2) == 0 ? 0xdb : 0xc3);
        code.Add(new Instruction(opcode, (byte)_random.Next(0, 11), Reg(), (short)_random.Next(-16, 16), op));
    }

    private void AddLddw(List<Instruction> code, byte register, long value)
    {
        var (first, second) = LoadImm64(register, value);
        code.Add(first);
        code.Add(second);
    }

    private ulong Value() => _random.Next(8) switch
    {
        0 => 0x1_0000_0004,
        1 => (ulong)_random.NextInt64(),
        2 => (ulong)_random.Next(-16, 16),
        3 => 0xB9F0UL << 48 | (uint)_random.Next(0, 64) | (ulong)(uint)_random.Next(0, 4) << 24,
        _ => interestingValues.Count == 0 ? 0 : interestingValues[_random.Next(interestingValues.Count)] + (ulong)_random.Next(-2, 3) * 8,
    };

    private int Helper() => _random.Next(4) == 0 ? _random.Next(0, 260) : helperIds[_random.Next(helperIds.Count)];

    private byte Reg() => (byte)_random.Next(0, 10);

    private T Pick<T>(params T[] items) => items[_random.Next(items.Length)];
}
