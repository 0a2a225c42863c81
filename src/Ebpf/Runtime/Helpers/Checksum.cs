namespace Ebpf.Runtime.Helpers;

/// <summary>
/// Internet checksum arithmetic as include/net/checksum.h and x86 csum_partial compute it, on
/// values in memory (native little-endian) representation: a 32-bit "wsum" accumulated with
/// end-around carry, folded to 16 bits.
/// </summary>
internal static class Checksum
{
    /// <summary>csum_partial: sum of little-endian 16-bit words (odd tail byte as the low byte) plus <paramref name="seed"/>.</summary>
    public static uint Partial(ReadOnlySpan<byte> data, uint seed)
    {
        ulong sum = seed;
        int i = 0;
        for (; i + 1 < data.Length; i += 2)
            sum += (uint)(data[i] | (data[i + 1] << 8));
        if (i < data.Length)
            sum += data[i];
        while (sum >> 32 != 0)
            sum = (sum & 0xffffffff) + (sum >> 32);
        return (uint)sum;
    }

    public static uint Add(uint a, uint b)
    {
        uint r = a + b;
        return r + (r < b ? 1u : 0u);
    }

    public static uint Sub(uint a, uint b) => Add(a, ~b);

    /// <summary>csum_fold: ~(16-bit fold).</summary>
    public static ushort Fold(uint sum) => (ushort)~From32To16(sum);

    /// <summary>csum_from32to16 (no complement).</summary>
    public static ushort From32To16(uint sum)
    {
        sum += (sum >> 16) | (sum << 16);
        return (ushort)(sum >> 16);
    }

    public static ushort Add16(ushort csum, ushort addend)
    {
        uint res = (uint)csum + addend;
        res += res >> 16;
        return (ushort)res;
    }

    /// <summary>csum_replace4.</summary>
    public static ushort Replace4(ushort sum, uint from, uint to) => Fold(Add(Sub((uint)(ushort)~sum, from), to));

    /// <summary>csum_replace2.</summary>
    public static ushort Replace2(ushort sum, ushort from, ushort to) => (ushort)~Add16(Add16((ushort)~sum, (ushort)~from), to);

    /// <summary>csum_replace_by_diff.</summary>
    public static ushort ReplaceByDiff(ushort sum, uint diff) => Fold(Add(diff, (uint)(ushort)~sum));
}
