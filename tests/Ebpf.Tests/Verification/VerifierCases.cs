using Ebpf.Abi;
using Ebpf.Isa;
using Ebpf.Verification;
using static Ebpf.Tests.Verification.Asm;

namespace Ebpf.Tests.Verification;

/// <summary>A map a case needs: created in the kernel for differential runs, described to our verifier.</summary>
internal sealed record CaseMap(MapType Type, uint KeySize, uint ValueSize, uint MaxEntries, MapFlags Flags = MapFlags.None);

/// <summary>One targeted program with the kernel message it must produce (null = accepted).</summary>
internal sealed record VerifierCase(
    string Name,
    ProgramType Type,
    Func<int, List<Instruction>> Build,
    string? Expected,
    CaseMap? Map = null,
    AttachType Attach = default)
{
    public override string ToString() => Name;
}

/// <summary>The targeted cases; each reproduces one kernel rule (program-types.md §5.1) or a valid pattern.</summary>
internal static class VerifierCases
{
    private static readonly CaseMap Array4x8 = new(MapType.Array, 4, 8, 1);
    private static readonly CaseMap Hash4x16 = new(MapType.Hash, 4, 16, 16);
    private static readonly CaseMap Ringbuf = new(MapType.Ringbuf, 0, 0, 4096);

    public static readonly VerifierCase[] All =
    [
        new("exit without r0", ProgramType.SocketFilter, _ => Prog(Exit()), "R0 !read_ok"),
        new("read uninit r2", ProgramType.SocketFilter, _ => Prog(MovReg(0, 2), Exit()), "R2 !read_ok"),
        new("return 0", ProgramType.SocketFilter, _ => Prog(Mov(0, 0), Exit()), null),
        new("write r10", ProgramType.SocketFilter, _ => Prog(Mov(10, 0), Mov(0, 0), Exit()), "frame pointer is read only"),
        new("deref scalar", ProgramType.SocketFilter, _ => Prog(Mov(1, 0), Ldx(AccessSize.DoubleWord, 0, 1, 0), Exit()), "R1 invalid mem access 'scalar'"),
        new("stack write above fp", ProgramType.SocketFilter, _ => Prog(St(AccessSize.DoubleWord, 10, 8, 0), Mov(0, 0), Exit()), "invalid write to stack R10 off=8 size=8"),
        new("stack write below limit", ProgramType.SocketFilter, _ => Prog(St(AccessSize.DoubleWord, 10, -520, 0), Mov(0, 0), Exit()), "invalid write to stack R10 off=-520 size=8"),
        new("stack read at fp", ProgramType.SocketFilter, _ => Prog(Ldx(AccessSize.DoubleWord, 0, 10, 0), Exit()), "invalid read from stack R10 off=0 size=8"),
        new("misaligned stack", ProgramType.SocketFilter, _ => Prog(St(AccessSize.DoubleWord, 10, -7, 0), Mov(0, 0), Exit()), "misaligned stack access off 0+0+-7 size 8"),
        new("stack spill and fill", ProgramType.SocketFilter, _ => Prog(Stx(AccessSize.DoubleWord, 10, 1, -8), Ldx(AccessSize.DoubleWord, 2, 10, -8), Ldx(AccessSize.Word, 0, 2, 0), Exit()), null),
        new("jump out of range", ProgramType.SocketFilter, _ => Prog(Mov(0, 0), Jmp(JumpOperation.Jeq, 0, 0, 5), Exit()), "jump out of range from insn 1 to 7"),
        new("unreachable", ProgramType.SocketFilter, _ => Prog(Mov(0, 0), Exit(), Exit()), "unreachable insn 2"),
        new("last insn not exit", ProgramType.SocketFilter, _ => Prog(Mov(0, 0)), "last insn is not an exit or jmp"),
        new("infinite loop", ProgramType.SocketFilter, _ => Prog(Mov(0, 0), Jmp(JumpOperation.Jeq, 0, 0, -1), Exit()), "infinite loop detected at insn 1"),
        new("bounded loop", ProgramType.SocketFilter, _ => Prog(Mov(0, 0), Add(0, 1), Jmp(JumpOperation.Jlt, 0, 100, -2), Exit()), null),
        new("div by zero imm", ProgramType.SocketFilter, _ => Prog(Mov(0, 1), Instruction.Alu64(AluOperation.Div, 0, 0), Exit()), "div by zero"),
        new("div by zero reg is fine", ProgramType.SocketFilter, _ => Prog(Mov(0, 1), Mov(1, 0), Instruction.Alu64Reg(AluOperation.Div, 0, 1), Exit()), null),
        new("ctx data in socket filter", ProgramType.SocketFilter, _ => Prog(Ldx(AccessSize.Word, 0, 1, 76), Exit()), "invalid bpf_context access off=76 size=4"),
        new("ctx write len", ProgramType.SocketFilter, _ => Prog(St(AccessSize.Word, 1, 0, 1), Mov(0, 0), Exit()), "invalid bpf_context access off=0 size=4"),
        new("ctx narrow read", ProgramType.SocketFilter, _ => Prog(Ldx(AccessSize.Byte, 0, 1, 3), Exit()), null),
        new("ctx cb write 8", ProgramType.SocketFilter, _ => Prog(St(AccessSize.DoubleWord, 1, 56, 1), Mov(0, 0), Exit()), null),
        new("ctx cb crossing", ProgramType.SocketFilter, _ => Prog(St(AccessSize.DoubleWord, 1, 64, 1), Mov(0, 0), Exit()), "invalid bpf_context access off=64 size=8"),
        new("tc mark write", ProgramType.SchedCls, _ => Prog(St(AccessSize.Word, 1, 8, 1), Mov(0, 0), Exit()), null),
        new("xdp 2 byte read", ProgramType.Xdp, _ => Prog(Ldx(AccessSize.Half, 0, 1, 0), Exit()), "invalid bpf_context access off=0 size=2"),
        new("modified ctx", ProgramType.SocketFilter, _ => Prog(Add(1, 4), Ldx(AccessSize.Word, 0, 1, 0), Exit()), "dereference of modified ctx ptr R1 off=4 disallowed"),
        new("kprobe regs read", ProgramType.Kprobe, _ => Prog(Ldx(AccessSize.DoubleWord, 0, 1, 112), Exit()), null),
        new("kprobe out of range", ProgramType.Kprobe, _ => Prog(Ldx(AccessSize.DoubleWord, 0, 1, 168), Exit()), "invalid bpf_context access off=168 size=8"),
        new("tracepoint header hidden", ProgramType.Tracepoint, _ => Prog(Ldx(AccessSize.DoubleWord, 0, 1, 0), Exit()), "invalid bpf_context access off=0 size=8"),
        new("invalid helper id", ProgramType.SocketFilter, _ => Prog(CallId(999), Mov(0, 0), Exit()), "invalid func unknown#999"),
        new("helper not for type", ProgramType.SocketFilter, _ => Prog(CallId(44), Mov(0, 0), Exit()), "program of this type cannot use helper bpf_xdp_adjust_head#44"),
        new("helper scalar map", ProgramType.SocketFilter, _ => Prog(Mov(1, 0), StackKey4(), CallId(1), Mov(0, 0), Exit()), "R1 type=scalar expected=map_ptr"),
        new("r1 after call", ProgramType.SocketFilter, _ => Prog(CallId(5), MovReg(0, 1), Exit()), "R1 !read_ok"),
        new("array lookup with constant key is never null", ProgramType.SocketFilter,
            fd => Prog(LdMap(1, fd), StackKey4(), CallId(1), Ldx(AccessSize.DoubleWord, 0, 0, 0), Exit()),
            null, Array4x8),
        // get_constant_map_key: an 8-byte zero store is a spilled constant (CAP_BPF) of 8 bytes, not the key's 4: the key
        // is not constant, so the lookup may return NULL (found by the fuzzer as a false accept).
        new("array key from an 8-byte zero store is not constant", ProgramType.SocketFilter,
            fd => Prog(St(AccessSize.DoubleWord, 10, -8, 0), MovReg(2, 10), Add(2, -8), LdMap(1, fd), CallId(1), Ldx(AccessSize.DoubleWord, 0, 0, 0), Exit()),
            "R0 invalid mem access 'map_value_or_null'", Array4x8),
        new("array key from a 4-byte zero store is constant", ProgramType.SocketFilter,
            fd => Prog(St(AccessSize.Word, 10, -8, 0), MovReg(2, 10), Add(2, -8), LdMap(1, fd), CallId(1), Ldx(AccessSize.DoubleWord, 0, 0, 0), Exit()),
            null, Array4x8),
        new("array lookup out-of-range key", ProgramType.SocketFilter,
            fd => Prog(LdMap(1, fd), St(AccessSize.Word, 10, -4, 1), MovReg(2, 10), Add(2, -4), CallId(1), Ldx(AccessSize.DoubleWord, 0, 0, 0), Exit()),
            "R0 invalid mem access 'map_value_or_null'", Array4x8),
        new("lookup no null check", ProgramType.SocketFilter,
            fd => Prog(LdMap(1, fd), StackKey4(), CallId(1), Ldx(AccessSize.DoubleWord, 0, 0, 0), Exit()),
            "R0 invalid mem access 'map_value_or_null'", Hash4x16),
        new("lookup null checked", ProgramType.SocketFilter,
            fd => Prog(LdMap(1, fd), StackKey4(), CallId(1), Jmp(JumpOperation.Jeq, 0, 0, 1), Ldx(AccessSize.DoubleWord, 0, 0, 0), Exit()),
            null, Array4x8),
        new("map value past end", ProgramType.SocketFilter,
            fd => Prog(LdMap(1, fd), StackKey4(), CallId(1), Jmp(JumpOperation.Jeq, 0, 0, 1), Ldx(AccessSize.DoubleWord, 0, 0, 8), Exit()),
            "invalid access to map value, value_size=8 off=8 size=8", Array4x8),
        new("map value variable index", ProgramType.SocketFilter,
            fd => Prog(LdMap(1, fd), StackKey4(), CallId(1), Jmp(JumpOperation.Jeq, 0, 0, 5), MovReg(6, 0), CallId(7), And(0, 7), AddReg(6, 0), Ldx(AccessSize.Byte, 0, 6, 0), Mov(0, 0), Exit()),
            null, Hash4x16),
        new("map value variable index too big", ProgramType.SocketFilter,
            fd => Prog(LdMap(1, fd), StackKey4(), CallId(1), Jmp(JumpOperation.Jeq, 0, 0, 5), MovReg(6, 0), CallId(7), And(0, 31), AddReg(6, 0), Ldx(AccessSize.Byte, 0, 6, 0), Mov(0, 0), Exit()),
            "R6 max value is outside of the allowed memory range", Hash4x16),
        new("map value unbounded add", ProgramType.SocketFilter,
            fd => Prog(LdMap(1, fd), StackKey4(), CallId(1), Jmp(JumpOperation.Jeq, 0, 0, 6), MovReg(6, 0), CallId(7), Instruction.Alu64(AluOperation.Lsh, 0, 32), Instruction.Alu64(AluOperation.Arsh, 0, 32), AddReg(6, 0), Ldx(AccessSize.Byte, 0, 6, 0), Mov(0, 0), Exit()),
            "value -2147483648 makes map_value pointer be out of bounds", Hash4x16),
        new("map ptr arithmetic", ProgramType.SocketFilter, fd => Prog(LdMap(1, fd), Add(1, 8), Mov(0, 0), Exit()), "R1 pointer arithmetic on map_ptr prohibited", Array4x8),
        new("pkt_end arithmetic", ProgramType.Xdp, _ => Prog(Ldx(AccessSize.Word, 3, 1, 4), Add(3, 1), Mov(0, 0), Exit()), "R3 pointer arithmetic on pkt_end prohibited"),
        new("xdp packet no check", ProgramType.Xdp,
            _ => Prog(Ldx(AccessSize.Word, 2, 1, 0), Ldx(AccessSize.Byte, 0, 2, 0), Exit()),
            "invalid access to packet, off=0 size=1, R2(id=0,off=0,r=0)"),
        new("xdp packet checked", ProgramType.Xdp,
            _ => Prog(Ldx(AccessSize.Word, 2, 1, 0), Ldx(AccessSize.Word, 3, 1, 4), MovReg(4, 2), Add(4, 14), Mov(0, 1),
                JmpReg(JumpOperation.Jgt, 4, 3, 1), Ldx(AccessSize.Half, 0, 2, 12), Exit()),
            null),
        new("xdp packet checked short", ProgramType.Xdp,
            _ => Prog(Ldx(AccessSize.Word, 2, 1, 0), Ldx(AccessSize.Word, 3, 1, 4), MovReg(4, 2), Add(4, 14), Mov(0, 1),
                JmpReg(JumpOperation.Jgt, 4, 3, 1), Ldx(AccessSize.Word, 0, 2, 12), Exit()),
            "invalid access to packet, off=12 size=4, R2(id=0,off=12,r=14)"),
        new("xdp packet reversed compare", ProgramType.Xdp,
            _ => Prog(Ldx(AccessSize.Word, 2, 1, 0), Ldx(AccessSize.Word, 3, 1, 4), MovReg(4, 2), Add(4, 14), Mov(0, 1),
                JmpReg(JumpOperation.Jlt, 3, 4, 1), Ldx(AccessSize.Half, 0, 2, 12), Exit()),
            null),
        new("xdp packet after adjust_head", ProgramType.Xdp,
            _ => Prog(MovReg(6, 1), Ldx(AccessSize.Word, 2, 1, 0), Ldx(AccessSize.Word, 3, 1, 4), MovReg(4, 2), Add(4, 14),
                JmpReg(JumpOperation.Jgt, 4, 3, 6), Stx(AccessSize.DoubleWord, 10, 2, -8), MovReg(1, 6), Mov(2, 0), CallId(44),
                Ldx(AccessSize.DoubleWord, 2, 10, -8), Ldx(AccessSize.Byte, 0, 2, 0), Mov(0, 2), Exit()),
            "R2 invalid mem access 'scalar'"),
        new("cgroup_skb return 1", ProgramType.CgroupSkb, _ => Prog(Mov(0, 1), Exit()), null),
        new("ringbuf leak", ProgramType.SocketFilter,
            fd => Prog(LdMap(1, fd), Mov(2, 8), Mov(3, 0), CallId(131), Mov(0, 0), Exit()),
            "Unreleased reference id=2 alloc_insn=4", Ringbuf),
        new("ringbuf submit", ProgramType.SocketFilter,
            fd => Prog(LdMap(1, fd), Mov(2, 8), Mov(3, 0), CallId(131), Jmp(JumpOperation.Jeq, 0, 0, 4), St(AccessSize.DoubleWord, 0, 0, 1), MovReg(1, 0), Mov(2, 0), CallId(132), Mov(0, 0), Exit()),
            null, Ringbuf),
        new("ringbuf use after submit", ProgramType.SocketFilter,
            fd => Prog(LdMap(1, fd), Mov(2, 8), Mov(3, 0), CallId(131), Jmp(JumpOperation.Jeq, 0, 0, 5), MovReg(6, 0), MovReg(1, 0), Mov(2, 0), CallId(132), St(AccessSize.DoubleWord, 6, 0, 1), Mov(0, 0), Exit()),
            "R6 invalid mem access 'scalar'", Ringbuf),
        new("ringbuf non-constant size", ProgramType.SocketFilter,
            fd => Prog(CallId(7), MovReg(2, 0), LdMap(1, fd), Mov(3, 0), CallId(131), Mov(0, 0), Exit()),
            "R2 is not a known constant'", Ringbuf),
        new("lookup on ringbuf", ProgramType.SocketFilter,
            fd => Prog(LdMap(1, fd), StackKey4(), CallId(1), Mov(0, 0), Exit()),
            "invalid zero-sized read", Ringbuf),
        new("probe_read negative size", ProgramType.Kprobe,
            _ => Prog(CallId(7), Instruction.Alu64(AluOperation.Lsh, 0, 32), Instruction.Alu64(AluOperation.Arsh, 0, 32), MovReg(2, 0), MovReg(1, 10), Add(1, -16), Mov(3, 0), CallId(113), Mov(0, 0), Exit()),
            "R2 min value is negative, either use unsigned or 'var &= const'"),
        new("probe_read bounded size", ProgramType.Kprobe,
            _ => Prog(CallId(7), And(0, 15), MovReg(2, 0), MovReg(1, 10), Add(1, -16), Mov(3, 0), CallId(113), Ldx(AccessSize.DoubleWord, 0, 10, -16), Exit()),
            null),
        new("cgroup_skb return range", ProgramType.CgroupSkb, _ => Prog(Mov(0, 2), Exit()), "At program exit the register R0 has smin=2 smax=2 should have been in [0, 1]"),
        new("bpf-to-bpf call", ProgramType.SocketFilter,
            _ => Prog(Mov(1, 5), Instruction.CallLocal(1), Exit(), MovReg(0, 1), Add(0, 1), Exit()), null),
        new("unbounded pointer math", ProgramType.SocketFilter,
            fd => Prog(LdMap(1, fd), StackKey4(), CallId(1), Jmp(JumpOperation.Jeq, 0, 0, 4), MovReg(6, 0), CallId(7), Instruction.Alu64(AluOperation.Arsh, 0, 1), AddReg(6, 0), Mov(0, 0), Exit()),
            "value -4611686018427387904 makes map_value pointer be out of bounds", Hash4x16),
        new("pointer bitwise", ProgramType.SocketFilter, _ => Prog(MovReg(2, 10), And(2, 8), Mov(0, 0), Exit()), "R2 bitwise operator &= on pointer prohibited"),
        new("32-bit pointer math", ProgramType.SocketFilter, _ => Prog(MovReg(2, 10), Instruction.Alu32(AluOperation.Add, 2, 8), Mov(0, 0), Exit()), "R2 32-bit pointer arithmetic prohibited"),
        new("ld_abs in xdp", ProgramType.Xdp, _ => Prog(MovReg(6, 1), new Instruction(0x30, 0, 0, 0, 12), Exit()), "BPF_LD_[ABS|IND] instructions not allowed for this program type"),
        new("ld_abs in socket filter", ProgramType.SocketFilter, _ => Prog(MovReg(6, 1), new Instruction(0x30, 0, 0, 0, 12), Exit()), null),
        new("too deep", ProgramType.SocketFilter,
            _ => Prog(Enumerable.Range(0, 9).SelectMany(i => new[] { Instruction.CallLocal(1), Exit() }).Append(Mov(0, 0)).Append(Exit())),
            "the call stack of 9 frames is too deep"),
    ];
}
