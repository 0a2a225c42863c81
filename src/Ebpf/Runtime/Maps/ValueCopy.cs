using System.Runtime.CompilerServices;
using Ebpf.Abi;

namespace Ebpf.Runtime.Maps;

/// <summary>
/// copy_map_value / copy_map_value_locked: values with a bpf_spin_lock never have the lock word
/// copied (it reads back as 0); with BPF_F_LOCK the copy happens under the value's lock.
/// Values of 8 bytes or less are copied with one store when aligned.
/// </summary>
internal static unsafe class ValueCopy
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Copy(byte* dst, byte* src, int size)
    {
        switch (size)
        {
            case 8: Unsafe.WriteUnaligned(dst, Unsafe.ReadUnaligned<ulong>(src)); break;
            case 4: Unsafe.WriteUnaligned(dst, Unsafe.ReadUnaligned<uint>(src)); break;
            default: Buffer.MemoryCopy(src, dst, size, size); break;
        }
    }

    /// <summary>Host → map (<paramref name="dst"/> in the map).</summary>
    public static void In(byte* dst, byte* src, int size, int lockOffset, MapUpdateFlags flags)
    {
        if (lockOffset < 0) { Copy(dst, src, size); return; }
        bool locked = (flags & MapUpdateFlags.Lock) != 0;
        if (locked) BpfSpinLock.Lock(dst + lockOffset);
        BpfSpinLock.CopySkippingLock(dst, src, size, lockOffset);
        if (locked) BpfSpinLock.Unlock(dst + lockOffset);
    }

    /// <summary>Map → host (<paramref name="src"/> in the map); the lock word reads as 0.</summary>
    public static void Out(byte* dst, byte* src, int size, int lockOffset, MapUpdateFlags flags)
    {
        if (lockOffset < 0) { Copy(dst, src, size); return; }
        bool locked = (flags & MapUpdateFlags.Lock) != 0;
        if (locked) BpfSpinLock.Lock(src + lockOffset);
        BpfSpinLock.CopySkippingLock(dst, src, size, lockOffset);
        if (locked) BpfSpinLock.Unlock(src + lockOffset);
        *(uint*)(dst + lockOffset) = 0;
    }
}
