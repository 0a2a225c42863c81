using Ebpf.Abi.Contexts;
using Ebpf.Isa;

namespace Ebpf.Verification;

/// <summary>
/// Base of the verifier's collaborators: short names for the shared <see cref="VerifierContext"/> (the current state,
/// the instruction index, the log, the register accessors) and for the other collaborators, so that each one reads
/// like the kernel function it models.
/// </summary>
internal abstract class VerifierComponent(VerifierContext walk)
{
    protected VerifierContext Walk { get; } = walk;

    protected VerifierInput Input => Walk.Input;
    protected IReadOnlyList<Instruction> Insns => Walk.Insns;
    protected ControlFlow Cfg => Walk.Cfg;
    protected VerifierLog Log => Walk.Log;
    protected ContextLayout? Ctx => Walk.Ctx;
    protected bool Privileged => Walk.Privileged;
    protected bool AllowPtrLeaks => Walk.AllowPtrLeaks;
    protected VerifierState Cur { get => Walk.Cur; set => Walk.Cur = value; }
    protected int InsnIdx { get => Walk.InsnIdx; set => Walk.InsnIdx = value; }
    protected int Processed { get => Walk.Processed; set => Walk.Processed = value; }
    protected int JumpsProcessed { get => Walk.JumpsProcessed; set => Walk.JumpsProcessed = value; }
    protected int FrameSerial { get => Walk.FrameSerial; set => Walk.FrameSerial = value; }
    protected Dictionary<int, int> StackDepth => Walk.StackDepth;
    protected Dictionary<int, ContextAccessSite> ContextAccesses => Walk.ContextAccesses;
    protected Dictionary<int, ResolvedCall> ResolvedCalls => Walk.ResolvedCalls;
    protected Dictionary<int, VerifierFunction> Functions => Walk.Functions;
    protected List<(int Caller, int Callee)> CallEdges => Walk.CallEdges;
    protected bool ChangesPacketData { get => Walk.ChangesPacketData; set => Walk.ChangesPacketData = value; }
    protected bool WritesPacket { get => Walk.WritesPacket; set => Walk.WritesPacket = value; }
    protected bool ReadsKernelPointers { get => Walk.ReadsKernelPointers; set => Walk.ReadsKernelPointers = value; }

    protected VerifierEngine Engine => Walk.Engine;
    protected StatePruning Pruning => Walk.Pruning;
    protected PrecisionTracker Precision => Walk.Precision;
    protected HelperCalls Helpers => Walk.Helpers;
    protected HelperArguments HelperArgs => Walk.HelperArgs;
    protected SubprogramCalls Subprograms => Walk.Subprograms;
    protected GlobalFunctions Globals => Walk.Globals;
    protected KfuncCalls Kfuncs => Walk.Kfuncs;
    protected ExceptionCallbacks Exceptions => Walk.Exceptions;
    protected IteratorSlots Iterators => Walk.Iterators;
    protected DynptrSlots Dynptrs => Walk.Dynptrs;
    protected MemoryAccessChecker Memory => Walk.Memory;
    protected ContextAccess Context => Walk.Context;
    protected StackMemory StackMem => Walk.StackMem;
    protected AluChecker Alu => Walk.Alu;
    protected BranchChecker Branches => Walk.Branches;
    protected InstructionAux Aux => Walk.Aux;
    protected SpectreSanitizer Sanitizer => Walk.Sanitizer;
    protected SpeculativePaths Speculation => Walk.Speculation;

    protected VerifierError Fail(string message, Errno errno = Errno.EACCES) => Walk.Fail(message, errno);

    /// <summary>A refusal for lack of modelling, never a verdict on the program: "<paramref name="subject"/> is not
    /// supported by this verifier: <paramref name="feature"/>" (ENOTSUPP). The README's status counts them by feature.</summary>
    protected VerifierError Unsupported(string subject, string feature) =>
        Walk.Fail($"{subject} {VerificationResult.UnsupportedMarker}{feature}", Errno.ENOTSUPP);
    protected int NewId() => Walk.NewId();
    protected ref RegisterState Reg(int r) => ref Walk.Reg(r);
    protected void CheckRegisterNumber(int r) => Walk.CheckRegisterNumber(r);
    protected ref RegisterState ReadReg(int r) => ref Walk.ReadReg(r);
    protected void CheckWritable(int r) => Walk.CheckWritable(r);
    protected void SetReg(int r, in RegisterState value) => Walk.SetReg(r, value);
}
