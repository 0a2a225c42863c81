using System.Runtime.CompilerServices;

namespace Ebpf.Execution.Jit;

/// <summary>
/// BPF atomics for compiled code, one method per <see cref="Operation"/> (the emitter calls them by name):
/// (address, src) for the plain forms, returning the old value for the fetch forms and xchg, and
/// (address, src, r0) -> old value for cmpxchg. 32-bit results are zero-extended. RyuJIT inlines them into
/// a single locked instruction where the hardware has one.
/// </summary>
internal static unsafe class JitAtomics
{
    public static bool Fetches(Operation op) => op is >= Operation.AtomicFetchAdd32 and <= Operation.Xchg32
        or >= Operation.AtomicFetchAdd64 and <= Operation.Xchg64;

    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static void AtomicAdd32(nuint a, ulong v) => Interlocked.Add(ref *(int*)a, (int)v);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static void AtomicOr32(nuint a, ulong v) => Interlocked.Or(ref *(int*)a, (int)v);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static void AtomicAnd32(nuint a, ulong v) => Interlocked.And(ref *(int*)a, (int)v);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static void AtomicXor32(nuint a, ulong v) => Interpreter.Xor32(ref *(int*)a, (int)v);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static ulong AtomicFetchAdd32(nuint a, ulong v) => (uint)(Interlocked.Add(ref *(int*)a, (int)v) - (int)v);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static ulong AtomicFetchOr32(nuint a, ulong v) => (uint)Interlocked.Or(ref *(int*)a, (int)v);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static ulong AtomicFetchAnd32(nuint a, ulong v) => (uint)Interlocked.And(ref *(int*)a, (int)v);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static ulong AtomicFetchXor32(nuint a, ulong v) => (uint)Interpreter.Xor32(ref *(int*)a, (int)v);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static ulong Xchg32(nuint a, ulong v) => (uint)Interlocked.Exchange(ref *(int*)a, (int)v);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static ulong Cmpxchg32(nuint a, ulong v, ulong r0) => (uint)Interlocked.CompareExchange(ref *(int*)a, (int)v, (int)r0);

    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static void AtomicAdd64(nuint a, ulong v) => Interlocked.Add(ref *(long*)a, (long)v);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static void AtomicOr64(nuint a, ulong v) => Interlocked.Or(ref *(long*)a, (long)v);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static void AtomicAnd64(nuint a, ulong v) => Interlocked.And(ref *(long*)a, (long)v);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static void AtomicXor64(nuint a, ulong v) => Interpreter.Xor64(ref *(long*)a, (long)v);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static ulong AtomicFetchAdd64(nuint a, ulong v) => (ulong)(Interlocked.Add(ref *(long*)a, (long)v) - (long)v);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static ulong AtomicFetchOr64(nuint a, ulong v) => (ulong)Interlocked.Or(ref *(long*)a, (long)v);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static ulong AtomicFetchAnd64(nuint a, ulong v) => (ulong)Interlocked.And(ref *(long*)a, (long)v);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static ulong AtomicFetchXor64(nuint a, ulong v) => (ulong)Interpreter.Xor64(ref *(long*)a, (long)v);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static ulong Xchg64(nuint a, ulong v) => (ulong)Interlocked.Exchange(ref *(long*)a, (long)v);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static ulong Cmpxchg64(nuint a, ulong v, ulong r0) => (ulong)Interlocked.CompareExchange(ref *(long*)a, (long)v, (long)r0);
}
