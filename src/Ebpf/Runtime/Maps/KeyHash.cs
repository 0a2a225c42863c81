using System.Buffers.Binary;
using System.Runtime.CompilerServices;

namespace Ebpf.Runtime.Maps;

/// <summary>
/// Fast non-cryptographic hash over key bytes (multiply-fold per 8-byte word, wyhash style),
/// keyed by a per-map seed. Not the kernel's jhash: bucket order is therefore not the kernel's,
/// which no program can observe except through iteration order.
/// </summary>
internal static unsafe class KeyHash
{
    private const ulong P0 = 0xa0761d6478bd642f, P1 = 0xe7037ed1a0b428db, P2 = 0x8ebc6af09c88c6e3;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ulong Mum(ulong a, ulong b)
    {
        ulong hi = Math.BigMul(a, b, out ulong lo);
        return hi ^ lo;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static uint Hash(byte* p, int len, ulong seed)
    {
        ulong h = seed ^ P0;
        if (len == 4) return Finish(Mum(h ^ Unsafe.ReadUnaligned<uint>(p), P1), 4);
        if (len == 8) return Finish(Mum(h ^ Unsafe.ReadUnaligned<ulong>(p), P1), 8);
        return HashLong(p, len, h);
    }

    private static uint HashLong(byte* p, int len, ulong h)
    {
        int n = len;
        while (n >= 8)
        {
            h = Mum(h ^ Unsafe.ReadUnaligned<ulong>(p), P1);
            p += 8; n -= 8;
        }
        if (n > 0)
        {
            ulong tail = 0;
            for (int i = 0; i < n; i++) tail |= (ulong)p[i] << (8 * i);
            h = Mum(h ^ tail, P2);
        }
        return Finish(h, len);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static uint Finish(ulong h, int len)
    {
        h = Mum(h ^ (ulong)len, P2);
        return (uint)(h ^ (h >> 32));
    }

    public static uint Hash(ReadOnlySpan<byte> key, ulong seed)
    {
        fixed (byte* p = key) return Hash(p, key.Length, seed);
    }

    /// <summary>A random 64-bit seed (per map, unless BPF_F_ZERO_SEED).</summary>
    public static ulong RandomSeed()
    {
        Span<byte> b = stackalloc byte[8];
        Random.Shared.NextBytes(b);
        return BinaryPrimitives.ReadUInt64LittleEndian(b);
    }
}
