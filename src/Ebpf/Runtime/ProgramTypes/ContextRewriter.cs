using Ebpf.Isa;

namespace Ebpf.Runtime.ProgramTypes;

/// <summary>
/// The runtime's stand-in for the verifier's convert_ctx_accesses, for programs that run
/// unverified in the checked interpreter. The context block starts with the user-visible struct,
/// so scalar fields need no rewrite; only fields that the kernel turns into 64-bit pointers
/// (xdp_md.data, __sk_buff.data_end, …) do. A must-dataflow finds, per instruction, the registers
/// and 8-byte stack slots that certainly hold the unmodified ctx pointer (R1 at entry, copies,
/// spills and fills, arguments of bpf-to-bpf calls); a load from such a register at a pointer
/// field's offset and size becomes an 8-byte load of the internal pointer slot. The instruction
/// count never changes, so jumps and line info stay valid.
/// Not covered (the verifier's job once it exists): narrow-load quirks of u16-backed fields, ctx
/// pointers moved through maps or callee-saved across a callback, writes that the kernel
/// converts (tc's queue_mapping / tc_index truncation).
/// </summary>
public static class ContextRewriter
{
    private const int StackSlots = 64; // 512-byte stack / 8

    /// <summary>Returns the rewritten instructions (the input when the type has no pointer fields).</summary>
    public static Instruction[] Rewrite(ReadOnlySpan<Instruction> program, ProgramTypeInfo type)
    {
        var output = program.ToArray();
        if (type.PointerFields.Count == 0)
            return output;
        var states = Analyse(program);
        for (int pc = 0; pc < program.Length; pc++)
        {
            var insn = program[pc];
            if (states[pc] is not { } state || insn.Class != InstructionClass.Ldx || insn.AccessMode != AccessMode.Mem)
                continue;
            if (!state.IsCtx(insn.Src))
                continue;
            var field = type.PointerFieldAt(insn.Offset, SizeOf(insn.AccessSize));
            if (field is null)
                continue;
            byte opcode = (byte)((byte)InstructionClass.Ldx | (byte)AccessMode.Mem | (byte)AccessSize.DoubleWord);
            output[pc] = new Instruction(opcode, insn.Dst, insn.Src, checked((short)field.InternalOffset), insn.Imm);
        }
        return output;
    }

    private static int SizeOf(AccessSize size) => size switch
    {
        AccessSize.Byte => 1,
        AccessSize.Half => 2,
        AccessSize.Word => 4,
        _ => 8,
    };

    /// <summary>Registers (bits 0..10) and stack slots (bits of a second mask) known to hold ctx.</summary>
    private readonly record struct State(ushort Regs, ulong Slots)
    {
        public bool IsCtx(int reg) => (Regs & (1 << reg)) != 0;
        public State Meet(State other) => new((ushort)(Regs & other.Regs), Slots & other.Slots);
        public State SetReg(int reg, bool ctx) => new(ctx ? (ushort)(Regs | (1 << reg)) : (ushort)(Regs & ~(1 << reg)), Slots);
        public State SetSlot(int slot, bool ctx) => new(Regs, ctx ? Slots | (1UL << slot) : Slots & ~(1UL << slot));
    }

    private static State?[] Analyse(ReadOnlySpan<Instruction> program)
    {
        var states = new State?[program.Length];
        var work = new Stack<int>();
        void Flow(int target, State s, State?[] st, Stack<int> w)
        {
            if ((uint)target >= (uint)st.Length)
                return;
            var merged = st[target] is { } old ? old.Meet(s) : s;
            if (st[target] != merged)
            {
                st[target] = merged;
                w.Push(target);
            }
        }
        Flow(0, new State(1 << 1, 0), states, work);
        int guard = program.Length * 200 + 1000; // the lattice is finite; this only bounds pathological inputs
        while (work.Count > 0 && guard-- > 0)
        {
            int pc = work.Pop();
            var s = states[pc]!.Value;
            var insn = program[pc];
            switch (insn.Class)
            {
                case InstructionClass.Alu64 when insn.AluOperation == AluOperation.Mov && insn.Source == OperandSource.Register && insn.Offset == 0:
                    Flow(pc + 1, s.SetReg(insn.Dst, s.IsCtx(insn.Src)), states, work);
                    break;
                case InstructionClass.Alu or InstructionClass.Alu64:
                    Flow(pc + 1, s.SetReg(insn.Dst, false), states, work);
                    break;
                case InstructionClass.Ldx:
                {
                    bool fill = insn.Src == 10 && insn.AccessSize == AccessSize.DoubleWord && insn.AccessMode == AccessMode.Mem
                        && Slot(insn.Offset) is int slot && (s.Slots & (1UL << slot)) != 0;
                    Flow(pc + 1, s.SetReg(insn.Dst, fill), states, work);
                    break;
                }
                case InstructionClass.Stx or InstructionClass.St:
                {
                    var next = s;
                    if (insn.Dst == 10)
                    {
                        // Any store overlapping a slot invalidates it; an 8-byte spill of ctx re-validates it.
                        int size = SizeOf(insn.AccessSize);
                        for (int b = insn.Offset; b < insn.Offset + size; b++)
                            if (Slot((short)(b & ~7)) is int touched)
                                next = next.SetSlot(touched, false);
                        bool spill = insn.Class == InstructionClass.Stx && insn.AccessMode == AccessMode.Mem
                            && insn.AccessSize == AccessSize.DoubleWord && s.IsCtx(insn.Src);
                        if (spill && Slot(insn.Offset) is int slot)
                            next = next.SetSlot(slot, true);
                    }
                    if (insn.Class == InstructionClass.Stx && insn.AccessMode == AccessMode.Atomic && (insn.Imm & 1) != 0)
                        next = next.SetReg(insn.Imm == 0xf1 ? 0 : insn.Src, false); // fetch forms write a register
                    Flow(pc + 1, next, states, work);
                    break;
                }
                case InstructionClass.Ld:
                    if (insn.IsLoadImm64)
                        Flow(pc + 2, s.SetReg(insn.Dst, false), states, work);
                    else
                        Flow(pc + 1, new State((ushort)(s.Regs & ~0x3f), s.Slots), states, work); // LD_ABS/IND clobber r0-r5
                    break;
                case InstructionClass.Jmp or InstructionClass.Jmp32:
                {
                    if (insn.IsExit)
                        break;
                    if (insn.IsCall)
                    {
                        if (insn.IsLocalCall)
                        {
                            // The callee sees the caller's r1-r5; its own frame starts with no ctx spills.
                            Flow(pc + 1 + insn.Imm, new State((ushort)(s.Regs & 0x3e), 0), states, work);
                        }
                        Flow(pc + 1, new State((ushort)(s.Regs & ~0x3f), s.Slots), states, work);
                        break;
                    }
                    bool uncond = insn.JumpOperation == JumpOperation.Ja;
                    int target = pc + 1 + (insn.Class == InstructionClass.Jmp32 && uncond ? insn.Imm : insn.Offset);
                    Flow(target, s, states, work);
                    if (!uncond)
                        Flow(pc + 1, s, states, work);
                    break;
                }
                default:
                    Flow(pc + 1, s, states, work);
                    break;
            }
        }
        return states;
    }

    private static int? Slot(short offset) =>
        offset < 0 && offset >= -StackSlots * 8 && offset % 8 == 0 ? (-offset / 8) - 1 : null;
}
