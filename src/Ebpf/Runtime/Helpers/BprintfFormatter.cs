using System.Globalization;
using System.Text;

namespace Ebpf.Runtime.Helpers;

/// <summary>
/// The kernel's bpf_bprintf_prepare + bstr_printf for trace_printk, trace_vprintk and snprintf:
/// the format is checked exactly as the kernel checks it (allowed conversions d i u x X with
/// optional l/ll, %c, %s, %p and its %pK %px %ps %pS %pB %pks %pus %pi4 %pI4 %pi6 %pI6 forms,
/// flags 0+- space, a decimal width; no precision, no h/z/o; %% literal; non-printable control
/// characters rejected; more conversions than arguments rejected) and then rendered.
/// Any violation yields EINVAL (returned by the helper as a negative errno).
/// </summary>
internal static class BprintfFormatter
{
    /// <summary>MAX_BPRINTF_VARARGS.</summary>
    public const int MaxArgs = 12;
    /// <summary>MAX_BPRINTF_BUF (each string argument is read into at most this many bytes).</summary>
    public const int MaxStringBytes = 512;

    /// <summary>Formats <paramref name="format"/> (no NUL) with <paramref name="args"/>; null when the format is invalid.</summary>
    public static byte[]? Format(ReadOnlySpan<byte> format, ReadOnlySpan<ulong> args, int maxArgs, Func<ulong, AddressSpace, byte[]?> readString, Func<ulong, int, byte[]?> readBytes)
    {
        var output = new List<byte>(format.Length + 32);
        int argIndex = 0;
        for (int i = 0; i < format.Length; i++)
        {
            byte c = format[i];
            if (c < 0x80 && !IsPrint(c) && !IsSpace(c))
                return null;
            if (c != '%')
            {
                output.Add(c);
                continue;
            }
            if (i + 1 < format.Length && format[i + 1] == '%')
            {
                output.Add((byte)'%');
                i++;
                continue;
            }
            if (argIndex >= maxArgs || argIndex >= args.Length)
                return null;
            i++;
            // flags
            bool left = false, zero = false, plus = false, space = false;
            while (i < format.Length && format[i] is (byte)'0' or (byte)'+' or (byte)'-' or (byte)' ')
            {
                switch (format[i])
                {
                    case (byte)'0': zero = true; break;
                    case (byte)'+': plus = true; break;
                    case (byte)'-': left = true; break;
                    default: space = true; break;
                }
                i++;
            }
            int width = 0;
            while (i < format.Length && format[i] is >= (byte)'0' and <= (byte)'9')
            {
                width = Math.Min(width * 10 + (format[i] - '0'), 4096);
                i++;
            }
            if (i >= format.Length)
                return null;
            ulong arg = args[argIndex++];
            string text;
            byte conv = format[i];
            if (conv == 'p')
            {
                byte next = i + 1 < format.Length ? format[i + 1] : (byte)0;
                if (next == 0 || IsSpace(next) || IsPunct(next))
                {
                    text = arg.ToString("x16", CultureInfo.InvariantCulture);
                }
                else
                {
                    i++;
                    switch ((char)next)
                    {
                        case 'K': case 'x': case 's': case 'S': case 'B':
                            text = arg.ToString("x16", CultureInfo.InvariantCulture);
                            if (next is (byte)'s' or (byte)'S' or (byte)'B')
                                text = "0x" + arg.ToString("x", CultureInfo.InvariantCulture);
                            break;
                        case 'k': case 'u':
                            if (i + 1 >= format.Length || format[i + 1] != 's')
                                return null;
                            i++;
                            text = Latin(readString(arg, next == 'k' ? AddressSpace.Kernel : AddressSpace.User) ?? []);
                            break;
                        case 'i': case 'I':
                        {
                            if (i + 1 >= format.Length || format[i + 1] is not ((byte)'4' or (byte)'6'))
                                return null;
                            i++;
                            int size = format[i] == '4' ? 4 : 16;
                            var bytes = readBytes(arg, size);
                            text = bytes is null ? "" : FormatIp(bytes, lowercase: next == 'i');
                            break;
                        }
                        default:
                            return null;
                    }
                }
                Pad(output, text, width, left, zero: false);
                continue;
            }
            if (conv == 's')
            {
                Pad(output, Latin(readString(arg, AddressSpace.Kernel) ?? []), width, left, zero: false);
                continue;
            }
            if (conv == 'c')
            {
                Pad(output, ((char)(byte)arg).ToString(), width, left, zero: false);
                continue;
            }
            int longs = 0;
            while (i < format.Length && format[i] == 'l' && longs < 2)
            {
                longs++;
                i++;
            }
            if (i >= format.Length)
                return null;
            conv = format[i];
            bool wide = longs > 0;
            switch ((char)conv)
            {
                case 'd':
                case 'i':
                {
                    long v = wide ? (long)arg : (int)(uint)arg;
                    string digits = v < 0 ? ((ulong)(-(v + 1)) + 1).ToString(CultureInfo.InvariantCulture) : v.ToString(CultureInfo.InvariantCulture);
                    string sign = v < 0 ? "-" : plus ? "+" : space ? " " : "";
                    PadNumber(output, sign, digits, width, left, zero);
                    break;
                }
                case 'u':
                    PadNumber(output, "", (wide ? arg : (uint)arg).ToString(CultureInfo.InvariantCulture), width, left, zero);
                    break;
                case 'x':
                case 'X':
                {
                    ulong v = wide ? arg : (uint)arg;
                    PadNumber(output, "", v.ToString(conv == 'x' ? "x" : "X", CultureInfo.InvariantCulture), width, left, zero);
                    break;
                }
                default:
                    return null;
            }
        }
        return output.ToArray();
    }

    private static string Latin(byte[] bytes) => Encoding.Latin1.GetString(bytes);

    private static void Pad(List<byte> output, string text, int width, bool left, bool zero)
    {
        int pad = Math.Max(0, width - text.Length);
        if (!left)
            for (int k = 0; k < pad; k++) output.Add(zero ? (byte)'0' : (byte)' ');
        foreach (char ch in text)
            output.Add((byte)ch);
        if (left)
            for (int k = 0; k < pad; k++) output.Add((byte)' ');
    }

    private static void PadNumber(List<byte> output, string sign, string digits, int width, bool left, bool zero)
    {
        if (zero && !left)
        {
            int pad = Math.Max(0, width - sign.Length - digits.Length);
            Pad(output, sign + new string('0', pad) + digits, 0, false, false);
        }
        else
            Pad(output, sign + digits, width, left, false);
    }

    private static string FormatIp(byte[] b, bool lowercase)
    {
        if (b.Length == 4)
            return lowercase ? $"{b[0]:D3}.{b[1]:D3}.{b[2]:D3}.{b[3]:D3}" : $"{b[0]}.{b[1]}.{b[2]}.{b[3]}";
        var sb = new StringBuilder();
        for (int k = 0; k < 16; k += 2)
        {
            if (!lowercase && k > 0) sb.Append(':');
            sb.Append(b[k].ToString("x2", CultureInfo.InvariantCulture)).Append(b[k + 1].ToString("x2", CultureInfo.InvariantCulture));
        }
        return sb.ToString();
    }

    private static bool IsPrint(byte c) => c is >= 0x20 and < 0x7f;
    private static bool IsSpace(byte c) => c is (byte)' ' or (byte)'\t' or (byte)'\n' or (byte)'\r' or 0x0b or 0x0c;
    private static bool IsPunct(byte c) => IsPrint(c) && !char.IsAsciiLetterOrDigit((char)c) && c != ' ';
}
