namespace Ebpf.Runtime.Helpers;

/// <summary>
/// bpf_spin_lock / bpf_spin_unlock (93/94) on the 4-byte struct bpf_spin_lock inside a map value.
/// A real spin lock over native memory: programs run concurrently on several threads exactly as
/// on several CPUs. The verifier guarantees a lock is released on every path before exit.
/// </summary>
public static unsafe class LockHelpers
{
    public static ulong SpinLock(ulong lockAddress, ulong r2, ulong r3, ulong r4, ulong r5)
    {
        if (!HelperMemory.CanAccess(lockAddress, 4, write: true) || lockAddress % 4 != 0)
            return BuiltinHelpers.Err(Errno.EFAULT);
        ref int word = ref *(int*)lockAddress;
        var spinner = new SpinWait();
        while (Interlocked.CompareExchange(ref word, 1, 0) != 0)
            spinner.SpinOnce(sleep1Threshold: -1);
        return 0;
    }

    public static ulong SpinUnlock(ulong lockAddress, ulong r2, ulong r3, ulong r4, ulong r5)
    {
        if (!HelperMemory.CanAccess(lockAddress, 4, write: true) || lockAddress % 4 != 0)
            return BuiltinHelpers.Err(Errno.EFAULT);
        Volatile.Write(ref *(int*)lockAddress, 0);
        return 0;
    }
}
