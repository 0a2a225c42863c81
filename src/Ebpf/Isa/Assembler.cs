namespace Ebpf.Isa;

/// <summary>
/// Assembler for the bpf_conformance text dialect (the <c>-- asm</c> sections of the conformance suite):
/// <c>mov32 %r0, 1</c>, <c>ldxdw %r0, [%r10-8]</c>, <c>lock fetch add32 [%r1+4], %r2</c>, <c>call local f</c>,
/// labels <c>name:</c>, <c>#</c> comments. Jump targets are labels or signed slot offsets (<c>+3</c>, <c>-2</c>);
/// a jump to the undeclared label <c>exit</c> goes to the first <c>exit</c> instruction, as in bpf_conformance.
/// <para>
/// Extensions beyond the suite, so that every instruction the kernel accepts has a text form
/// (the conformance-style disassembler emits them): <c>lddw %r1, map_fd 3</c> (pseudo sources
/// map_fd, map_value, btf_id, func, map_idx, map_idx_value), <c>call helper N</c>, <c>call runtime N</c> (kfunc, src=2),
/// <c>callx %rN</c>, <c>gotol</c> (= <c>ja32</c>), <c>may_goto +N</c>, <c>ldabs{b,h,w,dw} imm</c>, <c>ldind{b,h,w,dw} %rS, imm</c>,
/// <c>ldacq{b,h,w,dw} %rD, [%rS+off]</c> (load-acquire), <c>strel{b,h,w,dw} [%rD+off], %rS</c> (store-release),
/// and <c>.insn 0x…</c> for one raw slot (a little-endian u64 as in <c>-- raw</c>), which covers anything else.
/// </para>
/// Errors are <see cref="BpfException"/> (EINVAL) formatted <c>name:line: reason</c>.
/// </summary>
public static class Assembler
{
    /// <summary>
    /// Assembles kernel-syntax text (<c>r0 = 1</c>, <c>if r1 &gt; 2 goto +3</c>, labels) into instructions; a bad
    /// line throws a <see cref="BpfException"/> naming <paramref name="sourceName"/> and the line.
    /// </summary>
    public static Instruction[] Assemble(string source, string sourceName = "<asm>")
    {
        ArgumentNullException.ThrowIfNull(source);
        var state = new AssemblerState(sourceName);
        string[] lines = source.Split('\n');
        for (int i = 0; i < lines.Length; i++)
            state.Line(lines[i], i + 1);
        return state.Finish();
    }

    private sealed class AssemblerState(string sourceName)
    {
        private readonly List<Instruction> _output = [];
        private readonly Dictionary<string, (int Slot, int Line)> _labels = new(StringComparer.Ordinal);
        private readonly List<Fixup> _fixups = [];
        private int _firstExitSlot = -1;
        private int _lineNumber;
        private string _lineText = "";

        private enum FixupField { Offset, Imm }

        private readonly record struct Fixup(int Slot, string Label, FixupField Field, int Line, string Text);

        public void Line(string raw, int lineNumber)
        {
            _lineNumber = lineNumber;
            _lineText = raw.TrimEnd('\r').Trim();
            string line = raw;
            int hash = line.IndexOf('#');
            if (hash >= 0)
                line = line[..hash];
            line = line.Trim();
            try
            {
                line = TakeLabels(line);
                if (line.Length == 0)
                    return;
                int space = line.IndexOfAny([' ', '\t']);
                string mnemonic = space < 0 ? line : line[..space];
                string rest = space < 0 ? "" : line[(space + 1)..].Trim();
                Instruction(mnemonic.ToLowerInvariant(), rest);
            }
            catch (AsmError e)
            {
                throw Error(e.Message);
            }
        }

        public Instruction[] Finish()
        {
            var result = _output.ToArray();
            foreach (var fixup in _fixups)
            {
                int target;
                if (_labels.TryGetValue(fixup.Label, out var label))
                    target = label.Slot;
                else if (fixup.Label == "exit" && _firstExitSlot >= 0)
                    target = _firstExitSlot;
                else
                    throw new BpfException(Errno.EINVAL, $"{sourceName}:{fixup.Line}: unknown label '{fixup.Label}' in '{fixup.Text}'");
                long delta = (long)target - fixup.Slot - 1;
                var insn = result[fixup.Slot];
                if (fixup.Field == FixupField.Imm)
                {
                    result[fixup.Slot] = insn.WithImm((int)delta);
                }
                else
                {
                    if (delta is < short.MinValue or > short.MaxValue)
                        throw new BpfException(Errno.EINVAL, $"{sourceName}:{fixup.Line}: jump to '{fixup.Label}' is {delta} slots away, beyond the 16-bit offset (use ja32/gotol)");
                    result[fixup.Slot] = insn.WithOffset((short)delta);
                }
            }
            return result;
        }

        private BpfException Error(string reason) =>
            new(Errno.EINVAL, $"{sourceName}:{_lineNumber}: {reason} in '{_lineText}'");

        private string TakeLabels(string line)
        {
            while (true)
            {
                int colon = line.IndexOf(':');
                if (colon <= 0 || !IsLabelName(line.AsSpan(0, colon)))
                    return line;
                string name = line[..colon];
                if (_labels.TryGetValue(name, out var previous))
                    throw new AsmError($"duplicate label '{name}' (first declared on line {previous.Line})");
                _labels[name] = (_output.Count, _lineNumber);
                line = line[(colon + 1)..].Trim();
            }
        }

        private static bool IsLabelName(ReadOnlySpan<char> name)
        {
            if (name.Length == 0 || char.IsDigit(name[0]))
                return false;
            foreach (char c in name)
            {
                if (!(char.IsAsciiLetterOrDigit(c) || c is '_' or '.' or '$'))
                    return false;
            }
            return true;
        }

        private void Emit(Instruction insn) => _output.Add(insn);

        private static string[] Operands(string rest, int expected, string mnemonic)
        {
            string[] ops = rest.Length == 0 ? [] : rest.Split(',');
            for (int i = 0; i < ops.Length; i++)
            {
                ops[i] = ops[i].Trim();
                if (ops[i].Length == 0)
                    throw new AsmError($"empty operand {i + 1} of '{mnemonic}'");
            }
            if (ops.Length != expected)
                throw new AsmError($"'{mnemonic}' takes {expected} operand{(expected == 1 ? "" : "s")}, got {ops.Length}");
            return ops;
        }

        /// <summary>Records a jump target: a signed number is used as is, a name is resolved in <see cref="Finish"/>.</summary>
        private int Target(string text, FixupField field, bool wide)
        {
            string t = text.Trim();
            if (AsmOperands.IsNumber(t))
            {
                long v = AsmOperands.Integer(t, "jump offset");
                if (wide ? v is < int.MinValue or > int.MaxValue : v is < short.MinValue or > short.MaxValue)
                    throw new AsmError($"jump offset '{t}' out of range");
                return (int)v;
            }
            if (!IsLabelName(t))
                throw new AsmError($"invalid jump target '{t}'");
            _fixups.Add(new Fixup(_output.Count, t, field, _lineNumber, _lineText));
            return 0;
        }

        private void Instruction(string mnemonic, string rest)
        {
            if (mnemonic == ".insn")
            {
                var op = Operands(rest, 1, mnemonic);
                Emit(Isa.Instruction.FromRaw(unchecked((ulong)AsmOperands.Imm64(op[0]))));
                return;
            }
            if (mnemonic == "lock")
            {
                Atomic(rest);
                return;
            }
            if (mnemonic == "exit")
            {
                Operands(rest, 0, mnemonic);
                if (_firstExitSlot < 0)
                    _firstExitSlot = _output.Count;
                Emit(Isa.Instruction.Exit());
                return;
            }
            if (mnemonic is "call" or "callx")
            {
                Call(mnemonic, rest);
                return;
            }
            if (mnemonic == "lddw")
            {
                LoadImm64(rest);
                return;
            }
            if (mnemonic == "may_goto")
            {
                var op = Operands(rest, 1, mnemonic);
                Emit(new Instruction(OpcodeExtras.MayGoto, 0, 0, (short)Target(op[0], FixupField.Offset, wide: false), 0));
                return;
            }
            if (mnemonic is "ja" or "ja32" or "gotol")
            {
                var op = Operands(rest, 1, mnemonic);
                if (mnemonic == "ja")
                    Emit(new Instruction(Opcodes.Ja, 0, 0, (short)Target(op[0], FixupField.Offset, wide: false), 0));
                else
                    Emit(new Instruction(Opcodes.Ja32, 0, 0, 0, Target(op[0], FixupField.Imm, wide: true)));
                return;
            }
            if (TryConditionalJump(mnemonic, rest) || TryMemory(mnemonic, rest) || TryEndian(mnemonic, rest) || TryAlu(mnemonic, rest))
                return;
            throw new AsmError($"unknown mnemonic '{mnemonic}'");
        }

        private void Call(string mnemonic, string rest)
        {
            string mode = "";
            string target = rest;
            int space = rest.IndexOfAny([' ', '\t']);
            if (space > 0 && rest[..space] is "helper" or "local" or "runtime")
            {
                mode = rest[..space];
                target = rest[(space + 1)..].Trim();
            }
            var op = Operands(target, 1, mnemonic);
            if (mnemonic == "callx" || (mode is "" or "helper" && op[0].StartsWith('%')))
            {
                // callx: Linux and bpf_conformance put the target register in dst_reg.
                Emit(new Instruction(Opcodes.Callx, AsmOperands.Register(op[0]), 0, 0, 0));
                return;
            }
            switch (mode)
            {
                case "local":
                    Emit(new Instruction(Opcodes.Call, 0, (byte)CallSource.Local, 0, Target(op[0], FixupField.Imm, wide: true)));
                    break;
                case "runtime":
                    Emit(new Instruction(Opcodes.Call, 0, (byte)CallSource.Kfunc, 0, AsmOperands.Imm32(op[0])));
                    break;
                default:
                    Emit(new Instruction(Opcodes.Call, 0, (byte)CallSource.Helper, 0, AsmOperands.Imm32(op[0])));
                    break;
            }
        }

        private static readonly Dictionary<string, LoadImm64Source> PseudoSources = new(StringComparer.Ordinal)
        {
            ["map_fd"] = LoadImm64Source.MapFd,
            ["map_value"] = LoadImm64Source.MapValue,
            ["btf_id"] = LoadImm64Source.BtfId,
            ["func"] = LoadImm64Source.Function,
            ["map_idx"] = LoadImm64Source.MapIndex,
            ["map_idx_value"] = LoadImm64Source.MapIndexValue,
        };

        private void LoadImm64(string rest)
        {
            var op = Operands(rest, 2, "lddw");
            byte dst = AsmOperands.Register(op[0]);
            string value = op[1];
            var source = LoadImm64Source.Imm64;
            int space = value.IndexOfAny([' ', '\t']);
            if (space > 0)
            {
                if (!PseudoSources.TryGetValue(value[..space], out source))
                    throw new AsmError($"unknown lddw source '{value[..space]}' (expected map_fd, map_value, btf_id, func, map_idx or map_idx_value)");
                value = value[(space + 1)..].Trim();
            }
            // lddw %rN, func label: the imm is the pc-relative slot offset of the function, like call local.
            long imm64 = source == LoadImm64Source.Function && !AsmOperands.IsNumber(value)
                ? Target(value, FixupField.Imm, wide: true)
                : AsmOperands.Imm64(value);
            var (first, second) = Isa.Instruction.LoadImm64(dst, imm64, source);
            Emit(first);
            Emit(second);
        }

        private static readonly Dictionary<string, JumpOperation> ConditionalJumps = new(StringComparer.Ordinal)
        {
            ["jeq"] = JumpOperation.Jeq, ["jgt"] = JumpOperation.Jgt, ["jge"] = JumpOperation.Jge,
            ["jset"] = JumpOperation.Jset, ["jne"] = JumpOperation.Jne, ["jsgt"] = JumpOperation.Jsgt,
            ["jsge"] = JumpOperation.Jsge, ["jlt"] = JumpOperation.Jlt, ["jle"] = JumpOperation.Jle,
            ["jslt"] = JumpOperation.Jslt, ["jsle"] = JumpOperation.Jsle,
        };

        private bool TryConditionalJump(string mnemonic, string rest)
        {
            var cls = InstructionClass.Jmp;
            string name = mnemonic;
            if (name.EndsWith("32", StringComparison.Ordinal))
            {
                cls = InstructionClass.Jmp32;
                name = name[..^2];
            }
            if (!ConditionalJumps.TryGetValue(name, out var op))
                return false;
            var ops = Operands(rest, 3, mnemonic);
            byte dst = AsmOperands.Register(ops[0]);
            bool reg = AsmOperands.LooksLikeRegister(ops[1]);
            byte src = reg ? AsmOperands.Register(ops[1]) : (byte)0;
            int imm = reg ? 0 : AsmOperands.Imm32(ops[1]);
            var opcode = Opcodes.Jump(cls, op, reg ? OperandSource.Register : OperandSource.Immediate);
            short off = (short)Target(ops[2], FixupField.Offset, wide: false);
            Emit(new Instruction(opcode, dst, src, off, imm));
            return true;
        }

        private static bool TrySize(string suffix, out AccessSize size)
        {
            switch (suffix)
            {
                case "b": size = AccessSize.Byte; return true;
                case "h": size = AccessSize.Half; return true;
                case "w": size = AccessSize.Word; return true;
                case "dw": size = AccessSize.DoubleWord; return true;
                default: size = default; return false;
            }
        }

        private bool TryMemory(string mnemonic, string rest)
        {
            AccessSize size;
            if (mnemonic.StartsWith("ldacq", StringComparison.Ordinal) && TrySize(mnemonic[5..], out size))
            {
                // load-acquire: BPF_ATOMIC with imm BPF_LOAD_ACQ, dst = *(src + off)
                var op = Operands(rest, 2, mnemonic);
                var (src, off) = AsmOperands.Memory(op[1]);
                Emit(new Instruction(Opcodes.Memory(InstructionClass.Stx, AccessMode.Atomic, size), AsmOperands.Register(op[0]), src, off, OpcodeExtras.LoadAcquire));
                return true;
            }
            if (mnemonic.StartsWith("strel", StringComparison.Ordinal) && TrySize(mnemonic[5..], out size))
            {
                // store-release: BPF_ATOMIC with imm BPF_STORE_REL, *(dst + off) = src
                var op = Operands(rest, 2, mnemonic);
                var (dst, off) = AsmOperands.Memory(op[0]);
                Emit(new Instruction(Opcodes.Memory(InstructionClass.Stx, AccessMode.Atomic, size), dst, AsmOperands.Register(op[1]), off, OpcodeExtras.StoreRelease));
                return true;
            }
            if (mnemonic.StartsWith("ldxs", StringComparison.Ordinal) && TrySize(mnemonic[4..], out size))
            {
                var op = Operands(rest, 2, mnemonic);
                var (src, off) = AsmOperands.Memory(op[1]);
                Emit(new Instruction(Opcodes.Memory(InstructionClass.Ldx, AccessMode.MemSx, size), AsmOperands.Register(op[0]), src, off, 0));
                return true;
            }
            if (mnemonic.StartsWith("ldx", StringComparison.Ordinal) && TrySize(mnemonic[3..], out size))
            {
                var op = Operands(rest, 2, mnemonic);
                var (src, off) = AsmOperands.Memory(op[1]);
                Emit(Isa.Instruction.LoadMem(size, AsmOperands.Register(op[0]), src, off));
                return true;
            }
            if (mnemonic.StartsWith("stx", StringComparison.Ordinal) && TrySize(mnemonic[3..], out size))
            {
                var op = Operands(rest, 2, mnemonic);
                var (dst, off) = AsmOperands.Memory(op[0]);
                Emit(Isa.Instruction.StoreMem(size, dst, AsmOperands.Register(op[1]), off));
                return true;
            }
            if (mnemonic.StartsWith("st", StringComparison.Ordinal) && TrySize(mnemonic[2..], out size))
            {
                var op = Operands(rest, 2, mnemonic);
                var (dst, off) = AsmOperands.Memory(op[0]);
                Emit(Isa.Instruction.StoreImm(size, dst, off, AsmOperands.Imm32(op[1])));
                return true;
            }
            if (mnemonic.StartsWith("ldabs", StringComparison.Ordinal) && TrySize(mnemonic[5..], out size))
            {
                var op = Operands(rest, 1, mnemonic);
                Emit(new Instruction(Opcodes.Memory(InstructionClass.Ld, AccessMode.Abs, size), 0, 0, 0, AsmOperands.Imm32(op[0])));
                return true;
            }
            if (mnemonic.StartsWith("ldind", StringComparison.Ordinal) && TrySize(mnemonic[5..], out size))
            {
                var op = Operands(rest, 2, mnemonic);
                Emit(new Instruction(Opcodes.Memory(InstructionClass.Ld, AccessMode.Ind, size), 0, AsmOperands.Register(op[0]), 0, AsmOperands.Imm32(op[1])));
                return true;
            }
            return false;
        }

        private bool TryEndian(string mnemonic, string rest)
        {
            byte opcode;
            string width;
            if (mnemonic.StartsWith("le", StringComparison.Ordinal) && mnemonic.Length == 4)
                (opcode, width) = ((byte)((byte)InstructionClass.Alu | (byte)AluOperation.End | (byte)OperandSource.Immediate), mnemonic[2..]);
            else if (mnemonic.StartsWith("be", StringComparison.Ordinal) && mnemonic.Length == 4)
                (opcode, width) = ((byte)((byte)InstructionClass.Alu | (byte)AluOperation.End | (byte)OperandSource.Register), mnemonic[2..]);
            else if (mnemonic.StartsWith("swap", StringComparison.Ordinal) && mnemonic.Length == 6)
                (opcode, width) = ((byte)((byte)InstructionClass.Alu64 | (byte)AluOperation.End), mnemonic[4..]);
            else if (mnemonic.StartsWith("bswap", StringComparison.Ordinal) && mnemonic.Length == 7)
                (opcode, width) = ((byte)((byte)InstructionClass.Alu64 | (byte)AluOperation.End), mnemonic[5..]);
            else
                return false;
            if (width is not ("16" or "32" or "64"))
                return false;
            var op = Operands(rest, 1, mnemonic);
            Emit(new Instruction(opcode, AsmOperands.Register(op[0]), 0, 0, int.Parse(width, System.Globalization.CultureInfo.InvariantCulture)));
            return true;
        }

        private static readonly Dictionary<string, (AluOperation Op, short Offset)> AluOps = new(StringComparer.Ordinal)
        {
            ["add"] = (AluOperation.Add, 0), ["sub"] = (AluOperation.Sub, 0), ["mul"] = (AluOperation.Mul, 0),
            ["div"] = (AluOperation.Div, 0), ["sdiv"] = (AluOperation.Div, 1), ["or"] = (AluOperation.Or, 0),
            ["and"] = (AluOperation.And, 0), ["lsh"] = (AluOperation.Lsh, 0), ["rsh"] = (AluOperation.Rsh, 0),
            ["neg"] = (AluOperation.Neg, 0), ["mod"] = (AluOperation.Mod, 0), ["smod"] = (AluOperation.Mod, 1),
            ["xor"] = (AluOperation.Xor, 0), ["mov"] = (AluOperation.Mov, 0), ["arsh"] = (AluOperation.Arsh, 0),
            ["movsx8"] = (AluOperation.Mov, 8), ["movsx16"] = (AluOperation.Mov, 16), ["movsx32"] = (AluOperation.Mov, 32),
        };

        private bool TryAlu(string mnemonic, string rest)
        {
            var cls = InstructionClass.Alu64;
            string name = mnemonic;
            // movsx832 = movsx8 + 32-bit class; a bare "movsx32" is sign-extend-32 in ALU64.
            if (name.EndsWith("32", StringComparison.Ordinal) && AluOps.ContainsKey(name[..^2]))
            {
                cls = InstructionClass.Alu;
                name = name[..^2];
            }
            else if (name.EndsWith("64", StringComparison.Ordinal) && AluOps.ContainsKey(name[..^2]))
            {
                name = name[..^2];
            }
            if (!AluOps.TryGetValue(name, out var alu))
                return false;
            if (alu.Op == AluOperation.Neg)
            {
                var one = Operands(rest, 1, mnemonic);
                Emit(new Instruction(Opcodes.Alu(cls, AluOperation.Neg, OperandSource.Immediate), AsmOperands.Register(one[0]), 0, 0, 0));
                return true;
            }
            var op = Operands(rest, 2, mnemonic);
            byte dst = AsmOperands.Register(op[0]);
            bool reg = AsmOperands.LooksLikeRegister(op[1]);
            byte src = reg ? AsmOperands.Register(op[1]) : (byte)0;
            int imm = reg ? 0 : AsmOperands.Imm32(op[1]);
            Emit(new Instruction(Opcodes.Alu(cls, alu.Op, reg ? OperandSource.Register : OperandSource.Immediate), dst, src, alu.Offset, imm));
            return true;
        }

        private static readonly Dictionary<string, int> AtomicOps = new(StringComparer.Ordinal)
        {
            ["add"] = AtomicOperation.Add, ["or"] = AtomicOperation.Or, ["and"] = AtomicOperation.And,
            ["xor"] = AtomicOperation.Xor, ["xchg"] = AtomicOperation.Xchg, ["cmpxchg"] = AtomicOperation.Cmpxchg,
        };

        /// <summary>lock [fetch] op[32|64] [%rD+off], %rS</summary>
        private void Atomic(string rest)
        {
            string text = rest;
            bool fetch = false;
            string Word()
            {
                int space = text.IndexOfAny([' ', '\t']);
                string w = space < 0 ? text : text[..space];
                text = space < 0 ? "" : text[(space + 1)..].Trim();
                return w;
            }
            string word = Word();
            if (word == "fetch")
            {
                fetch = true;
                word = Word();
            }
            var size = AccessSize.DoubleWord;
            string name = word;
            if (name.EndsWith("32", StringComparison.Ordinal))
            {
                size = AccessSize.Word;
                name = name[..^2];
            }
            else if (name.EndsWith("64", StringComparison.Ordinal))
            {
                name = name[..^2];
            }
            if (!AtomicOps.TryGetValue(name, out int imm))
                throw new AsmError($"unknown atomic operation '{word}'");
            if (fetch)
                imm |= AtomicOperation.Fetch;
            var op = Operands(text, 2, "lock " + word);
            var (dst, off) = AsmOperands.Memory(op[0]);
            Emit(new Instruction(Opcodes.Memory(InstructionClass.Stx, AccessMode.Atomic, size), dst, AsmOperands.Register(op[1]), off, imm));
        }
    }
}
