using Ebpf.Abi.Contexts;
using Ebpf.Abi.Helpers;

namespace Ebpf.Verification;

/// <summary>
/// What every part of one verification shares: the input, the control-flow graph and the log, the state being
/// explored and the instruction it is at, the id counters, and the facts collected for the verified program (calls,
/// context accesses, stack depths). The collaborators that check one kind of instruction each keep their own state
/// and reach each other through here.
/// </summary>
internal sealed class VerifierContext
{
    public VerifierContext(VerifierInput input)
    {
        Input = input;
        Insns = input.Instructions;
        Cfg = new ControlFlow(Insns, id => HelperCalls.HelperArgRegisters(input, id));
        Log = new VerifierLog(input.LogLevel, unprivileged: input.Privilege == HelperPrivilege.Unprivileged) { HostHelpers = input.HostHelpers };
        StructOps = input.ProgramType == Abi.ProgramType.StructOps ? Attach.StructOpsMember.Resolve(input) : null;
        Ctx = StructOps?.Layout ?? input.ContextLayout ?? (input.ProgramType == Abi.ProgramType.CgroupSkb && input.Privilege == HelperPrivilege.Unprivileged
            ? ContextLayouts.SkBuffCgroupSkbUnprivileged
            : ContextLayouts.For(input.ProgramType, input.ExpectedAttachType));
        Privileged = input.Privilege != HelperPrivilege.Unprivileged;
        AllowPtrLeaks = input.Privilege == HelperPrivilege.Full;
        if (input.Functions is not null)
            foreach (var f in input.Functions) Functions[f.StartInstruction] = f;
        Pruning = new StatePruning(this);
        Precision = new PrecisionTracker(this);
        Helpers = new HelperCalls(this);
        HelperArgs = new HelperArguments(this);
        Subprograms = new SubprogramCalls(this);
        Globals = new GlobalFunctions(this);
        Kfuncs = new KfuncCalls(this);
        Exceptions = new ExceptionCallbacks(this);
        Iterators = new IteratorSlots(this);
        Dynptrs = new DynptrSlots(this);
        Memory = new MemoryAccessChecker(this);
        Context = new ContextAccess(this);
        StackMem = new StackMemory(this);
        Alu = new AluChecker(this);
        Branches = new BranchChecker(this);
        Aux = new InstructionAux(this);
        Sanitizer = new SpectreSanitizer(this);
        Speculation = new SpeculativePaths(this);
    }

    public VerifierInput Input { get; }
    public IReadOnlyList<Isa.Instruction> Insns { get; }
    public ControlFlow Cfg { get; }
    public VerifierLog Log { get; }
    /// <summary>The program type's context layout, or null when its context cannot be accessed.</summary>
    public ContextLayout? Ctx { get; }
    /// <summary>A struct_ops program's member (check_struct_ops_btf_id), or null for other program types.</summary>
    public Attach.StructOpsMember? StructOps { get; }
    /// <summary>bpf_capable (CAP_BPF): loops, narrow spills, precision tracking, the base helpers' second tier.</summary>
    public bool Privileged { get; }
    /// <summary>perfmon_capable (CAP_PERFMON): the kernel's allow_ptr_leaks, allow_uninit_stack and bypass_spec_v1/v4.
    /// Without it pointers may not leak, be compared or be mixed, and pointer arithmetic is sanitized against Spectre v1.</summary>
    public bool AllowPtrLeaks { get; }

    /// <summary>The state of the path being explored.</summary>
    public VerifierState Cur { get; set; } = null!;
    /// <summary>The instruction being checked (the index errors are reported at).</summary>
    public int InsnIdx { get; set; }
    public int Processed { get; set; }
    public int JumpsProcessed { get; set; }
    public int FrameSerial { get; set; }
    private int _idGen;

    // Facts for the verified program.
    public Dictionary<int, int> StackDepth { get; } = [];
    public Dictionary<int, ContextAccessSite> ContextAccesses { get; } = [];
    public Dictionary<int, ResolvedCall> ResolvedCalls { get; } = [];
    public Dictionary<int, VerifierFunction> Functions { get; } = [];
    public List<(int Caller, int Callee)> CallEdges { get; } = [];
    public bool ChangesPacketData { get; set; }
    public bool WritesPacket { get; set; }
    /// <summary>max_rdonly_access / max_rdwr_access of PTR_TO_BUF accesses (check_buffer_access).</summary>
    public int MaxReadOnlyBufferAccess { get; set; }
    public int MaxReadWriteBufferAccess { get; set; }
    public bool ReadsKernelPointers { get; set; }
    /// <summary>Loads through typed kernel pointers walked by BTF: BPF_PROBE_MEM loads (fault-safe at run time).</summary>
    public HashSet<int> ProbeLoads { get; } = [];

    /// <summary>The walk itself; set by the engine that owns this context (global functions start walks of their own).</summary>
    public VerifierEngine Engine { get; set; } = null!;

    // The collaborators, one per kind of check, each with its own state.
    public StatePruning Pruning { get; }
    public PrecisionTracker Precision { get; }
    public HelperCalls Helpers { get; }
    public HelperArguments HelperArgs { get; }
    public SubprogramCalls Subprograms { get; }
    public GlobalFunctions Globals { get; }
    public KfuncCalls Kfuncs { get; }
    public ExceptionCallbacks Exceptions { get; }
    public IteratorSlots Iterators { get; }
    public DynptrSlots Dynptrs { get; }
    public MemoryAccessChecker Memory { get; }
    public ContextAccess Context { get; }
    public StackMemory StackMem { get; }
    public AluChecker Alu { get; }
    public BranchChecker Branches { get; }
    public InstructionAux Aux { get; }
    public SpectreSanitizer Sanitizer { get; }
    public SpeculativePaths Speculation { get; }

    public VerifierError Fail(string message, Errno errno = Errno.EACCES) => new(errno, message, InsnIdx);

    public int NewId() => ++_idGen;

    public ref RegisterState Reg(int r) => ref Cur.Current.Registers[r];

    public void CheckRegisterNumber(int r)
    {
        if (r > 10) throw Fail($"R{r} is invalid", Errno.EINVAL);
    }

    /// <summary>check_reg_arg(SRC_OP): the register must be initialised.</summary>
    public ref RegisterState ReadReg(int r)
    {
        CheckRegisterNumber(r);
        ref var reg = ref Reg(r);
        if (reg.Type == RegisterType.NotInit) throw Fail($"R{r} !read_ok");
        Log.Scratch(r);
        return ref reg;
    }

    /// <summary>check_reg_arg(DST_OP): R10 is read-only.</summary>
    public void CheckWritable(int r)
    {
        CheckRegisterNumber(r);
        if (r == 10) throw Fail("frame pointer is read only");
        Log.Scratch(r);
    }

    public void SetReg(int r, in RegisterState value)
    {
        Reg(r) = value;
        Log.Scratch(r);
    }
}
