using Ebpf.Abi;
using Ebpf.Isa;
using Ebpf.Verification;
using static Ebpf.Tests.Verification.Asm;

namespace Ebpf.Tests.Verification;

/// <summary>
/// Each collaborator of the verifier driven on its own: a state is built by hand, one instruction is checked by the
/// collaborator that owns it, and the resulting registers, stack, records or refusal are asserted. The whole-program
/// behaviour is pinned by <see cref="VerifierLogPinTests"/>; these show each part's contract in isolation.
/// </summary>
public class VerifierCollaboratorTests
{
    /// <summary>A socket filter's context with <paramref name="insns"/> as its program, at instruction 0 with r1 = ctx and r10 = fp.</summary>
    private static VerifierContext Walk(List<Instruction> insns, Abi.Helpers.HelperPrivilege privilege = Abi.Helpers.HelperPrivilege.Full)
    {
        var engine = new VerifierEngine(new VerifierInput { Instructions = insns, ProgramType = ProgramType.SocketFilter, LogLevel = 0, Privilege = privilege });
        var walk = engine.Shared;
        walk.Cfg.Check(allowLoops: true, () => { });
        var state = new VerifierState();
        var frame = new FrameState { FunctionStart = 0 };
        frame.Registers[1] = RegisterState.Pointer(RegisterType.Ctx);
        frame.Registers[10] = RegisterState.Pointer(RegisterType.Stack);
        state.Frames.Add(frame);
        walk.Cur = state;
        walk.InsnIdx = 0;
        return walk;
    }

    private static RegisterState R(VerifierContext walk, int r) => walk.Cur.Current.Registers[r];

    [Fact]
    public void Alu_adds_a_constant_to_a_constant()
    {
        var insns = Prog(Add(2, 3), Exit());
        var walk = Walk(insns);
        walk.Cur.Current.Registers[2] = RegisterState.ConstScalar(5);
        walk.Alu.CheckAlu(insns[0]);
        Assert.True(R(walk, 2).VarOff.IsConst);
        Assert.Equal(8UL, R(walk, 2).VarOff.Value);
    }

    [Fact]
    public void Alu_refuses_arithmetic_on_an_uninitialised_register()
    {
        var insns = Prog(AddReg(2, 3), Exit());
        var walk = Walk(insns);
        walk.Cur.Current.Registers[2] = RegisterState.ConstScalar(5);
        var e = Assert.Throws<VerifierError>(() => walk.Alu.CheckAlu(insns[0]));
        Assert.Equal("R3 !read_ok", e.Message);
    }

    [Fact]
    public void Branch_refines_the_fall_through_and_pushes_the_taken_side()
    {
        var insns = Prog(Jmp(JumpOperation.Jgt, 2, 10, 1), Mov(0, 0), Exit());
        var walk = Walk(insns);
        walk.Cur.Current.Registers[2] = RegisterState.UnknownScalar();
        walk.Branches.CheckConditionalJump(insns[0]);
        Assert.Equal(1, walk.InsnIdx);
        Assert.Equal(10UL, R(walk, 2).UMax);
    }

    [Fact]
    public void Branch_decided_by_a_constant_is_followed_alone()
    {
        var insns = Prog(Jmp(JumpOperation.Jgt, 2, 10, 1), Mov(0, 0), Exit());
        var walk = Walk(insns);
        walk.Cur.Current.Registers[2] = RegisterState.ConstScalar(20);
        walk.Branches.CheckConditionalJump(insns[0]);
        Assert.Equal(2, walk.InsnIdx);
    }

    [Fact]
    public void Stack_spill_then_fill_keeps_the_constant()
    {
        var insns = Prog(Stx(AccessSize.DoubleWord, 10, 2, -8), Ldx(AccessSize.DoubleWord, 3, 10, -8), Exit());
        var walk = Walk(insns);
        walk.Cur.Current.Registers[2] = RegisterState.ConstScalar(7);
        walk.Memory.CheckStore(insns[0]);
        walk.InsnIdx = 1;
        walk.Memory.CheckLoad(insns[1]);
        Assert.True(R(walk, 3).VarOff.IsConst);
        Assert.Equal(7UL, R(walk, 3).VarOff.Value);
        Assert.True(walk.Cur.Current.Stack[0].IsFullSpill);
    }

    [Fact]
    public void Stack_read_of_an_unwritten_slot_is_refused_unprivileged()
    {
        // A privileged program may read uninitialised stack (allow_uninit_stack); an unprivileged one may not.
        var insns = Prog(Ldx(AccessSize.DoubleWord, 3, 10, -16), Exit());
        var walk = Walk(insns, Abi.Helpers.HelperPrivilege.Unprivileged);
        var e = Assert.Throws<VerifierError>(() => walk.Memory.CheckLoad(insns[0]));
        // check_stack_read_fixed_off names the access offset and the first unwritten byte.
        Assert.Equal("invalid read from stack off -16+0 size 8", e.Message);
    }

    [Fact]
    public void Context_read_is_recorded_for_conversion()
    {
        var insns = Prog(Ldx(AccessSize.Word, 2, 1, 0), Exit());
        var walk = Walk(insns);
        walk.Memory.CheckLoad(insns[0]);
        Assert.Equal(RegisterType.Scalar, R(walk, 2).Type);
        var site = Assert.Single(walk.ContextAccesses.Values);
        Assert.Equal((0, 0, 4, false), (site.InstructionIndex, site.Offset, site.Size, site.IsWrite));
    }

    [Fact]
    public void Context_read_outside_the_layout_is_refused()
    {
        var insns = Prog(Ldx(AccessSize.Word, 2, 1, 1000), Exit());
        var walk = Walk(insns);
        var e = Assert.Throws<VerifierError>(() => walk.Memory.CheckLoad(insns[0]));
        Assert.Equal("invalid bpf_context access off=1000 size=4", e.Message);
        Assert.Empty(walk.ContextAccesses);
    }

    [Fact]
    public void Helper_call_sets_r0_clobbers_arguments_and_records_the_call()
    {
        var insns = Prog(Call(HelperIdAlias.GetPrandomU32), Exit());
        var walk = Walk(insns);
        Assert.False(walk.Helpers.CheckHelperCall(insns[0]));
        Assert.Equal(RegisterType.Scalar, R(walk, 0).Type);
        Assert.Equal(RegisterType.NotInit, R(walk, 1).Type);
        var call = Assert.Single(walk.ResolvedCalls.Values);
        Assert.Equal((0, true, 7), (call.InstructionIndex, call.IsHelper, call.Target));
    }

    [Fact]
    public void Helper_call_to_an_unknown_id_is_refused_like_the_kernel()
    {
        var insns = Prog(CallId(99999), Exit());
        var walk = Walk(insns);
        var e = Assert.Throws<VerifierError>(() => walk.Helpers.CheckHelperCall(insns[0]));
        Assert.Equal("invalid func unknown#99999", e.Message);
        Assert.Equal(Errno.EINVAL, e.Errno);
    }

    [Fact]
    public void Pruning_covers_an_equal_state_and_ignores_dead_registers_but_not_live_ones()
    {
        // At instruction 0 only r2 (read by the move) and r10 are live.
        var insns = Prog(MovReg(0, 2), Exit());
        var walk = Walk(insns);
        walk.Cur.Current.Registers[2] = RegisterState.UnknownScalar();
        walk.JumpsProcessed = 2;
        walk.Processed = 8;
        var first = walk.Cur;
        Assert.False(walk.Pruning.IsStateVisited(0)); // stored as a checkpoint
        StatePruning.UpdateBranchCounts(first.Parent); // that path finished

        var same = first.Clone();
        same.Parent = null;
        same.Current.Registers[3] = RegisterState.ConstScalar(1); // dead here
        walk.Cur = same;
        Assert.True(walk.Pruning.IsStateVisited(0));

        var other = first.Clone();
        other.Parent = null;
        other.Current.Registers[2] = RegisterState.Pointer(RegisterType.Ctx); // live, different kind
        walk.Cur = other;
        Assert.False(walk.Pruning.IsStateVisited(0));
    }
}
