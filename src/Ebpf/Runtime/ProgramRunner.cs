using Ebpf.Execution;
using Ebpf.Runtime.Helpers;
using Ebpf.Runtime.Memory;
using Ebpf.Runtime.Objects;

namespace Ebpf.Runtime;

/// <summary>
/// Direct invocation of a loaded program by a host: everything that does not change between calls
/// (the interpreter, the execution request, the helper invocation state, whether an epoch is needed)
/// is resolved once, so <see cref="Run(nint)"/> allocates nothing and does no lookups. Holds a
/// reference on the program until disposed. One runner per thread: it is not safe to call
/// <see cref="Run(nint)"/> on one runner from two threads at once (create one per thread instead).
/// </summary>
/// <remarks>
/// The context is the program type's internal context (what the runtime's ctx rewriting expects);
/// for types whose ctx is plain memory (syscall, raw_tracepoint, host extension programs) it is that
/// memory. A checked program may touch <see cref="ContextSize"/> bytes at the context and nothing else
/// the host did not register; an unchecked (verified) program is trusted to stay within what the
/// verifier proved. Programs that use no map skip the epoch critical section: they can reach no memory
/// that epoch reclamation frees.
/// </remarks>
public sealed class ProgramRunner : IDisposable
{
    private readonly ProgramObject _program;
    private readonly Interpreter _interpreter;
    private readonly InvocationContext _context;
    private readonly HelperInvocation _invocation;
    // Resolved once: what an invocation of this program needs besides the interpreter itself.
    private readonly bool _needsHelperScope; // it calls helpers: they read HelperInvocation.Current
    private readonly bool _needsEpoch;       // it uses maps: pointers into them must outlive the run
    private readonly int _ctxRegion = -1;
    private int _disposed;

    internal ProgramRunner(ProgramObject program, int? contextSize)
    {
        var prepared = program.Executable as PreparedProgram
            ?? throw new BpfException(Errno.ENOTSUPP, $"program {program.Id} ({program.Name}) has no executable form");
        program.Acquire();
        _program = program;
        _interpreter = prepared.Interpreter;
        _needsEpoch = program.UsedMaps.Count > 0;
        _needsHelperScope = _interpreter.HasHelperCalls;
        ContextSize = contextSize ?? ProgramPreparation.ContextRegionSize(program);
        _invocation = new HelperInvocation(program.Runtime, program, 0);
        _context = _interpreter.CreateContext(_invocation, packetAccess: null);
        if (_interpreter.Mode == ExecutionMode.Checked)
        {
            _invocation.MemoryChecker = InterpreterExecutor.CheckedMemory;
            if (ContextSize > 0)
                _ctxRegion = _context.AddBaseRegion(new MemoryRegion(0, 0, MemoryAccess.ReadWrite, "ctx"));
            foreach (var region in prepared.StaticRegions)
                _context.AddBaseRegion(region);
        }
    }

    /// <summary>The program this runner invokes.</summary>
    public ProgramObject Program => _program;

    /// <summary>The mode the program runs in (chosen at load; see <see cref="ProgramObject.ExecutionModeReason"/>).</summary>
    public ExecutionMode Mode => _interpreter.Mode;

    /// <summary>Bytes at the context a checked program may read and write.</summary>
    public int ContextSize { get; }

    /// <summary>Runs the program with R1 = <paramref name="context"/>; returns R0.</summary>
    public ulong Run(nint context)
    {
        ObjectDisposedException.ThrowIf(_disposed != 0, this);
        if (_ctxRegion >= 0)
            _context.SetBaseRegion(_ctxRegion, context == 0
                ? new MemoryRegion(0, 0, MemoryAccess.ReadWrite, "ctx")
                : new MemoryRegion((nuint)context, (nuint)ContextSize, MemoryAccess.ReadWrite, "ctx"));
        var invocation = _invocation;
        invocation.Context = context;
        invocation.TailCallCount = 0;
        invocation.RedirectTarget = 0;
        if (!ReferenceEquals(invocation.Program, _program))
            invocation.Program = _program; // a tail call of the last run moved it
        if (!_needsHelperScope && !_needsEpoch)
            return _interpreter.Run(_context, (ulong)context); // nothing can observe the helper state or hold map memory
        return RunScoped(context);
    }

    private ulong RunScoped(nint context)
    {
        // One thread-static access for the whole invocation: the helper scope, the epoch record and the
        // interpreter's publication of the invocation all use this.
        var thread = ExecutionThread.Current;
        HelperInvocation.Scope scope = default;
        if (_needsHelperScope)
            scope = _invocation.Enter(thread);
        var epoch = _needsEpoch ? EpochManager.EnterRecord(thread) : null;
        try
        {
            return _interpreter.Run(_context, (ulong)context, thread);
        }
        finally
        {
            if (epoch is not null)
                EpochManager.Exit(epoch);
            scope.Dispose();
        }
    }

    /// <summary>Where bpf_redirect* of the last run recorded its target (0 when it did not redirect).</summary>
    public ulong RedirectTarget => _invocation.RedirectTarget;

    /// <summary>Releases the runner's reference on the program (once; later calls do nothing).</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
            _program.Release();
    }
}
