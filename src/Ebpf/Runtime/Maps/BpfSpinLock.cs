using System.Runtime.CompilerServices;

namespace Ebpf.Runtime.Maps;

/// <summary>
/// <c>struct bpf_spin_lock</c> (one u32 in a map value): used by the bpf_spin_lock/unlock helpers
/// and by BPF_F_LOCK host lookups/updates, which copy the value under the lock and never copy
/// the lock word itself.
/// </summary>
internal static unsafe class BpfSpinLock
{
    public static void Lock(void* lockWord)
    {
        ref int w = ref Unsafe.AsRef<int>(lockWord);
        if (Interlocked.CompareExchange(ref w, 1, 0) == 0) return;
        var spin = new SpinWait();
        while (Volatile.Read(ref w) != 0 || Interlocked.CompareExchange(ref w, 1, 0) != 0)
            spin.SpinOnce(sleep1Threshold: -1);
    }

    public static void Unlock(void* lockWord) => Volatile.Write(ref Unsafe.AsRef<int>(lockWord), 0);

    /// <summary>Copies <paramref name="size"/> bytes, skipping the 4-byte lock word at <paramref name="lockOffset"/>.</summary>
    public static void CopySkippingLock(byte* dst, byte* src, int size, int lockOffset)
    {
        Buffer.MemoryCopy(src, dst, lockOffset, lockOffset);
        int after = lockOffset + 4;
        Buffer.MemoryCopy(src + after, dst + after, size - after, size - after);
    }
}
