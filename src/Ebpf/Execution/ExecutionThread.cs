namespace Ebpf.Execution;

/// <summary>
/// Everything a thread needs per program invocation, behind ONE thread-static. A thread-static access
/// is a runtime helper call (through __tls_get_addr on Linux: a few ns), and an invocation used to make
/// several (the current invocation, the helper state, the epoch record); a runner now fetches this once
/// and hands it down. Runtime-level state is kept as <see cref="object"/> so the execution layer does
/// not depend on the runtime; its owners cast it back.
/// </summary>
internal sealed class ExecutionThread
{
    [ThreadStatic] private static ExecutionThread? t_current;

    /// <summary>The calling thread's state (created on first use).</summary>
    public static ExecutionThread Current => t_current ??= new ExecutionThread();

    /// <summary>The calling thread's state, or null if it never ran a program.</summary>
    public static ExecutionThread? CurrentOrNull => t_current;

    /// <summary>The invocation running on this thread (<see cref="InvocationContext.Current"/>).</summary>
    public InvocationContext? Invocation;

    /// <summary>The thread's reusable context for invocations without their own (<see cref="InvocationContext"/>.Rent).</summary>
    public InvocationContext? CachedContext;

    /// <summary>The runtime's current helper invocation state (Runtime.Helpers.HelperInvocation).</summary>
    public object? HelperInvocation;

    /// <summary>The runtime's epoch record of this thread (Runtime.Memory.EpochManager).</summary>
    public object? EpochRecord;
}
