namespace Ebpf.Runtime.Helpers;

/// <summary>
/// bpf_spin_lock / bpf_spin_unlock (93/94) on the 4-byte struct bpf_spin_lock inside a map value.
/// A real spin lock over native memory: programs run concurrently on several threads exactly as
/// on several CPUs. The verifier guarantees a lock is released on every path before exit, that a
/// program holds at most one, and that the word is a map value's lock.
/// A checked run has none of these guarantees, so it enforces what would otherwise hang the host thread:
/// one lock at a time per invocation (a second lock, or an unlock of a lock not held, faults), and a
/// bounded wait (a word that never becomes free — not a lock at all, or a lock a checked program left
/// held — faults with EDEADLK instead of spinning for ever).
/// </summary>
internal static unsafe class LockHelpers
{
    /// <summary>
    /// How long a checked run waits for a held lock before it gives up. Critical sections are a few
    /// instructions, so only a lock nobody will release takes this long; generous, so a loaded machine never
    /// turns a legitimate wait into a fault.
    /// </summary>
    private static readonly TimeSpan CheckedWaitLimit = TimeSpan.FromSeconds(1);

    public static ulong SpinLock(ulong lockAddress, ulong r2, ulong r3, ulong r4, ulong r5)
    {
        if (!HelperMemory.CanAccess(lockAddress, 4, write: true) || lockAddress % 4 != 0)
            return BuiltinHelpers.Err(Errno.EFAULT);
        ref int word = ref *(int*)lockAddress;
        bool isChecked = Ebpf.Execution.InvocationContext.Current is { Mode: Ebpf.Execution.ExecutionMode.Checked };
        var invocation = HelperInvocation.Current;
        if (isChecked)
        {
            if (invocation is { HeldSpinLock: not 0 })
                throw new BpfException(Errno.EINVAL, $"bpf_spin_lock: 0x{lockAddress:x} while already holding 0x{invocation.HeldSpinLock:x} (one lock at a time)");
            // A lock word is 0 or 1; anything else is not a lock and would never become free.
            if (Volatile.Read(ref word) is not (0 or 1))
                throw new BpfException(Errno.EINVAL, $"bpf_spin_lock: the word at 0x{lockAddress:x} holds {word}, not a bpf_spin_lock");
        }
        var spinner = new SpinWait();
        long waitingSince = 0;
        while (Interlocked.CompareExchange(ref word, 1, 0) != 0)
        {
            if (isChecked && spinner.NextSpinWillYield)
            {
                if (waitingSince == 0)
                    waitingSince = System.Diagnostics.Stopwatch.GetTimestamp();
                else if (System.Diagnostics.Stopwatch.GetElapsedTime(waitingSince) > CheckedWaitLimit)
                    throw new BpfException(Errno.EDEADLK, $"bpf_spin_lock: the lock at 0x{lockAddress:x} was not released within {CheckedWaitLimit.TotalSeconds:0} s (left held, or not a lock)");
            }
            spinner.SpinOnce(sleep1Threshold: -1);
        }
        if (isChecked && invocation is not null)
            invocation.HeldSpinLock = lockAddress;
        return 0;
    }

    /// <summary>Frees the lock a checked run still held when it ended (the kernel's verifier refuses such a program).</summary>
    internal static void ReleaseLeftHeld(HelperInvocation invocation)
    {
        Volatile.Write(ref *(int*)invocation.HeldSpinLock, 0);
        invocation.HeldSpinLock = 0;
    }

    public static ulong SpinUnlock(ulong lockAddress, ulong r2, ulong r3, ulong r4, ulong r5)
    {
        if (!HelperMemory.CanAccess(lockAddress, 4, write: true) || lockAddress % 4 != 0)
            return BuiltinHelpers.Err(Errno.EFAULT);
        if (Ebpf.Execution.InvocationContext.Current is { Mode: Ebpf.Execution.ExecutionMode.Checked }
            && HelperInvocation.Current is { } invocation)
        {
            // Releasing a lock this run does not hold would free another thread's critical section.
            if (invocation.HeldSpinLock != lockAddress)
                throw new BpfException(Errno.EINVAL, $"bpf_spin_unlock: 0x{lockAddress:x} is not the lock this run holds");
            invocation.HeldSpinLock = 0;
        }
        Volatile.Write(ref *(int*)lockAddress, 0);
        return 0;
    }
}
