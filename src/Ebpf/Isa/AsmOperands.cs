using System.Globalization;

namespace Ebpf.Isa;

/// <summary>
/// Operand parsing shared by the assembler: registers (<c>%r3</c>), memory references
/// (<c>[%r10-8]</c>), immediates (decimal, hex, negative) and jump targets (<c>+3</c>, <c>-2</c>, label).
/// Every failure is an <see cref="AsmError"/> carrying only the reason; the assembler adds the place.
/// </summary>
internal static class AsmOperands
{
    public static byte Register(string text)
    {
        string t = text.Trim();
        if (t.StartsWith('%'))
            t = t[1..];
        if (t.Length >= 2 && (t[0] == 'r' || t[0] == 'R')
            && byte.TryParse(t.AsSpan(1), NumberStyles.None, CultureInfo.InvariantCulture, out byte n) && n <= 15
            && !(t.Length > 2 && t[1] == '0'))
            return n; // r11..r15 encode (the conformance suite uses them for negative tests); the validator rejects them.
        throw new AsmError($"invalid register '{text.Trim()}'");
    }

    public static bool LooksLikeRegister(string text)
    {
        string t = text.Trim();
        return t.StartsWith('%') || (t.Length >= 2 && t[0] == 'r' && char.IsDigit(t[1]));
    }

    /// <summary>[%rN], [%rN+off], [%rN-off]; off is decimal or hex and must fit in s16 (or u16).</summary>
    public static (byte Register, short Offset) Memory(string text)
    {
        string t = text.Trim();
        if (t.Length < 3 || t[0] != '[' || t[^1] != ']')
            throw new AsmError($"invalid memory operand '{t}' (expected [%rN+offset])");
        string inner = t[1..^1].Replace(" ", "", StringComparison.Ordinal).Replace("\t", "", StringComparison.Ordinal);
        int sign = inner.IndexOfAny(['+', '-']);
        if (sign < 0)
            return (Register(inner), 0);
        byte reg = Register(inner[..sign]);
        long off = Integer(inner[sign..], "offset");
        if (off is < short.MinValue or > ushort.MaxValue)
            throw new AsmError($"offset {inner[sign..]} out of range in '{t}'");
        return (reg, unchecked((short)off));
    }

    /// <summary>A 32-bit immediate: accepts -2^31..2^32-1 (hex like 0xffffff80 means the bit pattern).</summary>
    public static int Imm32(string text)
    {
        long v = Integer(text, "immediate");
        if (v is < int.MinValue or > uint.MaxValue)
            throw new AsmError($"immediate '{text.Trim()}' does not fit in 32 bits");
        return unchecked((int)v);
    }

    /// <summary>A 64-bit immediate: any value of s64 or u64.</summary>
    public static long Imm64(string text)
    {
        var (negative, magnitude) = ParseMagnitude(text, "immediate");
        if (negative)
        {
            if (magnitude > 1UL << 63)
                throw new AsmError($"immediate '{text.Trim()}' does not fit in 64 bits");
            return unchecked(-(long)magnitude);
        }
        return unchecked((long)magnitude);
    }

    /// <summary>An integer that fits in s64 (used for offsets and 32-bit immediates before range checks).</summary>
    public static long Integer(string text, string what)
    {
        var (negative, magnitude) = ParseMagnitude(text, what);
        if (magnitude > long.MaxValue)
            throw new AsmError($"{what} '{text.Trim()}' out of range");
        return negative ? -(long)magnitude : (long)magnitude;
    }

    public static bool IsNumber(string text)
    {
        string t = text.Trim();
        if (t.Length > 0 && (t[0] == '+' || t[0] == '-'))
            t = t[1..];
        return t.Length > 0 && char.IsDigit(t[0]);
    }

    private static (bool Negative, ulong Magnitude) ParseMagnitude(string text, string what)
    {
        ReadOnlySpan<char> t = text.AsSpan().Trim();
        bool negative = false;
        if (t.Length > 0 && (t[0] == '+' || t[0] == '-'))
        {
            negative = t[0] == '-';
            t = t[1..];
        }
        bool ok;
        ulong value = 0;
        if (t.StartsWith("0x", StringComparison.OrdinalIgnoreCase))
            ok = t.Length > 2 && ulong.TryParse(t[2..], NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out value);
        else
            ok = ulong.TryParse(t, NumberStyles.None, CultureInfo.InvariantCulture, out value);
        if (!ok)
            throw new AsmError($"invalid {what} '{text.Trim()}'");
        return (negative, value);
    }
}

/// <summary>An assembler failure before the place (source, line) is known.</summary>
internal sealed class AsmError(string message) : Exception(message);
