using System.Runtime.CompilerServices;

namespace Ebpf.Runtime.Maps;

/// <summary>
/// Native layout of a hash map element (one NativeMemory block, stable until reclaimed):
/// <code>
///  0 next (bucket chain)   8 hash   12 linked
/// 16 lru prev             24 lru next
/// 32 lru list index       36 in-lru  40 ref bit   44 pad
/// 48 key (padded to 8)    then the value (per-CPU: one round_up(value_size, 8) slot per CPU)
/// </code>
/// </summary>
internal static unsafe class HashElem
{
    public const int HeaderSize = 48;

    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static ref nint Next(nint e) => ref *(nint*)e;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static ref uint Hash(nint e) => ref *(uint*)(e + 8);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static ref int Linked(nint e) => ref *(int*)(e + 12);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static ref nint LruPrev(nint e) => ref *(nint*)(e + 16);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static ref nint LruNext(nint e) => ref *(nint*)(e + 24);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static ref int LruList(nint e) => ref *(int*)(e + 32);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static ref int InLru(nint e) => ref *(int*)(e + 36);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static ref int Ref(nint e) => ref *(int*)(e + 40);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static byte* Key(nint e) => (byte*)e + HeaderSize;
}
