using Ebpf.Runtime.Helpers;

namespace Ebpf.Runtime.Iterators;

/// <summary>
/// bpf_seq_printf (126), bpf_seq_write (127) and bpf_seq_printf_btf (150): the seq_file helpers of iterator programs
/// (kernel/trace/bpf_trace.c). The seq_file argument must be the running iterator's (the verifier typed it as the
/// seq_file of ctx->meta); anything else is -EINVAL.
/// </summary>
internal static class SeqHelpers
{
    public static void Register(HelperRegistry r)
    {
        r.SetBuiltin(Abi.Helpers.HelperId.SeqPrintf, "seq_printf", SeqPrintf);
        r.SetBuiltin(Abi.Helpers.HelperId.SeqWrite, "seq_write", SeqWrite);
        r.SetBuiltin(Abi.Helpers.HelperId.SeqPrintfBtf, "seq_printf_btf", SeqPrintfBtf);
    }

    private const ulong EOVERFLOW = 75;

    private static SeqFile? SeqOf(ulong seq) =>
        HelperInvocation.Current is { IterSeq: { } file } inv && (ulong)inv.IterSeqAddress == seq ? file : null;

    /// <summary>bpf_seq_printf(m, fmt, fmt_size, data, data_len): bpf_bprintf_prepare's rules (-EINVAL), then
    /// seq_bprintf; -EOVERFLOW when the buffer is full.</summary>
    public static ulong SeqPrintf(ulong seq, ulong fmt, ulong fmtSize, ulong data, ulong dataLen)
    {
        var file = SeqOf(seq);
        if (file is null)
            return BuiltinHelpers.Err(Errno.EINVAL);
        if (dataLen % 8 != 0 || dataLen > PrintHelpers.MaxDataLen || (dataLen != 0 && data == 0))
            return BuiltinHelpers.Err(Errno.EINVAL);
        var text = PrintHelpers.FormatBounded(fmt, fmtSize, data, dataLen, out var error);
        if (text is null)
            return BuiltinHelpers.Err(error);
        file.Print(text);
        return file.Overflowed ? unchecked((ulong)-(long)EOVERFLOW) : 0;
    }

    /// <summary>bpf_seq_write(m, data, len): 0, or -EOVERFLOW when it does not fit.</summary>
    public static unsafe ulong SeqWrite(ulong seq, ulong data, ulong len, ulong r4, ulong r5)
    {
        var file = SeqOf(seq);
        if (file is null)
            return BuiltinHelpers.Err(Errno.EINVAL);
        if (len > 0 && !HelperMemory.CanAccess(data, len, write: false))
            return BuiltinHelpers.Err(Errno.EFAULT);
        return file.Write(len == 0 ? default : new ReadOnlySpan<byte>((void*)data, (int)len)) ? 0 : unchecked((ulong)-(long)EOVERFLOW);
    }

    /// <summary>bpf_seq_printf_btf(m, ptr, btf_ptr_size, flags): bpf_btf_printf_prepare's errors as bpf_snprintf_btf's,
    /// then btf_type_seq_show_flags (the text goes in through seq_vprintf; an overflow is seen by the reader).</summary>
    public static ulong SeqPrintfBtf(ulong seq, ulong ptr, ulong btfPtrSize, ulong flags, ulong r5)
    {
        var file = SeqOf(seq);
        if (file is null)
            return BuiltinHelpers.Err(Errno.EINVAL);
        var text = BtfPrintHelpers.Render(ptr, btfPtrSize, flags, out ulong error);
        if (text is null)
            return error;
        file.Print(text);
        return 0;
    }
}
