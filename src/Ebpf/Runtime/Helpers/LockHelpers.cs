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
public static unsafe class LockHelpers
{
    /// <summary>SpinWait rounds a checked run waits for a lock before it gives up (tens of milliseconds).</summary>
    private const int CheckedSpinLimit = 2_000;

    public static ulong SpinLock(ulong lockAddress, ulong r2, ulong r3, ulong r4, ulong r5)
    {
        if (!HelperMemory.CanAccess(lockAddress, 4, write: true) || lockAddress % 4 != 0)
            return BuiltinHelpers.Err(Errno.EFAULT);
        ref int word = ref *(int*)lockAddress;
        bool isChecked = Ebpf.Execution.InvocationContext.Current is not { Mode: Ebpf.Execution.ExecutionMode.Unchecked };
        var invocation = HelperInvocation.Current;
        if (isChecked && invocation is { HeldSpinLock: not 0 })
            throw new BpfException(Errno.EINVAL, $"bpf_spin_lock: 0x{lockAddress:x} while already holding 0x{invocation.HeldSpinLock:x} (one lock at a time)");
        var spinner = new SpinWait();
        while (Interlocked.CompareExchange(ref word, 1, 0) != 0)
        {
            if (isChecked && spinner.Count >= CheckedSpinLimit)
                throw new BpfException(Errno.EDEADLK, $"bpf_spin_lock: the word at 0x{lockAddress:x} never became free (not a lock, or a lock left held)");
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
        if (Ebpf.Execution.InvocationContext.Current is not { Mode: Ebpf.Execution.ExecutionMode.Unchecked }
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
