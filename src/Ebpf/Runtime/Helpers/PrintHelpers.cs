namespace Ebpf.Runtime.Helpers;

/// <summary>trace_printk, trace_vprintk, snprintf and strncmp (program-types.md §4.2 "Printing", "Strings").</summary>
internal static unsafe class PrintHelpers
{
    public const int MaxTracePrintkArgs = 3;
    /// <summary>MAX_BPRINTF_VARARGS * 8: the largest data_len of trace_vprintk/snprintf.</summary>
    public const int MaxDataLen = BprintfFormatter.MaxArgs * 8;
    /// <summary>Printing helpers nest at most 3 deep per CPU (bpf_bprintf_buf per nesting level).</summary>
    public const int MaxNesting = 3;

    /// <summary>bpf_trace_printk(fmt, fmt_size, a1, a2, a3) (6): bytes written, or -EINVAL / -EBUSY.</summary>
    public static ulong TracePrintk(ulong fmt, ulong fmtSize, ulong a1, ulong a2, ulong a3) =>
        Print(fmt, fmtSize, [a1, a2, a3], MaxTracePrintkArgs);

    /// <summary>bpf_trace_vprintk(fmt, fmt_size, args, data_len) (177).</summary>
    public static ulong TraceVprintk(ulong fmt, ulong fmtSize, ulong args, ulong dataLen, ulong r5)
    {
        if (!ReadArgs(args, dataLen, out var values))
            return BuiltinHelpers.Err(Errno.EINVAL);
        return Print(fmt, fmtSize, values, values.Length);
    }

    /// <summary>
    /// bpf_snprintf(str, str_size, fmt, args, data_len) (165): returns the size the whole output needs
    /// including the NUL; writes at most str_size bytes, NUL-terminated when str_size &gt; 0.
    /// </summary>
    public static ulong Snprintf(ulong str, ulong strSize, ulong fmt, ulong args, ulong dataLen)
    {
        if (!ReadArgs(args, dataLen, out var values))
            return BuiltinHelpers.Err(Errno.EINVAL);
        var format = HelperMemory.ReadCString(fmt, 64 * 1024);
        if (format is null)
            return BuiltinHelpers.Err(Errno.EINVAL);
        var text = FormatWith(format, values, values.Length);
        if (text is null)
            return BuiltinHelpers.Err(Errno.EINVAL);
        if (strSize > 0)
        {
            if (CopyTruncated(str, strSize, text) is { } fault)
                return fault;
        }
        return (ulong)text.Length + 1;
    }

    /// <summary>bpf_strncmp(s1, s1_sz, s2) (182): the sign of the comparison (-1, 0, 1), as the kernel's strncmp.</summary>
    public static ulong Strncmp(ulong s1, ulong s1Size, ulong s2, ulong r4, ulong r5)
    {
        if (!HelperMemory.CanAccess(s1, s1Size, write: false))
            return BuiltinHelpers.Err(Errno.EFAULT);
        for (ulong i = 0; i < s1Size; i++)
        {
            if (!HelperMemory.CanAccess(s2 + i, 1, write: false))
                return BuiltinHelpers.Err(Errno.EFAULT);
            byte a = *(byte*)(s1 + i), b = *(byte*)(s2 + i);
            if (a != b)
                return a < b ? ulong.MaxValue : 1UL;
            if (a == 0)
                break;
        }
        return 0;
    }

    /// <summary>
    /// bpf_bprintf_prepare for the seq helpers: the format must hold a NUL within <paramref name="fmtSize"/> bytes,
    /// the arguments come from <paramref name="data"/> (data_len / 8 of them), printing nests at most 3 deep (-EBUSY).
    /// The formatted text, or null with the errno.
    /// </summary>
    internal static byte[]? FormatBounded(ulong fmt, ulong fmtSize, ulong data, ulong dataLen, out Errno error)
    {
        error = Errno.EINVAL;
        if (!ReadArgs(data, dataLen, out var values))
            return null;
        if (fmtSize == 0 || !HelperMemory.CanAccess(fmt, fmtSize, write: false))
            return null;
        var raw = HelperMemory.Bytes(fmt, fmtSize);
        int nul = raw.IndexOf((byte)0);
        if (nul < 0)
            return null;
        var inv = HelperInvocation.Current;
        if (inv is not null && inv.PrintNesting >= MaxNesting)
        {
            error = Errno.EBUSY;
            return null;
        }
        if (inv is not null) inv.PrintNesting++;
        try
        {
            return FormatWith(raw[..nul].ToArray(), values, values.Length);
        }
        finally
        {
            if (inv is not null) inv.PrintNesting--;
        }
    }

    private static bool ReadArgs(ulong args, ulong dataLen, out ulong[] values)
    {
        values = [];
        if (dataLen % 8 != 0 || dataLen > MaxDataLen || (dataLen != 0 && args == 0))
            return false;
        if (!HelperMemory.CanAccess(args, dataLen, write: false))
            return false;
        values = new ulong[dataLen / 8];
        for (int i = 0; i < values.Length; i++)
            values[i] = *(ulong*)(args + (ulong)i * 8);
        return true;
    }

    private static ulong Print(ulong fmt, ulong fmtSize, ulong[] args, int maxArgs)
    {
        var inv = HelperInvocation.Current;
        if (fmtSize == 0 || !HelperMemory.CanAccess(fmt, fmtSize, write: false))
            return BuiltinHelpers.Err(Errno.EINVAL);
        var raw = HelperMemory.Bytes(fmt, fmtSize);
        int nul = raw.IndexOf((byte)0);
        if (nul < 0)
            return BuiltinHelpers.Err(Errno.EINVAL);
        if (inv is not null && inv.PrintNesting >= MaxNesting)
            return BuiltinHelpers.Err(Errno.EBUSY);
        if (inv is not null) inv.PrintNesting++;
        try
        {
            var text = FormatWith(raw[..nul].ToArray(), args, maxArgs);
            if (text is null)
                return BuiltinHelpers.Err(Errno.EINVAL);
            if (inv is not null)
            {
                string message = System.Text.Encoding.Latin1.GetString(text);
                // The trace line is the message without its trailing newline (trace_pipe adds one per event).
                inv.Runtime.TraceLog.Write(inv.Task, "bpf_trace_printk", message.TrimEnd('\n'));
            }
            return (ulong)text.Length;
        }
        finally
        {
            if (inv is not null) inv.PrintNesting--;
        }
    }

    private static byte[]? FormatWith(byte[] format, ulong[] args, int maxArgs) =>
        BprintfFormatter.Format(format, args, maxArgs,
            (address, space) => ReadStringArg(address, space),
            (address, size) => HelperMemory.ReadNoFault(address, (ulong)size));

    private static byte[]? ReadStringArg(ulong address, AddressSpace space)
    {
        var inv = HelperInvocation.Current;
        if (inv is not null && space == AddressSpace.User)
        {
            ulong avail = inv.Runtime.ReadableMemory.ReadableFrom(address, AddressSpace.User);
            if (avail == 0)
                return null;
            var span = HelperMemory.Bytes(address, Math.Min(avail, BprintfFormatter.MaxStringBytes));
            int nul = span.IndexOf((byte)0);
            return (nul < 0 ? span : span[..nul]).ToArray();
        }
        return HelperMemory.ReadCString(address, BprintfFormatter.MaxStringBytes - 1);
    }

    /// <summary>Copies <paramref name="text"/> into the program's buffer as vsnprintf leaves it: at most
    /// <paramref name="strSize"/> - 1 bytes and a NUL. The helper's -EFAULT when the buffer is not writable, else null.</summary>
    internal static ulong? CopyTruncated(ulong str, ulong strSize, ReadOnlySpan<byte> text)
    {
        if (!HelperMemory.CanAccess(str, strSize, write: true))
            return BuiltinHelpers.Err(Errno.EFAULT);
        var dest = HelperMemory.Bytes(str, strSize);
        int n = Math.Min(text.Length, dest.Length - 1);
        text[..n].CopyTo(dest);
        dest[n] = 0;
        return null;
    }
}
