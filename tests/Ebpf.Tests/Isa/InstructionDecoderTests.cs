using Ebpf.Isa;

namespace Ebpf.Tests.Isa;

public class InstructionDecoderTests
{
    private static DecodedInstruction DecodeOne(params Instruction[] slots) => InstructionDecoder.Decode(slots, 0);

    private static string Error(params Instruction[] slots)
    {
        Assert.False(InstructionDecoder.TryDecode(slots, 0, out _, out string? error));
        return error!;
    }

    [Fact]
    public void Decode_then_encode_reproduces_every_slot_of_the_corpus_and_fixtures()
    {
        int sections = 0, slots = 0, corpusSlots = 0;
        string fixtures = Path.Combine(SharedData.RepoRoot, "tests", "fixtures");
        var failures = new List<string>();
        foreach (var section in IsaCorpus.Sections())
        {
            sections++;
            bool fromCorpus = !section.File.StartsWith(fixtures, StringComparison.Ordinal);
            var program = section.Instructions;
            for (int i = 0; i < program.Length;)
            {
                if (!InstructionDecoder.TryDecode(program, i, out var d, out string? error))
                {
                    failures.Add($"{section} insn {i} {program[i]}: {error}");
                    i++;
                    continue;
                }
                var encoded = InstructionEncoder.Encode(d);
                for (int k = 0; k < encoded.Length; k++)
                {
                    if (encoded[k] != program[i + k])
                        failures.Add($"{section} insn {i + k}: {program[i + k]} re-encoded as {encoded[k]}");
                }
                slots += encoded.Length;
                if (fromCorpus) corpusSlots += encoded.Length;
                i += d.SlotCount;
            }
        }
        Assert.True(failures.Count == 0, $"{failures.Count} failures, first: {string.Join("\n", failures.Take(20))}");
        // README: "559,085 instruction slots, bit for bit" — the corpus's (the fixtures, which grow, come on top).
        Assert.Equal(559_085, corpusSlots);
        Assert.True(slots > corpusSlots, "no fixture instruction was checked");
    }

    [Fact]
    public void Decode_then_encode_reproduces_the_conformance_suite()
    {
        foreach (string path in Directory.EnumerateFiles(SharedData.Require("conformance/tests"), "*.data"))
        {
            var program = ConformanceDataFile.Load(path).Instructions;
            var decoded = InstructionDecoder.DecodeProgram(program, IsaExtensions.Callx);
            Assert.Equal(program, InstructionEncoder.EncodeProgram(decoded));
        }
    }

    [Fact]
    public void Semantic_fields()
    {
        var sdiv = DecodeOne(One("sdiv32 %r1, %r2"));
        Assert.Equal(InstructionKind.Alu, sdiv.Kind);
        Assert.Equal(AluOperation.Div, sdiv.AluOperation);
        Assert.True(sdiv.Signed);
        Assert.False(sdiv.Is64);
        Assert.Equal(OperandSource.Register, sdiv.Source);

        var movsx = DecodeOne(One("movsx1664 %r1, %r2"));
        Assert.Equal(InstructionKind.MoveSignExtend, movsx.Kind);
        Assert.Equal(16, movsx.SignExtendBits);
        Assert.True(movsx.Is64);

        var ldsx = DecodeOne(One("ldxsh %r1, [%r2-4]"));
        Assert.Equal(InstructionKind.Load, ldsx.Kind);
        Assert.Equal(16, ldsx.SignExtendBits);
        Assert.Equal(AccessSize.Half, ldsx.Size);

        var atomic = DecodeOne(One("lock fetch and32 [%r1+8], %r3"));
        Assert.Equal(InstructionKind.Atomic, atomic.Kind);
        Assert.Equal(AtomicKind.And, atomic.Atomic);
        Assert.True(atomic.Fetch);
        Assert.Equal(AccessSize.Word, atomic.Size);

        var cmpxchg = DecodeOne(One("lock cmpxchg [%r1+8], %r3"));
        Assert.Equal(AtomicKind.CompareExchange, cmpxchg.Atomic);
        Assert.True(cmpxchg.Fetch);

        var be = DecodeOne(One("be16 %r0"));
        Assert.Equal((InstructionKind.ByteSwap, ByteSwapKind.ToBigEndian, 16), (be.Kind, be.ByteSwap, be.SwapBits));
        var bswap = DecodeOne(One("bswap64 %r0"));
        Assert.Equal((InstructionKind.ByteSwap, ByteSwapKind.Unconditional, 64), (bswap.Kind, bswap.ByteSwap, bswap.SwapBits));

        var gotol = InstructionDecoder.Decode([new Instruction(0xbf, 0, 0, 0, 0), new Instruction(Opcodes.Ja32, 0, 0, 0, -2)], 1);
        Assert.True(gotol.IsLongJump);
        Assert.Equal(0, gotol.Target);

        var lddw = Assembler.Assemble("lddw %r1, map_idx_value 0x800000005");
        var d = DecodeOne(lddw);
        Assert.Equal((InstructionKind.LoadImm64, LoadImm64Source.MapIndexValue, 0x800000005L, 2), (d.Kind, d.PseudoSource, d.Imm64, d.SlotCount));

        var kfunc = DecodeOne(new Instruction(Opcodes.Call, 0, 2, 3, 1234));
        Assert.True(kfunc.IsKfuncCall);
        Assert.Equal(3, kfunc.Offset);

        var abs = DecodeOne(One("ldabsh 12"));
        Assert.Equal((InstructionKind.PacketLoad, AccessMode.Abs, AccessSize.Half, 12), (abs.Kind, abs.PacketMode, abs.Size, abs.Imm));

        var mayGoto = DecodeOne(new Instruction(OpcodeExtras.MayGoto, 0, 0, 5, 0));
        Assert.Equal(InstructionKind.MayGoto, mayGoto.Kind);
        Assert.Equal(6, mayGoto.Target);

        var acquire = DecodeOne(new Instruction(0xd3, 1, 2, 0, OpcodeExtras.LoadAcquire));
        Assert.Equal((InstructionKind.LoadAcquire, AccessSize.Byte), (acquire.Kind, acquire.Size));

        var cast = DecodeOne(new Instruction(0xbf, 1, 2, 1, 1));
        Assert.Equal(InstructionKind.AddressSpaceCast, cast.Kind);
    }

    private static Instruction One(string text) => Assembler.Assemble(text)[0];

    [Theory]
    [InlineData(0x8d, 0, 2, 0, 0, "unknown opcode 8d")]          // callx without the extension
    [InlineData(0x8c, 1, 0, 0, 0, "unknown opcode 8c")]          // NEG X
    [InlineData(0xdf, 1, 0, 0, 16, "unknown opcode df")]         // ALU64 END X
    [InlineData(0xe4, 1, 0, 0, 0, "unknown opcode e4")]          // ALU op 0xe0
    [InlineData(0x38, 0, 0, 0, 0, "unknown opcode 38")]          // LD ABS DW
    [InlineData(0x00, 0, 0, 0, 0, "unknown opcode 00")]          // LD IMM W
    [InlineData(0x99, 1, 2, 0, 0, "unknown opcode 99")]          // LDX MEMSX DW
    [InlineData(0x86, 0, 0, 0, 1, "unknown opcode 86")]          // JMP32 CALL
    [InlineData(0xdd, 1, 0, 0, 0, "unknown opcode dd")]          // JMP 0xd0|X... is jsle X: valid; use JMP 0xf0
    [InlineData(0xc1, 1, 2, 0, 0, "BPF_LDX uses reserved fields")] // LDX ATOMIC
    [InlineData(0x61, 1, 2, 0, 1, "BPF_LDX uses reserved fields")] // LDX imm != 0
    [InlineData(0x84, 1, 0, 0, 1, "BPF_NEG uses reserved fields")]
    [InlineData(0xd4, 1, 0, 0, 17, "BPF_END uses reserved fields")]
    [InlineData(0xd7, 1, 2, 0, 16, "BPF_END uses reserved fields")]
    [InlineData(0xbc, 1, 2, 32, 0, "BPF_MOV uses reserved fields")] // movsx32 in 32-bit ALU
    [InlineData(0xbf, 1, 2, 4, 0, "BPF_MOV uses reserved fields")]
    [InlineData(0xb7, 1, 2, 0, 0, "BPF_MOV uses reserved fields")]
    [InlineData(0xbf, 1, 2, 1, 2, "addr_space_cast insn can only convert between address space 1 and 0")]
    [InlineData(0x0f, 1, 2, 1, 0, "BPF_ALU uses reserved fields")]  // add with off=1
    [InlineData(0x07, 1, 2, 0, 0, "BPF_ALU uses reserved fields")]  // add K with src
    [InlineData(0x3f, 1, 2, 2, 0, "BPF_ALU uses reserved fields")]  // div off=2
    [InlineData(0x85, 1, 0, 0, 1, "BPF_CALL uses reserved fields")]
    [InlineData(0x85, 0, 3, 0, 1, "BPF_CALL uses reserved fields")]
    [InlineData(0x85, 0, 0, 1, 1, "BPF_CALL uses reserved fields")]
    [InlineData(0x05, 0, 0, 1, 1, "BPF_JA uses reserved fields")]
    [InlineData(0x06, 0, 0, 1, 1, "BPF_JA uses reserved fields")]
    [InlineData(0x95, 0, 0, 0, 1, "BPF_EXIT uses reserved fields")]
    [InlineData(0xe5, 0, 1, 0, 0, "invalid may_goto imm 0")]
    [InlineData(0x1d, 1, 2, 0, 5, "BPF_JMP/JMP32 uses reserved fields")]
    [InlineData(0x16, 1, 2, 0, 5, "BPF_JMP/JMP32 uses reserved fields")]
    [InlineData(0x30, 1, 0, 0, 5, "BPF_LD_[ABS|IND] uses reserved fields")]
    [InlineData(0x30, 0, 1, 0, 5, "BPF_LD_[ABS|IND] uses reserved fields")]
    [InlineData(0x62, 1, 2, 0, 5, "BPF_ST uses reserved fields")]
    [InlineData(0x63, 1, 2, 0, 5, "BPF_STX uses reserved fields")]
    [InlineData(0xdb, 1, 2, 0, 0x02, "BPF_ATOMIC uses invalid atomic opcode 02")]
    [InlineData(0xdb, 1, 2, 0, 0xe0, "BPF_ATOMIC uses invalid atomic opcode e0")] // xchg without fetch
    [InlineData(0xd3, 1, 2, 0, 0x01, "invalid atomic operand size")]
    [InlineData(0xbf, 11, 2, 0, 0, "R11 is invalid")]
    [InlineData(0x79, 1, 12, 0, 0, "R12 is invalid")]
    public void Rejections_use_the_kernel_messages(int opcode, int dst, int src, int off, int imm, string message)
    {
        if (opcode == 0xdd)
            opcode = 0xf5;
        if (message == "unknown opcode dd")
            message = "unknown opcode f5";
        Assert.Equal(message, Error(new Instruction((byte)opcode, (byte)dst, (byte)src, (short)off, imm), Instruction.Exit()));
    }

    [Fact]
    public void Lddw_pairing()
    {
        var (first, second) = Instruction.LoadImm64(1, 5);
        Assert.Equal("invalid bpf_ld_imm64 insn", Error(first));
        Assert.Equal("invalid bpf_ld_imm64 insn", Error(first, Instruction.Exit()));
        Assert.Equal("invalid bpf_ld_imm64 insn", Error(first, second.WithDst(1)));
        Assert.Equal("invalid bpf_ld_imm64 insn", Error(first, second.WithOffset(1)));
        Assert.Equal("unrecognized bpf_ld_imm64 insn", Error(first.WithSrc(7), second));
        Assert.Equal("unrecognized bpf_ld_imm64 insn", Error(first.WithSrc(1), second.WithImm(1)));
        Assert.Equal("BPF_LD_IMM64 uses reserved fields", Error(first.WithOffset(2), second));
    }

    [Fact]
    public void Callx_needs_the_extension_and_accepts_both_register_fields()
    {
        var dstForm = new Instruction(Opcodes.Callx, 2, 0, 0, 0);
        var immForm = new Instruction(Opcodes.Callx, 0, 0, 0, 3);
        Assert.Equal("unknown opcode 8d", Error(dstForm));
        foreach (var insn in new[] { dstForm, immForm })
        {
            var d = InstructionDecoder.Decode([insn], 0, IsaExtensions.Callx);
            Assert.Equal(InstructionKind.CallRegister, d.Kind);
            Assert.Equal(insn, InstructionEncoder.Encode(d)[0]);
        }
        Assert.False(InstructionDecoder.TryDecode([new Instruction(Opcodes.Callx, 2, 0, 0, 3)], 0, out _, out _, IsaExtensions.Callx));
    }

    [Fact]
    public void Decode_throws_with_the_index()
    {
        var e = Assert.Throws<BpfException>(() => InstructionDecoder.DecodeProgram([Instruction.Mov64(0, 0), new Instruction(0xff, 0, 0, 0, 0)]));
        Assert.Equal(Errno.EINVAL, e.Errno);
        Assert.Equal("insn 1: unknown opcode ff", e.Message);
        Assert.Equal("unknown opcode ff\n", e.Log);
    }
}
